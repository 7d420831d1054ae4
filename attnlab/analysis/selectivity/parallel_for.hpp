// attnlab/analysis/selectivity/parallel_for.hpp — an OpenMP loop that carries exceptions out.
//
// Exceptions must not escape an OpenMP region. parallel_for(n, body) runs body(i) for i in
// [0, n) on the current OpenMP threads (dynamic schedule: every item writes only its own output
// slots, so the result does not depend on which thread ran it) and rethrows, after the loop, the
// exception of the LOWEST failing index — the same error for any thread count.
//
// Usage:
//   parallel_for(num_heads, [&](Index h) { per_head[h] = measure(h); });
#pragma once

#include "attnlab/core/item_errors.hpp"

namespace attnlab::analysis::selectivity {

template <class Body>
void parallel_for(Index n, Body&& body) {
  ItemErrors errors(n);
#pragma omp parallel for schedule(dynamic, 1)
  for (Index i = 0; i < n; ++i) errors.run(i, [&] { body(i); });
  errors.rethrow_lowest();
}

}  // namespace attnlab::analysis::selectivity
