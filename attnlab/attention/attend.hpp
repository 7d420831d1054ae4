// attnlab/attention/attend.hpp — one entry point for running any AttentionSpec in fp32.
//
// attend() picks the kernel: the fused fp32 path (fused_attention.hpp) when it supports the spec
// and no materialized weights are requested, otherwise the fp64 reference (inputs widened,
// results rounded back to fp32). Kernel::fused and Kernel::reference force a choice (fused on an
// unsupported spec is a UsageError naming what is unsupported).
//
// Outputs: out [H, N, dv] always; lse [H, N] from either kernel (softmax family only, else −∞
// rows are not meaningful and lse is left empty); weights [H, N, M] only when requested (reference
// path); per-row diagnostics when requested (streamed by the fused kernel, computed from the
// weights on the reference path).
//
// Usage:
//   AttendOptions o;  o.diagnostics = true;
//   AttendResult r = attend(q, k, v, spec, o);      // r.kernel says which path ran
#pragma once

#include <optional>
#include <string_view>

#include "attnlab/attention/fused_attention.hpp"
#include "attnlab/attention/row_diagnostics.hpp"
#include "attnlab/attention/spec.hpp"

namespace attnlab::attention {

enum class Kernel { automatic, fused, reference };
std::string_view to_string(Kernel k);
// "auto" | "fused" | "reference"; UsageError otherwise.
Kernel parse_kernel(std::string_view name);

struct AttendOptions {
  Kernel kernel = Kernel::automatic;
  bool weights = false;      // materialize [H, N, M] weights (forces the reference kernel)
  bool diagnostics = false;  // per-row statistics
  FusedOptions fused;        // block sizes / SIMD level for the fused path
};

struct AttendResult {
  Tensor3f out;                       // [H, N, dv]
  MatrixF lse;                        // [H, N] (softmax family), empty otherwise
  Tensor3f weights;                   // [H, N, M] when requested, else empty
  RowDiagnostics diagnostics;         // [H, N] per statistic when requested
  Kernel kernel = Kernel::reference;  // the kernel that ran
};

AttendResult attend(const Tensor3f& q, const Tensor3f& k, const Tensor3f& v,
                    const AttentionSpec& spec, const AttendOptions& options = {});

}  // namespace attnlab::attention
