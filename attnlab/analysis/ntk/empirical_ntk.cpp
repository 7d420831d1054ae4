#include "attnlab/analysis/ntk/empirical_ntk.hpp"

#include <cblas.h>

#include <cmath>

#include "attnlab/core/blas.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/linalg.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/nn/jacobian.hpp"

namespace attnlab::analysis::ntk {
namespace {

// fp32 integer counts are exact below this width.
constexpr Index kExactFloatCounts = Index{1} << 24;

void check_inputs(const nn::Model& net, const MatrixD& x, const char* fn) {
  nn::check_model_input(net, x, fn);
}

// True when every output weight is ±1 (so ā_r = 1 and a_rc·a_rc' = ±1).
bool unit_output_weights(const MatrixD& a) {
  for (Index i = 0; i < a.size(); ++i)
    if (std::abs(a.data()[i]) != 1.0) return false;
  return true;
}

// Sign patterns S [n, m] = 1[x Wᵀ > 0] as 0/1 floats.
MatrixF sign_pattern(const nn::TwoLayerRelu& net, const MatrixD& x, bool fp32_pre) {
  const Index n = x.rows(), D = x.cols(), m = net.width();
  MatrixF s(n, m);
  if (fp32_pre) {
    const MatrixF xf = x.cast<float>();
    const MatrixF wf = net.w().cast<float>();
    gemm(Trans::no, Trans::yes, n, m, D, 1.0f, xf.data(), D, wf.data(), D, 0.0f, s.data(), m);
    float* p = s.data();
    const Index total = n * m;
    for (Index i = 0; i < total; ++i) p[i] = p[i] > 0.0f ? 1.0f : 0.0f;
  } else {
    MatrixD h(n, m);
    gemm(Trans::no, Trans::yes, n, m, D, 1.0, x.data(), D, net.w().data(), D, 0.0, h.data(), m);
    const double* hp = h.data();
    float* p = s.data();
    const Index total = n * m;
    for (Index i = 0; i < total; ++i) p[i] = hp[i] > 0.0 ? 1.0f : 0.0f;
  }
  return s;
}

// counts [n1, n2] = S1 diag(weight) S2ᵀ; weight = nullptr means all ones.
MatrixD weighted_counts(const MatrixF& s1, const MatrixF& s2, const VectorD* weight) {
  const Index n1 = s1.rows(), n2 = s2.rows(), m = s1.cols();
  MatrixD counts(n1, n2);
  if (weight == nullptr && m < kExactFloatCounts) {
    MatrixF cf(n1, n2);
    gemm(Trans::no, Trans::yes, n1, n2, m, 1.0f, s1.data(), m, s2.data(), m, 0.0f, cf.data(), n2);
    counts = cf.cast<double>();
    return counts;
  }
  const MatrixD d1 = s1.cast<double>();
  MatrixD d2 = s2.cast<double>();
  if (weight != nullptr) d2 = d2 * weight->asDiagonal();
  gemm(Trans::no, Trans::yes, n1, n2, m, 1.0, d1.data(), m, d2.data(), m, 0.0, counts.data(), n2);
  return counts;
}

// Same for ±1 weights σ_r: S1 diag(σ) S2ᵀ, exact in fp32 (integers in [−m, m]).
MatrixD signed_counts(const MatrixF& s1, const MatrixF& s2, const VectorD& sigma) {
  const Index n1 = s1.rows(), n2 = s2.rows(), m = s1.cols();
  if (m >= kExactFloatCounts) return weighted_counts(s1, s2, &sigma);
  MatrixF s2s = s2;
  for (Index j = 0; j < n2; ++j)
    for (Index r = 0; r < m; ++r) s2s(j, r) *= static_cast<float>(sigma(r));
  MatrixF cf(n1, n2);
  gemm(Trans::no, Trans::yes, n1, n2, m, 1.0f, s1.data(), m, s2s.data(), m, 0.0f, cf.data(), n2);
  return cf.cast<double>();
}

MatrixD gram(const MatrixD& x1, const MatrixD& x2) {
  MatrixD g(x1.rows(), x2.rows());
  gemm(Trans::no, Trans::yes, x1.rows(), x2.rows(), x1.cols(), 1.0, x1.data(), x1.cols(), x2.data(),
       x2.cols(), 0.0, g.data(), x2.rows());
  return g;
}

void mirror_upper(MatrixD& a) {
  for (Index i = 0; i < a.rows(); ++i)
    for (Index j = 0; j < i; ++j) a(i, j) = a(j, i);
}

VectorD mean_square_weights(const MatrixD& a) {
  return a.array().square().rowwise().mean();
}

}  // namespace

MatrixD empirical_ntk(const nn::TwoLayerRelu& net, const MatrixD& x1, const MatrixD& x2,
                      const StructuredNtkOptions& options) {
  check_inputs(net, x1, "empirical_ntk");
  check_inputs(net, x2, "empirical_ntk");
  const MatrixF s1 = sign_pattern(net, x1, options.fp32_preactivations);
  const MatrixF s2 = sign_pattern(net, x2, options.fp32_preactivations);
  const bool unit = unit_output_weights(net.a());
  const VectorD abar = mean_square_weights(net.a());
  const MatrixD counts = weighted_counts(s1, s2, unit ? nullptr : &abar);
  return gram(x1, x2).cwiseProduct(counts) / static_cast<double>(net.width());
}

MatrixD empirical_ntk(const nn::TwoLayerRelu& net, const MatrixD& x,
                      const StructuredNtkOptions& options) {
  check_inputs(net, x, "empirical_ntk");
  const Index n = x.rows(), D = x.cols(), m = net.width();
  const MatrixF s = sign_pattern(net, x, options.fp32_preactivations);
  MatrixD g(n, n);
  if (n > 0) {
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, static_cast<int>(n), static_cast<int>(D),
                1.0, x.data(), static_cast<int>(D), 0.0, g.data(), static_cast<int>(n));
  }
  MatrixD counts(n, n);
  if (unit_output_weights(net.a()) && m < kExactFloatCounts) {
    MatrixF cf(n, n);
    if (n > 0) {
      cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, static_cast<int>(n), static_cast<int>(m),
                  1.0f, s.data(), static_cast<int>(m), 0.0f, cf.data(), static_cast<int>(n));
    }
    counts = cf.cast<double>();
  } else {
    const VectorD abar = mean_square_weights(net.a());
    counts = weighted_counts(s, s, &abar);
  }
  MatrixD theta(n, n);
  const double inv_m = 1.0 / static_cast<double>(m);
  for (Index i = 0; i < n; ++i)
    for (Index j = i; j < n; ++j) theta(i, j) = g(i, j) * counts(i, j) * inv_m;
  mirror_upper(theta);
  return theta;
}

MatrixD empirical_ntk(const nn::MlpAttn& net, const MatrixD& x1, const MatrixD& x2,
                      const StructuredNtkOptions& options) {
  check_inputs(net, x1, "empirical_ntk");
  check_inputs(net, x2, "empirical_ntk");
  return empirical_ntk(net.mlp(), net.features(x1), net.features(x2), options);
}

MatrixD empirical_ntk(const nn::MlpAttn& net, const MatrixD& x,
                      const StructuredNtkOptions& options) {
  check_inputs(net, x, "empirical_ntk");
  return empirical_ntk(net.mlp(), net.features(x), options);
}

MatrixD empirical_ntk_full(const nn::TwoLayerRelu& net, const MatrixD& x1, const MatrixD& x2) {
  check_inputs(net, x1, "empirical_ntk_full");
  check_inputs(net, x2, "empirical_ntk_full");
  const Index n1 = x1.rows(), n2 = x2.rows(), C = net.output_dim(), m = net.width();
  const MatrixF s1 = sign_pattern(net, x1, false);
  const MatrixF s2 = sign_pattern(net, x2, false);
  const MatrixD g = gram(x1, x2);
  const bool unit = unit_output_weights(net.a());
  MatrixD full(n1 * C, n2 * C);
  const double inv_m = 1.0 / static_cast<double>(m);
  for (Index c = 0; c < C; ++c) {
    for (Index c2 = c; c2 < C; ++c2) {
      const VectorD sigma = net.a().col(c).cwiseProduct(net.a().col(c2));
      const MatrixD counts = unit ? signed_counts(s1, s2, sigma) : weighted_counts(s1, s2, &sigma);
      for (Index i = 0; i < n1; ++i) {
        for (Index j = 0; j < n2; ++j) {
          const double v = g(i, j) * counts(i, j) * inv_m;
          full(i * C + c, j * C + c2) = v;
          full(i * C + c2, j * C + c) = v;
        }
      }
    }
  }
  return full;
}

MatrixD empirical_ntk_full(const nn::MlpAttn& net, const MatrixD& x1, const MatrixD& x2) {
  check_inputs(net, x1, "empirical_ntk_full");
  check_inputs(net, x2, "empirical_ntk_full");
  return empirical_ntk_full(net.mlp(), net.features(x1), net.features(x2));
}

MatrixD jacobian_ntk(const nn::Model& model, const MatrixD& x1, const MatrixD& x2,
                     NtkOutputs outputs) {
  const MatrixD j1 = nn::parameter_jacobian(model, x1);  // [n1*C, P]
  const MatrixD j2 = nn::parameter_jacobian(model, x2);  // [n2*C, P]
  const Index C = model.output_dim();
  MatrixD full(j1.rows(), j2.rows());
  gemm(Trans::no, Trans::yes, j1.rows(), j2.rows(), j1.cols(), 1.0, j1.data(), j1.cols(), j2.data(),
       j2.cols(), 0.0, full.data(), j2.rows());
  if (outputs == NtkOutputs::full) return full;
  const Index n1 = x1.rows(), n2 = x2.rows();
  MatrixD traced = MatrixD::Zero(n1, n2);
  for (Index i = 0; i < n1; ++i)
    for (Index j = 0; j < n2; ++j)
      for (Index c = 0; c < C; ++c) traced(i, j) += full(i * C + c, j * C + c);
  return traced / static_cast<double>(C);
}

double full_ntk_lambda_max(const nn::TwoLayerRelu& net, const MatrixD& x, Index max_iter,
                           double tol) {
  check_inputs(net, x, "full_ntk_lambda_max");
  const Index n = x.rows(), m = net.width(), C = net.output_dim();
  if (n == 0) return 0.0;
  if (C == 1) {
    const VectorD ev = symmetric_eigenvalues(empirical_ntk(net, x), "full_ntk_lambda_max");
    return ev(n - 1);
  }
  const MatrixD s = sign_pattern(net, x, false).cast<double>();  // [n, m]
  const MatrixD g = gram(x, x);                                  // [n, n]
  const MatrixD& a = net.a();                                    // [m, C]
  const double inv_m = 1.0 / static_cast<double>(m);
  // v [n, C] -> Θ v [n, C]:  U = V aᵀ, P = S ⊙ U, Q = G P, out = (S ⊙ Q) a / m.
  auto apply = [&](const MatrixD& v) {
    MatrixD u(n, m);
    gemm(Trans::no, Trans::yes, n, m, C, 1.0, v.data(), C, a.data(), C, 0.0, u.data(), m);
    u = u.cwiseProduct(s);
    MatrixD q(n, m);
    gemm(Trans::no, Trans::no, n, m, n, 1.0, g.data(), n, u.data(), m, 0.0, q.data(), m);
    q = q.cwiseProduct(s);
    MatrixD out(n, C);
    gemm(Trans::no, Trans::no, n, C, m, inv_m, q.data(), m, a.data(), C, 0.0, out.data(), C);
    return out;
  };
  Rng rng(0x9E3779B97F4A7C15ull);
  MatrixD v(n, C);
  for (Index i = 0; i < v.size(); ++i) v.data()[i] = 1.0 + 0.1 * rng.normal();
  v /= v.norm();
  double lambda = 0.0;
  for (Index it = 0; it < max_iter; ++it) {
    const MatrixD w = apply(v);
    const double rq = (v.array() * w.array()).sum();
    const double wn = w.norm();
    if (!std::isfinite(rq) || !(wn > 0.0)) {
      throw NumericError(str_cat("full_ntk_lambda_max: power iteration produced ", rq, " (n=", n,
                                 ", m=", m, ", C=", C, ")"));
    }
    const bool done = it > 0 && std::abs(rq - lambda) <= tol * std::abs(rq);
    lambda = rq;
    v = w / wn;
    if (done) break;
  }
  return lambda;
}

MatrixD monte_carlo_ntk(const MatrixD& x, Index width, Index samples, std::uint64_t seed) {
  if (samples < 1 || width < 1) {
    throw UsageError(str_cat("monte_carlo_ntk: need samples >= 1 and width >= 1, got ", samples,
                             " and ", width));
  }
  MatrixD sum = MatrixD::Zero(x.rows(), x.rows());
  for (Index s = 0; s < samples; ++s) {
    const std::uint64_t net_seed = Rng::stream(seed, static_cast<std::uint64_t>(s)).next_u64();
    const nn::TwoLayerRelu net = nn::TwoLayerRelu::random(x.cols(), width, 1, {}, net_seed);
    sum += empirical_ntk(net, x);
  }
  return sum / static_cast<double>(samples);
}

}  // namespace attnlab::analysis::ntk
