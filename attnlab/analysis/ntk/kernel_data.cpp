#include "attnlab/analysis/ntk/kernel_data.hpp"

#include <algorithm>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/nn/attention_features.hpp"

namespace attnlab::analysis::ntk {

std::string_view to_string(ModelKind k) {
  return k == ModelKind::relu ? "relu" : "attn";
}

std::string_view model_label(ModelKind k) {
  return k == ModelKind::relu ? "2L-ReLU" : "MLP-Attn";
}

ModelKind parse_model_kind(std::string_view name) {
  if (name == "relu") return ModelKind::relu;
  if (name == "attn") return ModelKind::attn;
  throw UsageError(str_cat("unknown model '", name, "'; valid: relu (2L-ReLU), attn (MLP-Attn)"));
}

KernelData load_kernel_data(const io::DataOptions& base, Index n_train, Index n_test) {
  if (n_train < 1 || n_test < 0) {
    throw UsageError(str_cat("load_kernel_data: need n_train >= 1 and n_test >= 0, got ", n_train,
                             " and ", n_test));
  }
  KernelData d;
  if (base.x_path.empty()) {
    io::DataOptions tr = base;
    tr.split = "train";
    tr.n = n_train;
    io::StudyData train = io::load_study_data(tr);
    d.x_train = std::move(train.x);
    d.y_train = std::move(train.y);
    d.class_names = std::move(train.class_names);
    d.source = train.source;
    if (n_test > 0) {
      io::DataOptions te = base;
      te.split = "test";
      te.n = n_test;
      io::StudyData test = io::load_study_data(te);
      d.x_test = std::move(test.x);
      d.y_test = std::move(test.y);
      d.source += str_cat("; test: ", test.source);
    } else {
      d.x_test.resize(0, d.x_train.cols());
    }
    return d;
  }
  io::DataOptions all = base;
  all.n = n_train + n_test;
  io::StudyData pool = io::load_study_data(all);
  Rng rng = Rng::stream(base.seed, kSplitStream);
  const std::vector<Index> perm = rng.permutation(pool.x.rows());
  std::vector<Index> tr(perm.begin(), perm.begin() + n_train);
  std::vector<Index> te(perm.begin() + n_train, perm.end());
  std::sort(tr.begin(), tr.end());
  std::sort(te.begin(), te.end());
  auto take = [&pool](const std::vector<Index>& rows, MatrixD& x, std::vector<int>& y) {
    x.resize(static_cast<Index>(rows.size()), pool.x.cols());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      x.row(static_cast<Index>(i)) = pool.x.row(rows[i]);
      if (!pool.y.empty()) y.push_back(pool.y[static_cast<std::size_t>(rows[i])]);
    }
  };
  take(tr, d.x_train, d.y_train);
  take(te, d.x_test, d.y_test);
  d.class_names = std::move(pool.class_names);
  d.source = str_cat(pool.source, " (", n_train, " train / ", n_test, " test rows, seeded split)");
  return d;
}

ModelInputs model_inputs(const KernelData& data, ModelKind kind) {
  ModelInputs in;
  in.train = io::normalize_rows(data.x_train);
  in.test =
      data.x_test.rows() > 0 ? io::normalize_rows(data.x_test) : MatrixD(0, data.x_train.cols());
  if (kind == ModelKind::attn) {
    const nn::LinearAttentionFeatures attn(in.train);
    in.train = attn.features(in.train);
    if (in.test.rows() > 0) in.test = attn.features(in.test);
  }
  return in;
}

}  // namespace attnlab::analysis::ntk
