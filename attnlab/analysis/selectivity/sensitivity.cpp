#include "attnlab/analysis/selectivity/sensitivity.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnlab/attention/normalizers.hpp"
#include "attnlab/core/error.hpp"

namespace attnlab::analysis::selectivity {
namespace {

using attention::Normalizer;

void compute_weights(const NormalizerSetting& s, std::span<const double> z, FdWorkspace& ws,
                     std::vector<double>& out) {
  ws.logits.resize(z.size());
  out.resize(z.size());
  row_weights(s, z, ws.logits, out);
}

double distance(const std::vector<double>& a, const std::vector<double>& b) {
  double acc = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) acc += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(acc);
}

void check_direction(const char* fn, std::span<const double> z, std::span<const double> v,
                     double eps) {
  if (v.size() != z.size()) {
    throw Error(str_cat(fn, ": direction has ", v.size(), " entries, scores ", z.size()));
  }
  if (!(eps > 0.0) || !std::isfinite(eps)) {
    throw UsageError(str_cat(fn, ": eps must be > 0 and finite, got ", eps));
  }
}

}  // namespace

std::pair<Index, Index> top_two(std::span<const double> z) {
  if (z.size() < 2) throw Error(str_cat("top_two: need >= 2 scores, got ", z.size()));
  Index i1 = 0, i2 = -1;
  for (Index i = 1; i < static_cast<Index>(z.size()); ++i) {
    if (z[i] > z[i1]) {
      i2 = i1;
      i1 = i;
    } else if (i2 < 0 || z[i] > z[i2]) {
      i2 = i;
    }
  }
  return {i1, i2};
}

JacobianStructure jacobian_structure(const NormalizerSetting& s, std::span<const double> z) {
  s.validate();
  const std::size_t L = z.size();
  JacobianStructure j;
  j.scale = logit_scale(s, static_cast<Index>(std::max<std::size_t>(L, 1)));
  std::vector<double> logits(L);
  j.weights.resize(L);
  row_weights(s, z, logits, j.weights);
  j.a.resize(L);
  j.u.resize(L);
  switch (s.normalizer) {
    case Normalizer::softmax:
    case Normalizer::ssmax:
      j.a = j.weights;
      j.u = j.weights;
      j.simplex_weights = true;
      break;
    case Normalizer::sparsemax: {
      double support = 0.0;
      for (double w : j.weights) support += w > 0.0 ? 1.0 : 0.0;
      const double inv = support > 0.0 ? 1.0 / std::sqrt(support) : 0.0;
      for (std::size_t i = 0; i < L; ++i) {
        j.a[i] = j.weights[i] > 0.0 ? 1.0 : 0.0;
        j.u[i] = j.a[i] * inv;
      }
      break;
    }
    case Normalizer::entmax15: {
      double root_sum = 0.0;
      for (double w : j.weights) root_sum += std::sqrt(w);
      const double inv = root_sum > 0.0 ? 1.0 / std::sqrt(root_sum) : 0.0;
      for (std::size_t i = 0; i < L; ++i) {
        j.a[i] = std::sqrt(j.weights[i]);
        j.u[i] = j.a[i] * inv;
      }
      break;
    }
    case Normalizer::none:
      throw UsageError("jacobian_structure: normalizer 'none' is not part of the study");
  }
  return j;
}

double spectral_norm(const JacobianStructure& j, std::span<double> top) {
  const auto L = static_cast<Index>(j.a.size());
  if (!top.empty() && static_cast<Index>(top.size()) != L) {
    throw Error(
        str_cat("spectral_norm: top_vector has ", top.size(), " entries, J is ", L, "x", L));
  }
  if (L == 0) return 0.0;
  const auto& a = j.a;
  const auto& u = j.u;
  auto set_unit = [&](Index i) {
    if (top.empty()) return;
    std::fill(top.begin(), top.end(), 0.0);
    top[i] = 1.0;
  };
  if (L == 1) {
    set_unit(0);
    return j.scale * std::max(0.0, a[0] - u[0] * u[0]);
  }
  // i1 = argmax a, i2 = argmax over the rest (ties: lower index).
  Index i1 = 0;
  for (Index i = 1; i < L; ++i)
    if (a[i] > a[i1]) i1 = i;
  Index i2 = i1 == 0 ? 1 : 0;
  for (Index i = 0; i < L; ++i)
    if (i != i1 && a[i] > a[i2]) i2 = i;
  const double a1 = a[i1], a2 = a[i2];
  double lambda;
  if (a1 == a2) {
    // Tied top entries: u[i2]·e_{i1} − u[i1]·e_{i2} is orthogonal to u, eigenvalue a1 = max.
    lambda = a1;
    if (!top.empty()) {
      std::fill(top.begin(), top.end(), 0.0);
      const double n = std::hypot(u[i1], u[i2]);
      if (n > 0.0) {
        top[i1] = u[i2] / n;
        top[i2] = -u[i1] / n;
      } else {
        top[i1] = 1.0;
      }
    }
  } else if (u[i1] == 0.0) {
    lambda = a1;  // e_{i1} decouples with the largest diagonal entry
    set_unit(i1);
  } else {
    // Root of f(λ) = 1 − Σ u_i² / (a_i − λ), decreasing on (lo_pole, a1).
    double lo_pole = -std::numeric_limits<double>::infinity(), unorm2 = 0.0;
    for (Index i = 0; i < L; ++i) {
      unorm2 += u[i] * u[i];
      if (i != i1 && u[i] != 0.0) lo_pole = std::max(lo_pole, a[i]);
    }
    if (lo_pole == -std::numeric_limits<double>::infinity()) {
      // u vanishes off i1: J/c = diag(a) − u1² e1 e1ᵀ is diagonal.
      lambda = std::max(a1 - u[i1] * u[i1], a2);
      set_unit(lambda == a2 && a2 > a1 - u[i1] * u[i1] ? i2 : i1);
      return j.scale * std::max(lambda, 0.0);
    }
    double lo = j.simplex_weights ? lo_pole : std::max(lo_pole, a1 - unorm2), hi = a1;
    // Both secular functions are written so that they decrease on (lo, hi): f directly, and −g
    // for simplex weights.
    auto eval = [&](double lam, double& deriv) {
      double f = j.simplex_weights ? 0.0 : 1.0;
      deriv = 0.0;
      for (Index i = 0; i < L; ++i) {
        if (u[i] == 0.0) continue;
        const double inv = 1.0 / (a[i] - lam);
        const double t = (j.simplex_weights ? a[i] : u[i] * u[i]) * inv;
        f -= t;
        deriv -= t * inv;
      }
      return f;
    };
    double lam = 0.5 * (lo + hi);
    for (int iter = 0; iter < 400; ++iter) {
      double df;
      const double f = eval(lam, df);
      if (f == 0.0 || !std::isfinite(f)) break;
      if (f > 0.0)
        lo = lam;
      else
        hi = lam;
      double next = lam - f / df;  // Newton, kept inside the bracket
      if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
      const double step = std::abs(next - lam);
      lam = next;
      if (step <= 2e-16 * std::abs(lam) ||
          hi - lo <= 2e-16 * std::max(std::abs(lo), std::abs(hi)) || next == lo || next == hi) {
        break;
      }
    }
    lambda = lam;
    if (a2 > lambda) {
      lambda = a2;  // only possible when u vanishes on i2: e_{i2} decouples
      set_unit(i2);
    } else if (!top.empty()) {
      double n2 = 0.0;
      for (Index i = 0; i < L; ++i) {
        top[i] = u[i] == 0.0 ? 0.0 : u[i] / (a[i] - lambda);
        n2 += top[i] * top[i];
      }
      const double n = std::sqrt(n2);
      if (n > 0.0 && std::isfinite(n)) {
        for (auto& t : top) t /= n;
      } else {
        set_unit(i1);
      }
    }
  }
  return j.scale * std::max(lambda, 0.0);
}

double max_abs_entry(const JacobianStructure& j) {
  double diag = 0.0, u1 = 0.0, u2 = 0.0;
  // Simplex weights: J_ii/c = α_i(1 − α_i), with 1 − α_i of the largest weight taken as the sum
  // of the others (it would round to 0 for a saturated row).
  std::size_t top = 0;
  double rest_of_top = 0.0;
  if (j.simplex_weights && !j.a.empty()) {
    top = static_cast<std::size_t>(std::max_element(j.a.begin(), j.a.end()) - j.a.begin());
    for (std::size_t i = 0; i < j.a.size(); ++i)
      if (i != top) rest_of_top += j.a[i];
  }
  for (std::size_t i = 0; i < j.a.size(); ++i) {
    const double d = !j.simplex_weights ? j.a[i] - j.u[i] * j.u[i]
                     : i == top         ? j.a[i] * rest_of_top
                                        : j.a[i] * (1.0 - j.a[i]);
    diag = std::max(diag, std::abs(d));
    const double au = std::abs(j.u[i]);
    if (au > u1) {
      u2 = u1;
      u1 = au;
    } else if (au > u2) {
      u2 = au;
    }
  }
  return j.scale * std::max(diag, u1 * u2);
}

MatrixD dense_jacobian(const NormalizerSetting& s, std::span<const double> z) {
  s.validate();
  const double c = logit_scale(s, static_cast<Index>(std::max<std::size_t>(z.size(), 1)));
  std::vector<double> logits(z.size());
  for (std::size_t i = 0; i < z.size(); ++i) logits[i] = c * z[i];
  return c * attention::normalizer_jacobian<double>(s.normalizer, logits);
}

double fd_forward(const NormalizerSetting& s, std::span<const double> z, std::span<const double> v,
                  double eps, FdWorkspace& ws) {
  check_direction("fd_forward", z, v, eps);
  compute_weights(s, z, ws, ws.minus);
  ws.z.assign(z.begin(), z.end());
  for (std::size_t i = 0; i < z.size(); ++i) ws.z[i] += eps * v[i];
  compute_weights(s, ws.z, ws, ws.plus);
  return distance(ws.plus, ws.minus) / eps;
}

double fd_central(const NormalizerSetting& s, std::span<const double> z, std::span<const double> v,
                  double eps, FdWorkspace& ws) {
  check_direction("fd_central", z, v, eps);
  ws.z.assign(z.begin(), z.end());
  for (std::size_t i = 0; i < z.size(); ++i) ws.z[i] = z[i] + eps * v[i];
  compute_weights(s, ws.z, ws, ws.plus);
  for (std::size_t i = 0; i < z.size(); ++i) ws.z[i] = z[i] - eps * v[i];
  compute_weights(s, ws.z, ws, ws.minus);
  return distance(ws.plus, ws.minus) / (2.0 * eps);
}

double fd_max_entry(const NormalizerSetting& s, std::span<const double> z,
                    std::span<const Index> columns, double eps, FdWorkspace& ws) {
  if (!(eps > 0.0) || !std::isfinite(eps)) {
    throw UsageError(str_cat("fd_max_entry: eps must be > 0 and finite, got ", eps));
  }
  double best = 0.0;
  for (Index col : columns) {
    if (col < 0 || col >= static_cast<Index>(z.size())) {
      throw Error(str_cat("fd_max_entry: column ", col, " outside [0, ", z.size(), ")"));
    }
    ws.z.assign(z.begin(), z.end());
    ws.z[col] = z[col] + eps;
    compute_weights(s, ws.z, ws, ws.plus);
    ws.z[col] = z[col] - eps;
    compute_weights(s, ws.z, ws, ws.minus);
    for (std::size_t i = 0; i < z.size(); ++i) {
      best = std::max(best, std::abs(ws.plus[i] - ws.minus[i]) / (2.0 * eps));
    }
  }
  return best;
}

}  // namespace attnlab::analysis::selectivity
