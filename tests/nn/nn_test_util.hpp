// tests/nn/nn_test_util.hpp — helpers for the nn/ and analysis/ntk tests: seeded inputs, test
// scale, and central finite-difference checks of Model::backward (parameters and inputs).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "attnlab/core/rng.hpp"
#include "attnlab/core/tensor.hpp"
#include "attnlab/nn/model.hpp"

namespace attnlab::testing {

// ATTNLAB_TEST_SCALE=small (sanitizer CI) shrinks sizes and loops.
inline bool small_scale() {
  const char* s = std::getenv("ATTNLAB_TEST_SCALE");
  return s != nullptr && std::strcmp(s, "small") == 0;
}

// [n, D] rows with N(mean, 1) entries scaled to unit l2 norm (mean > 0 mimics image data).
inline MatrixD random_unit_rows(Index n, Index d, std::uint64_t seed, double mean = 0.0) {
  MatrixD x(n, d);
  Rng rng(seed);
  rng.fill_normal(x.data(), x.size(), mean, 1.0);
  for (Index i = 0; i < n; ++i) x.row(i) /= x.row(i).norm();
  return x;
}

// s(θ, X) = Σ d_out ⊙ f(X). Returns max |analytic − FD| / max(1, max|FD|) over all parameters.
inline double fd_param_error(nn::Model& model, const MatrixD& x, const MatrixD& d_out,
                             double eps = 1e-6) {
  std::unique_ptr<nn::ModelCache> cache;
  model.forward(x, cache);
  VectorD g;
  model.backward(*cache, d_out, &g, nullptr);
  auto s = [&]() { return (model.forward(x).array() * d_out.array()).sum(); };
  double err = 0.0, scale = 1.0;
  auto p = model.params();
  for (Index i = 0; i < p.size(); ++i) {
    const double keep = p(i);
    p(i) = keep + eps;
    const double up = s();
    p(i) = keep - eps;
    const double down = s();
    p(i) = keep;
    const double fd = (up - down) / (2 * eps);
    err = std::max(err, std::abs(fd - g(i)));
    scale = std::max(scale, std::abs(fd));
  }
  return err / scale;
}

// Same for the inputs: max |∂s/∂X − FD| / max(1, max|FD|).
inline double fd_input_error(const nn::Model& model, const MatrixD& x, const MatrixD& d_out,
                             double eps = 1e-6) {
  std::unique_ptr<nn::ModelCache> cache;
  model.forward(x, cache);
  MatrixD dx;
  model.backward(*cache, d_out, nullptr, &dx);
  double err = 0.0, scale = 1.0;
  MatrixD xp = x;
  for (Index i = 0; i < x.size(); ++i) {
    const double keep = xp.data()[i];
    xp.data()[i] = keep + eps;
    const double up = (model.forward(xp).array() * d_out.array()).sum();
    xp.data()[i] = keep - eps;
    const double down = (model.forward(xp).array() * d_out.array()).sum();
    xp.data()[i] = keep;
    const double fd = (up - down) / (2 * eps);
    err = std::max(err, std::abs(fd - dx.data()[i]));
    scale = std::max(scale, std::abs(fd));
  }
  return err / scale;
}

inline MatrixD random_matrix(Index r, Index c, std::uint64_t seed) {
  MatrixD m(r, c);
  Rng rng(seed);
  rng.fill_normal(m.data(), m.size());
  return m;
}

}  // namespace attnlab::testing
