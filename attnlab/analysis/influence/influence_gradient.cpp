#include "attnlab/analysis/influence/influence_gradient.hpp"

#include <cmath>

#include "attnlab/core/error.hpp"

namespace attnlab::analysis::influence {

KernelGradient influence_kernel_gradient(const KernelInfluence& inf, const MatrixD& k_test_train,
                                         const InfluenceTargets& targets, Index t, Index i,
                                         InfluenceTarget target) {
  const Index n = inf.size(), outputs = inf.alpha().cols();
  if (t < 0 || t >= k_test_train.rows() || i < 0 || i >= n || k_test_train.cols() != n) {
    throw UsageError(str_cat("influence_kernel_gradient: test row ", t, " / training point ", i,
                             " out of range for k_test_train [", k_test_train.rows(), ", ",
                             k_test_train.cols(), "], n = ", n));
  }
  const MatrixD& a = inf.inverse();
  const MatrixD& alpha = inf.alpha();
  const VectorD k = k_test_train.row(t).transpose();  // [n]
  const VectorD b = a * k;                            // [n] (A symmetric)
  const VectorD f = alpha.transpose() * k;            // [C]
  const double a_ii = a(i, i);
  const VectorD alpha_i = alpha.row(i).transpose();  // [C]
  const VectorD f_loo = f - (b(i) / a_ii) * alpha_i;
  VectorD g0(outputs), g1(outputs);
  const double l0 = target_loss(target, f.data(), outputs, targets, t, g0.data());
  const double l1 = target_loss(target, f_loo.data(), outputs, targets, t, g1.data());
  const VectorD h = g1 - g0;
  const double s = g1.dot(alpha_i);
  const VectorD a_i = a.col(i);
  const VectorD alpha_h = alpha * h;    // [n]
  const VectorD alpha_g1 = alpha * g1;  // [n]
  KernelGradient out;
  out.value = l1 - l0;
  out.d_k_query = MatrixD::Zero(k_test_train.rows(), n);
  out.d_k_query.row(t) = (alpha_h - (s / a_ii) * a_i).transpose();
  out.d_k_train = -b * alpha_h.transpose() + (s / a_ii) * b * a_i.transpose() +
                  (b(i) / a_ii) * a_i * alpha_g1.transpose() -
                  (b(i) * s / (a_ii * a_ii)) * a_i * a_i.transpose();
  return out;
}

KernelGradient validation_loss_gradient(const KernelInfluence& inf, const MatrixD& k_val_train,
                                        const nn::Targets& val_targets, ValidationLoss loss) {
  const MatrixD f = inf.predict(k_val_train);  // [T, C]
  MatrixD g;
  KernelGradient out;
  if (loss == ValidationLoss::cross_entropy) {
    out.value = nn::cross_entropy_loss(f, val_targets.labels, &g);
  } else if (loss == ValidationLoss::logistic) {
    if (f.cols() != 1) throw UsageError("validation_loss_gradient: logistic needs one output");
    const Index t_rows = f.rows();
    g.resize(t_rows, 1);
    out.value = 0.0;
    for (Index t = 0; t < t_rows; ++t) {
      const double y = val_targets.labels[static_cast<std::size_t>(t)] == 1 ? 1.0 : -1.0;
      const double z = -y * f(t, 0);  // loss log(1 + e^z), stable for both signs
      out.value += (z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z))) / t_rows;
      const double sig = z > 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
      g(t, 0) = -y * sig / static_cast<double>(t_rows);
    }
  } else {
    out.value = nn::mse_loss(f, val_targets.values, &g);
  }
  out.d_k_query = g * inf.alpha().transpose();                     // [T, n]
  const MatrixD b = inf.leverage_rows(k_val_train);                // [T, n] = K* A
  out.d_k_train = -(b.transpose() * g) * inf.alpha().transpose();  // [n, n]
  return out;
}

}  // namespace attnlab::analysis::influence
