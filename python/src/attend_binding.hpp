// python/src/attend_binding.hpp — attnlab._attnlab.attend / attend_backward.
//
// The module-level functions behind attnlab.attend() and attnlab.attend_backward()
// (python/attnlab/__init__.py does the shape handling: [N, d], [H, N, d], [B, H, N, d]):
//   attend(q, k, v, spec, kernel, diagnostics) -> dict(out, lse, kernel[, diagnostics])
//   attend_backward(q, k, v, out, lse, dout, spec) -> (dq, dk, dv)
// float32 arrays run attention::attend (fused kernel when it supports the spec, else the fp64
// reference rounded back) and the fused backward; float64 arrays run the fp64 reference forward
// and backward (for gradcheck). `spec` is "" (plain softmax), a JSON object (AttentionSpec JSON)
// or the CLI's --attention language ("causal,window=256,sinks=4"). The GIL is released while
// the kernels run.
#pragma once

#include <nanobind/nanobind.h>

#include "attnlab/attention/row_diagnostics.hpp"

namespace attnlab::python {

// The row statistics as a dict of [H, N] arrays (entropy, norm_entropy, sink_mass, max_weight,
// below_1pct_max, wasted_share, wasted_mass, top8_mass, visible), moved out without copies.
nanobind::dict diagnostics_dict(attention::RowDiagnostics&& d);

void bind_attend(nanobind::module_& m);

}  // namespace attnlab::python
