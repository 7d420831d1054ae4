#include "attnlab/nn/model.hpp"

#include <algorithm>

#include "attnlab/core/error.hpp"

namespace attnlab::nn {

void check_model_input(const Model& model, const MatrixD& x, const char* fn) {
  if (x.cols() != model.input_dim()) {
    throw UsageError(str_cat(fn, ": ", model.name(), " model expects inputs with D=",
                             model.input_dim(), " columns, got [", x.rows(), ", ", x.cols(), "]"));
  }
}

MatrixD predict(const Model& model, const MatrixD& x, Index block) {
  check_model_input(model, x, "predict");
  if (block <= 0) throw UsageError(str_cat("predict: block must be > 0, got ", block));
  MatrixD out(x.rows(), model.output_dim());
  for (Index b0 = 0; b0 < x.rows(); b0 += block) {
    const Index rows = std::min(block, x.rows() - b0);
    out.middleRows(b0, rows) = model.forward(x.middleRows(b0, rows));
  }
  return out;
}

std::vector<int> predicted_classes(const MatrixD& outputs) {
  std::vector<int> cls(static_cast<std::size_t>(outputs.rows()));
  for (Index b = 0; b < outputs.rows(); ++b) {
    if (outputs.cols() == 1) {
      cls[b] = outputs(b, 0) > 0.0 ? 1 : 0;
    } else {
      Index best = 0;
      outputs.row(b).maxCoeff(&best);
      cls[b] = static_cast<int>(best);
    }
  }
  return cls;
}

double accuracy(const MatrixD& outputs, const std::vector<int>& labels) {
  if (static_cast<Index>(labels.size()) != outputs.rows()) {
    throw UsageError(
        str_cat("accuracy: ", outputs.rows(), " output rows but ", labels.size(), " labels"));
  }
  if (labels.empty()) return 0.0;
  const std::vector<int> cls = predicted_classes(outputs);
  Index hits = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) hits += cls[i] == labels[i] ? 1 : 0;
  return static_cast<double>(hits) / static_cast<double>(labels.size());
}

}  // namespace attnlab::nn
