#include "attnlab/analysis/ntk/kernel_metrics.hpp"

#include <array>
#include <cmath>
#include <limits>

#include "attnlab/core/error.hpp"

namespace attnlab::analysis::ntk {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_same_shape(const MatrixD& a, const MatrixD& b, const char* fn) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) {
    throw UsageError(str_cat(fn, ": kernels differ in shape: [", a.rows(), ", ", a.cols(), "] vs [",
                             b.rows(), ", ", b.cols(), "]"));
  }
}
}  // namespace

KernelReference make_kernel_reference(MatrixD theta_inf) {
  KernelReference r;
  r.frobenius = theta_inf.norm();
  const VectorD ev = symmetric_eigenvalues(theta_inf, "kernel reference Θ∞");
  r.spectrum = summarize_spectrum(ev, theta_inf.rows(), theta_inf.rows());
  r.kernel = std::move(theta_inf);
  return r;
}

KernelDeviation kernel_deviation(const MatrixD& theta_m, const KernelReference& ref) {
  check_same_shape(theta_m, ref.kernel, "kernel_deviation");
  const MatrixD diff = theta_m - ref.kernel;
  KernelDeviation d;
  d.rel_frob = ref.frobenius > 0.0 ? diff.norm() / ref.frobenius : kNaN;
  d.spec_norm = symmetric_spectral_norm(diff, "kernel_deviation: Θ_m − Θ∞");
  d.spec_ratio = ref.spectrum.resolved ? d.spec_norm / ref.spectrum.lambda_min : kNaN;
  return d;
}

double relative_frobenius(const MatrixD& a, const MatrixD& reference) {
  check_same_shape(a, reference, "relative_frobenius");
  const double r = reference.norm();
  return r > 0.0 ? (a - reference).norm() / r : kNaN;
}

double kernel_drift(const MatrixD& theta_t, const MatrixD& theta_0) {
  return relative_frobenius(theta_t, theta_0);
}

SlopeFit fit_loglog_slope(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size()) {
    throw UsageError(str_cat("fit_loglog_slope: ", x.size(), " x values but ", y.size(), " y"));
  }
  std::vector<double> lx, ly;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] > 0.0 && y[i] > 0.0 && std::isfinite(x[i]) && std::isfinite(y[i])) {
      lx.push_back(std::log10(x[i]));
      ly.push_back(std::log10(y[i]));
    }
  }
  const auto k = static_cast<Index>(lx.size());
  if (k < 2) {
    throw UsageError(str_cat("fit_loglog_slope: need >= 2 positive finite points, got ", k));
  }
  double mx = 0, my = 0;
  for (Index i = 0; i < k; ++i) mx += lx[i], my += ly[i];
  mx /= k;
  my /= k;
  double sxx = 0, sxy = 0, syy = 0;
  for (Index i = 0; i < k; ++i) {
    sxx += (lx[i] - mx) * (lx[i] - mx);
    sxy += (lx[i] - mx) * (ly[i] - my);
    syy += (ly[i] - my) * (ly[i] - my);
  }
  if (!(sxx > 0.0)) throw UsageError("fit_loglog_slope: all x values are equal");
  SlopeFit f;
  f.points = k;
  f.slope = sxy / sxx;
  f.intercept = my - f.slope * mx;
  f.r2 = syy > 0.0 ? (sxy * sxy) / (sxx * syy) : 1.0;
  return f;
}

double bernstein_width(double l_bound, double lambda_max, double lambda_min, Index n,
                       double delta) {
  if (!(delta > 0.0 && delta < 1.0)) {
    throw UsageError(str_cat("bernstein_width: delta must lie in (0, 1), got ", delta));
  }
  if (!(lambda_min > 0.0) || n < 1) return std::numeric_limits<double>::infinity();
  return 8.0 * l_bound * (lambda_max + lambda_min / 3.0) *
         std::log(2.0 * static_cast<double>(n) / delta) / (lambda_min * lambda_min);
}

double empirical_threshold_width(const SlopeFit& fit, double level) {
  if (!(fit.slope < 0.0) || !(level > 0.0)) return kNaN;
  return std::pow(10.0, (std::log10(level) - fit.intercept) / fit.slope);
}

double student_t_975(Index dof) {
  static constexpr std::array<double, 30> kTable = {
      12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
      2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
      2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (dof < 1) throw UsageError(str_cat("student_t_975: dof must be >= 1, got ", dof));
  if (dof <= 30) return kTable[static_cast<std::size_t>(dof - 1)];
  // Cornish–Fisher expansion around the normal quantile.
  const double z = 1.959963984540054, v = static_cast<double>(dof);
  return z + (z * z * z + z) / (4 * v) +
         (5 * std::pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * v * v);
}

SampleStats sample_stats(const std::vector<double>& values) {
  SampleStats s;
  double sum = 0.0;
  for (const double v : values)
    if (std::isfinite(v)) sum += v, ++s.count;
  if (s.count == 0) {
    s.mean = s.stddev = s.ci_low = s.ci_high = kNaN;
    return s;
  }
  s.mean = sum / static_cast<double>(s.count);
  if (s.count == 1) {
    s.stddev = 0.0;
    s.ci_low = s.ci_high = s.mean;
    return s;
  }
  double ss = 0.0;
  for (const double v : values)
    if (std::isfinite(v)) ss += (v - s.mean) * (v - s.mean);
  s.stddev = std::sqrt(ss / static_cast<double>(s.count - 1));
  const double half =
      student_t_975(s.count - 1) * s.stddev / std::sqrt(static_cast<double>(s.count));
  s.ci_low = s.mean - half;
  s.ci_high = s.mean + half;
  return s;
}

nlohmann::json json_number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

double number_from_json(const nlohmann::json& j) {
  if (j.is_null()) return kNaN;
  if (!j.is_number()) throw FormatError(str_cat("expected a number or null, got ", j.dump()));
  return j.get<double>();
}

nlohmann::json to_json(const SpectrumSummary& s) {
  return {{"n", s.n},
          {"lambda_max", json_number(s.lambda_max)},
          {"lambda_min", json_number(s.lambda_min)},
          {"tolerance", json_number(s.tolerance)},
          {"rank", s.rank},
          {"kappa", json_number(s.kappa)},
          {"kappa_error", json_number(s.kappa_error)},
          {"resolved", s.resolved},
          {"k", s.k},
          {"lambda_k", json_number(s.lambda_k)},
          {"kappa_k", json_number(s.kappa_k)},
          {"kappa_k_error", json_number(s.kappa_k_error)},
          {"kappa_k_resolved", s.kappa_k_resolved},
          {"kappa_rank", json_number(s.kappa_rank)}};
}

SpectrumSummary spectrum_from_json(const nlohmann::json& j) {
  SpectrumSummary s;
  s.n = j.at("n").get<Index>();
  s.lambda_max = number_from_json(j.at("lambda_max"));
  s.lambda_min = number_from_json(j.at("lambda_min"));
  s.tolerance = number_from_json(j.at("tolerance"));
  s.rank = j.at("rank").get<Index>();
  s.kappa = number_from_json(j.at("kappa"));
  s.kappa_error = number_from_json(j.at("kappa_error"));
  s.resolved = j.at("resolved").get<bool>();
  s.k = j.at("k").get<Index>();
  s.lambda_k = number_from_json(j.at("lambda_k"));
  s.kappa_k = number_from_json(j.at("kappa_k"));
  s.kappa_k_error = number_from_json(j.at("kappa_k_error"));
  s.kappa_k_resolved = j.at("kappa_k_resolved").get<bool>();
  s.kappa_rank = number_from_json(j.at("kappa_rank"));
  return s;
}

nlohmann::json to_json(const SlopeFit& f) {
  return {{"slope", json_number(f.slope)},
          {"intercept", json_number(f.intercept)},
          {"r2", json_number(f.r2)},
          {"points", f.points}};
}

SlopeFit slope_fit_from_json(const nlohmann::json& j) {
  SlopeFit f;
  f.slope = number_from_json(j.at("slope"));
  f.intercept = number_from_json(j.at("intercept"));
  f.r2 = number_from_json(j.at("r2"));
  f.points = j.at("points").get<Index>();
  return f;
}

}  // namespace attnlab::analysis::ntk
