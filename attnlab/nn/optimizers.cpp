#include "attnlab/nn/optimizers.hpp"

#include <cmath>

#include "attnlab/core/error.hpp"

namespace attnlab::nn {
namespace {

void check_sizes(const char* fn, Index expected, Index params, Index grad) {
  if (params != expected || grad != expected) {
    throw UsageError(str_cat(fn, ": optimizer built for P=", expected, " parameters, got params [",
                             params, "] and grad [", grad, "]"));
  }
}

void check_rate(const char* fn, double lr) {
  if (!(lr > 0.0) || !std::isfinite(lr)) {
    throw UsageError(str_cat(fn, ": learning rate must be > 0 and finite, got ", lr));
  }
}

}  // namespace

Adam::Adam(Index num_params, const AdamOptions& options)
    : o_(options), m_(VectorD::Zero(num_params)), v_(VectorD::Zero(num_params)) {
  check_rate("Adam", o_.lr);
  if (!(o_.beta1 >= 0.0 && o_.beta1 < 1.0) || !(o_.beta2 >= 0.0 && o_.beta2 < 1.0)) {
    throw UsageError(str_cat("Adam: betas must lie in [0, 1), got ", o_.beta1, " and ", o_.beta2));
  }
  if (!(o_.eps > 0.0) || !(o_.weight_decay >= 0.0)) {
    throw UsageError(str_cat("Adam: need eps > 0 and weight_decay >= 0, got eps=", o_.eps,
                             " weight_decay=", o_.weight_decay));
  }
}

void Adam::step(ParamMap params, const VectorD& grad) {
  check_sizes("Adam::step", m_.size(), params.size(), grad.size());
  ++t_;
  const double bc1 = 1.0 - std::pow(o_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(o_.beta2, static_cast<double>(t_));
  const double step = o_.lr / bc1;
  const Index P = params.size();
  double* p = params.data();
  const double* g = grad.data();
  double* m = m_.data();
  double* v = v_.data();
  for (Index i = 0; i < P; ++i) {
    const double gi = g[i] + o_.weight_decay * p[i];
    m[i] = o_.beta1 * m[i] + (1.0 - o_.beta1) * gi;
    v[i] = o_.beta2 * v[i] + (1.0 - o_.beta2) * gi * gi;
    p[i] -= step * m[i] / (std::sqrt(v[i] / bc2) + o_.eps);
  }
}

Sgd::Sgd(Index num_params, const SgdOptions& options)
    : o_(options), velocity_(VectorD::Zero(num_params)) {
  check_rate("Sgd", o_.lr);
  if (!(o_.momentum >= 0.0 && o_.momentum < 1.0) || !(o_.weight_decay >= 0.0)) {
    throw UsageError(str_cat("Sgd: need 0 <= momentum < 1 and weight_decay >= 0, got momentum=",
                             o_.momentum, " weight_decay=", o_.weight_decay));
  }
}

void Sgd::step(ParamMap params, const VectorD& grad) {
  check_sizes("Sgd::step", velocity_.size(), params.size(), grad.size());
  ++t_;
  const Index P = params.size();
  double* p = params.data();
  const double* g = grad.data();
  double* vel = velocity_.data();
  const bool momentum = o_.momentum > 0.0;
  for (Index i = 0; i < P; ++i) {
    double gi = g[i] + o_.weight_decay * p[i];
    if (momentum) {
      vel[i] = o_.momentum * vel[i] + gi;
      gi = vel[i];
    }
    p[i] -= o_.lr * gi;
  }
}

}  // namespace attnlab::nn
