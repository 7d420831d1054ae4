#include "attnlab/attention/attend.hpp"

#include <cmath>
#include <limits>

#include "attnlab/attention/reference_attention.hpp"
#include "attnlab/core/error.hpp"

namespace attnlab::attention {

std::string_view to_string(Kernel k) {
  switch (k) {
    case Kernel::automatic:
      return "auto";
    case Kernel::fused:
      return "fused";
    case Kernel::reference:
      return "reference";
  }
  return "unknown";
}

Kernel parse_kernel(std::string_view name) {
  if (name == "auto") return Kernel::automatic;
  if (name == "fused") return Kernel::fused;
  if (name == "reference") return Kernel::reference;
  throw UsageError(str_cat("unknown kernel '", name, "' (expected auto, fused or reference)"));
}

AttendResult attend(const Tensor3f& q, const Tensor3f& k, const Tensor3f& v,
                    const AttentionSpec& spec, const AttendOptions& options) {
  std::string why;
  const bool fusable = fused_supports(spec, &why);
  Kernel kernel = options.kernel;
  if (kernel == Kernel::automatic)
    kernel = fusable && !options.weights ? Kernel::fused : Kernel::reference;
  if (kernel == Kernel::fused && options.weights) {
    throw UsageError(
        "attend: the fused kernel never materializes weights; use the reference kernel");
  }
  AttendResult r;
  r.kernel = kernel;
  if (kernel == Kernel::fused) {
    FusedOptions fo = options.fused;
    fo.diagnostics = options.diagnostics;
    FusedForward f =
        attention_forward_fused(q, k, v, spec, fo);  // throws with `why` if unsupported
    r.out = std::move(f.out);
    r.lse = std::move(f.lse);
    r.diagnostics = std::move(f.diagnostics);
    return r;
  }
  const ReferenceForward f =
      attention_forward_reference(q.cast<double>(), k.cast<double>(), v.cast<double>(), spec);
  r.out = f.out.cast<float>();
  if (spec.is_softmax_family()) r.lse = log_sum_exp_rows(f.logits).cast<float>();
  if (options.weights) r.weights = f.weights.cast<float>();
  if (options.diagnostics) r.diagnostics = row_diagnostics_reference(f);
  return r;
}

}  // namespace attnlab::attention
