// attnlab/core/item_errors.hpp — carries exceptions out of an OpenMP region.
//
// Exceptions must not escape an OpenMP region. Each item of a parallel loop runs through
// run(i, fn), which catches into item i's own slot; after the region, rethrow_lowest() rethrows
// the exception of the LOWEST failing item, so the error is the same for any thread count.
//
// Usage:
//   ItemErrors errors(n);
//   #pragma omp parallel for schedule(static)
//   for (Index i = 0; i < n; ++i) errors.run(i, [&] { out[i] = work(i); });
//   errors.rethrow_lowest();
#pragma once

#include <exception>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab {

class ItemErrors {
 public:
  explicit ItemErrors(Index n) : slots_(static_cast<std::size_t>(n > 0 ? n : 0)) {}

  // fn() for item i; an exception it throws is kept for rethrow_lowest().
  template <class Fn>
  void run(Index i, Fn&& fn) noexcept {
    try {
      fn();
    } catch (...) {
      slots_[static_cast<std::size_t>(i)] = std::current_exception();
    }
  }

  void rethrow_lowest() const {
    for (const auto& e : slots_)
      if (e) std::rethrow_exception(e);
  }

 private:
  std::vector<std::exception_ptr> slots_;
};

}  // namespace attnlab
