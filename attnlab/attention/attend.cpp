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
  if (spec.is_softmax_family()) {
    const Index H = f.logits.dim0(), N = f.logits.dim1(), M = f.logits.dim2();
    r.lse = MatrixF::Constant(H, N, -std::numeric_limits<float>::infinity());
    for (Index h = 0; h < H; ++h)
      for (Index i = 0; i < N; ++i) {
        double mx = -std::numeric_limits<double>::infinity();
        for (Index j = 0; j < M; ++j) mx = std::max(mx, f.logits(h, i, j));
        if (std::isinf(mx)) continue;
        double sum = 0.0;
        for (Index j = 0; j < M; ++j) sum += std::exp(f.logits(h, i, j) - mx);
        r.lse(h, i) = static_cast<float>(mx + std::log(sum));
      }
  }
  if (options.weights) r.weights = f.weights.cast<float>();
  if (options.diagnostics) r.diagnostics = row_diagnostics_reference(f);
  return r;
}

}  // namespace attnlab::attention
