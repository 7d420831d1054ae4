#include "attnlab/nn/losses.hpp"

#include <cmath>

#include "attnlab/core/error.hpp"

namespace attnlab::nn {

std::string_view to_string(TargetEncoding e) {
  switch (e) {
    case TargetEncoding::one_hot:
      return "onehot";
    case TargetEncoding::centered_one_hot:
      return "centered";
    case TargetEncoding::plus_minus_one:
      return "pm1";
  }
  return "?";
}

std::string_view to_string(LossKind k) {
  return k == LossKind::mse ? "mse" : "ce";
}

TargetEncoding parse_target_encoding(std::string_view name) {
  if (name == "onehot") return TargetEncoding::one_hot;
  if (name == "centered") return TargetEncoding::centered_one_hot;
  if (name == "pm1") return TargetEncoding::plus_minus_one;
  throw UsageError(str_cat("unknown target encoding '", name, "'; valid: onehot, centered, pm1"));
}

LossKind parse_loss(std::string_view name) {
  if (name == "mse") return LossKind::mse;
  if (name == "ce") return LossKind::cross_entropy;
  throw UsageError(str_cat("unknown loss '", name, "'; valid: mse, ce"));
}

Targets Targets::subset(const std::vector<Index>& idx) const {
  Targets t;
  t.classes = classes;
  t.encoding = encoding;
  t.values.resize(static_cast<Index>(idx.size()), values.cols());
  t.labels.resize(idx.size());
  for (std::size_t i = 0; i < idx.size(); ++i) {
    t.values.row(static_cast<Index>(i)) = values.row(idx[i]);
    t.labels[i] = labels[static_cast<std::size_t>(idx[i])];
  }
  return t;
}

Index output_count(Index classes, TargetEncoding encoding) {
  return encoding == TargetEncoding::plus_minus_one ? 1 : classes;
}

Targets encode_targets(const std::vector<int>& labels, Index classes, TargetEncoding encoding) {
  if (classes < 2) throw UsageError(str_cat("encode_targets: need >= 2 classes, got ", classes));
  if (encoding == TargetEncoding::plus_minus_one && classes != 2) {
    throw UsageError(str_cat("encode_targets: the pm1 encoding is for 2 classes, got ", classes,
                             " (use onehot or centered)"));
  }
  Targets t;
  t.classes = classes;
  t.encoding = encoding;
  t.labels = labels;
  const auto n = static_cast<Index>(labels.size());
  t.values = MatrixD::Zero(n, output_count(classes, encoding));
  const double shift = encoding == TargetEncoding::centered_one_hot ? 1.0 / classes : 0.0;
  for (Index i = 0; i < n; ++i) {
    const int y = labels[static_cast<std::size_t>(i)];
    if (y < 0 || y >= classes) {
      throw UsageError(
          str_cat("encode_targets: label ", y, " at row ", i, " is outside 0..", classes - 1));
    }
    if (encoding == TargetEncoding::plus_minus_one) {
      t.values(i, 0) = y == 1 ? 1.0 : -1.0;
    } else {
      for (Index c = 0; c < classes; ++c) t.values(i, c) = (c == y ? 1.0 : 0.0) - shift;
    }
  }
  return t;
}

double mse_loss(const MatrixD& out, const MatrixD& y, MatrixD* grad) {
  if (out.rows() != y.rows() || out.cols() != y.cols()) {
    throw UsageError(str_cat("mse_loss: outputs [", out.rows(), ", ", out.cols(), "] and targets [",
                             y.rows(), ", ", y.cols(), "] differ"));
  }
  const Index B = out.rows();
  if (B == 0) {
    if (grad) grad->resize(0, out.cols());
    return 0.0;
  }
  const MatrixD r = out - y;
  if (grad != nullptr) *grad = r / static_cast<double>(B);
  return 0.5 * r.squaredNorm() / static_cast<double>(B);
}

double cross_entropy_loss(const MatrixD& logits, const std::vector<int>& labels, MatrixD* grad) {
  const Index B = logits.rows(), C = logits.cols();
  if (C < 2) throw UsageError(str_cat("cross_entropy_loss: needs >= 2 logits per row, got ", C));
  if (static_cast<Index>(labels.size()) != B) {
    throw UsageError(str_cat("cross_entropy_loss: ", B, " rows but ", labels.size(), " labels"));
  }
  if (grad != nullptr) grad->resize(B, C);
  double total = 0.0;
  for (Index b = 0; b < B; ++b) {
    const int y = labels[static_cast<std::size_t>(b)];
    if (y < 0 || y >= C) {
      throw UsageError(
          str_cat("cross_entropy_loss: label ", y, " at row ", b, " is outside 0..", C - 1));
    }
    const double mx = logits.row(b).maxCoeff();
    double sum = 0.0;
    for (Index c = 0; c < C; ++c) sum += std::exp(logits(b, c) - mx);
    const double lse = mx + std::log(sum);
    total += lse - logits(b, y);
    if (grad != nullptr) {
      for (Index c = 0; c < C; ++c) {
        (*grad)(b, c) = (std::exp(logits(b, c) - lse) - (c == y ? 1.0 : 0.0)) / B;
      }
    }
  }
  return B > 0 ? total / static_cast<double>(B) : 0.0;
}

double loss_value(LossKind kind, const MatrixD& out, const Targets& targets, MatrixD* grad) {
  if (kind == LossKind::mse) return mse_loss(out, targets.values, grad);
  if (targets.encoding == TargetEncoding::plus_minus_one) {
    throw UsageError(
        "loss_value: cross-entropy needs one logit per class (onehot or centered "
        "targets), not the single-output pm1 encoding");
  }
  return cross_entropy_loss(out, targets.labels, grad);
}

}  // namespace attnlab::nn
