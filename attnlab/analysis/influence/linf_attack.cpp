#include "attnlab/analysis/influence/linf_attack.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include "attnlab/core/error.hpp"

namespace attnlab::analysis::influence {
namespace {

// ∇_x Σ_b ℓ(f(x_b), y_b) [B, D].
MatrixD loss_input_gradient(const nn::Model& model, const MatrixD& x, const nn::Targets& targets,
                            nn::LossKind loss) {
  std::unique_ptr<nn::ModelCache> cache;
  const MatrixD out = model.forward(x, cache);
  MatrixD d_out;
  nn::loss_value(loss, out, targets, &d_out);
  d_out *= static_cast<double>(x.rows());  // the sum, not the mean, of the row losses
  MatrixD d_x;
  model.backward(*cache, d_out, nullptr, &d_x);
  return d_x;
}

double sign(double v) {
  return v > 0.0 ? 1.0 : (v < 0.0 ? -1.0 : 0.0);
}

void step_and_project(MatrixD& x, const MatrixD& direction, const MatrixD& x0, double alpha,
                      double eps) {
  for (Index i = 0; i < x.size(); ++i) {
    double v = x.data()[i] + alpha * sign(direction.data()[i]);
    v = std::clamp(v, x0.data()[i] - eps, x0.data()[i] + eps);
    x.data()[i] = std::clamp(v, 0.0, 1.0);
  }
}

}  // namespace

std::string_view to_string(AttackKind k) {
  switch (k) {
    case AttackKind::fgsm:
      return "fgsm";
    case AttackKind::pgd:
      return "pgd";
    case AttackKind::mim:
      return "mim";
  }
  return "?";
}

AttackKind parse_attack_kind(std::string_view name) {
  if (name == "fgsm") return AttackKind::fgsm;
  if (name == "pgd") return AttackKind::pgd;
  if (name == "mim") return AttackKind::mim;
  throw UsageError(str_cat("unknown attack '", name, "'; valid: fgsm, pgd, mim"));
}

MatrixD linf_attack(const nn::Model& model, const MatrixD& x, const nn::Targets& targets,
                    nn::LossKind loss, const AttackOptions& o) {
  if (!(o.epsilon >= 0.0) || !std::isfinite(o.epsilon)) {
    throw UsageError(str_cat("linf_attack: epsilon must be >= 0, got ", o.epsilon));
  }
  if (o.steps < 1) throw UsageError(str_cat("linf_attack: steps must be >= 1, got ", o.steps));
  nn::check_model_input(model, x, "linf_attack");
  if (targets.rows() != x.rows()) {
    throw UsageError(str_cat("linf_attack: ", x.rows(), " rows but ", targets.rows(), " targets"));
  }
  MatrixD adv = x;
  if (o.epsilon == 0.0 || x.rows() == 0) return adv;
  if (o.kind == AttackKind::fgsm) {
    step_and_project(adv, loss_input_gradient(model, adv, targets, loss), x, o.epsilon, o.epsilon);
    return adv;
  }
  if (o.kind == AttackKind::pgd) {
    const double alpha = o.step_fraction * o.epsilon;
    for (Index s = 0; s < o.steps; ++s) {
      step_and_project(adv, loss_input_gradient(model, adv, targets, loss), x, alpha, o.epsilon);
    }
    return adv;
  }
  const double alpha = o.epsilon / static_cast<double>(o.steps);
  MatrixD g = MatrixD::Zero(x.rows(), x.cols());
  for (Index s = 0; s < o.steps; ++s) {
    const MatrixD grad = loss_input_gradient(model, adv, targets, loss);
    for (Index b = 0; b < x.rows(); ++b) {
      const double l1 = grad.row(b).cwiseAbs().sum();
      g.row(b) = o.momentum * g.row(b) + grad.row(b) / (l1 > 0.0 ? l1 : 1.0);
    }
    step_and_project(adv, g, x, alpha, o.epsilon);
  }
  return adv;
}

}  // namespace attnlab::analysis::influence
