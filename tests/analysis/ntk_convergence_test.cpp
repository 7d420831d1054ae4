// The NTK convergence study: rel_frob ∝ m^(-1/2) at init for 2L-ReLU (slope −0.5 ± 0.15 over ≥ 4
// widths), arm B tracks the time-matched kernel-GD predictor more closely as width grows (the
// lazy limit), the sweep is deterministic and round-trips through JSON, and bad options are
// UsageErrors. Synthetic data: no dataset needed.
#include "attnlab/analysis/ntk/convergence.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "attnlab/core/error.hpp"
#include "tests/nn/nn_test_util.hpp"

namespace attnlab::analysis::ntk {
namespace {

// Raw rows with a positive mean (like pixels), labels from a few directions.
KernelData synthetic(Index n, Index n_test, Index d, Index classes, std::uint64_t seed) {
  KernelData data;
  auto make = [&](Index rows, std::uint64_t s, MatrixD& x, std::vector<int>& y) {
    x = testing::random_matrix(rows, d, s).cwiseAbs();
    y.resize(static_cast<std::size_t>(rows));
    for (Index i = 0; i < rows; ++i) {
      Index best = 0;
      x.row(i).head(classes).maxCoeff(&best);
      y[i] = static_cast<int>(best);
    }
  };
  make(n, seed, data.x_train, data.y_train);
  make(n_test, seed + 100, data.x_test, data.y_test);
  for (Index c = 0; c < classes; ++c) data.class_names.push_back(std::to_string(c));
  data.source = "synthetic";
  return data;
}

TEST(NtkConvergence, RelFrobSlopeAtInitIsMinusOneHalfForRelu) {
  const bool small = testing::small_scale();
  const KernelData data = synthetic(small ? 24 : 40, 0, 30, 2, 1);
  ConvergenceOptions o;
  o.widths =
      small ? std::vector<Index>{16, 64, 256, 1024} : std::vector<Index>{32, 128, 512, 2048, 8192};
  o.seeds = small ? 3 : 4;
  o.models = {ModelKind::relu};
  o.arm_a = o.arm_b = false;
  const ConvergenceResult r = run_ntk_convergence(data, o);
  ASSERT_EQ(r.references.size(), 1u);
  const SlopeFit& fit = r.references[0].rel_frob_fit;
  EXPECT_GE(fit.points, 4);
  EXPECT_NEAR(fit.slope, -0.5, 0.15);
  // spec_ratio shares the m^(-1/2) law; the Bernstein width is a finite positive number.
  EXPECT_NEAR(r.references[0].spec_ratio_fit.slope, -0.5, 0.2);
  EXPECT_GT(r.references[0].bernstein_width, 0.0);
  EXPECT_TRUE(std::isfinite(r.references[0].empirical_width_half));
}

TEST(NtkConvergence, ArmBTracksTheKernelGdPredictorBetterAsWidthGrows) {
  const bool small = testing::small_scale();
  const KernelData data = synthetic(30, 12, 20, 2, 2);
  ConvergenceOptions o;
  o.widths = {64, small ? Index{1024} : Index{4096}};
  o.seeds = 3;
  o.models = {ModelKind::relu};
  o.arm_a = false;
  o.steps_b = 60;
  o.tol_b = 0.0;
  o.train_precision = nn::GemmPrecision::fp64;
  const ConvergenceResult r = run_ntk_convergence(data, o);
  const auto gd = summarize_metric(r, ModelKind::relu, "b.dist_gd_rel");
  const auto drift = summarize_metric(r, ModelKind::relu, "b.drift");
  ASSERT_EQ(gd.size(), 2u);
  EXPECT_LT(gd[1].stats.mean, gd[0].stats.mean / 2.0);        // ∝ m^(-1/2) would be 4-8x
  EXPECT_LT(drift[1].stats.mean, drift[0].stats.mean / 2.0);  // lazier kernel
  for (const ConvergenceRecord& rec : r.records) {
    EXPECT_EQ(rec.b.steps, 60);
    // η = fraction · 2n/λ_max(Θ_0): below the stability bound by construction.
    EXPECT_NEAR(rec.b.lr * rec.b.lambda_max_0 / 30.0, 2.0 * o.lr_fraction_b, 1e-12);
    EXPECT_LT(rec.b.final_loss, rec.b.initial_loss);
  }
}

TEST(NtkConvergence, SweepIsDeterministicAndRoundTripsThroughJson) {
  const KernelData data = synthetic(24, 10, 16, 3, 3);
  ConvergenceOptions o;
  o.widths = {8, 32};
  o.seeds = 2;
  o.epochs_a = 3;
  o.steps_b = 15;
  o.seed = 5;
  const ConvergenceResult r = run_ntk_convergence(data, o);
  ASSERT_EQ(r.records.size(), 8u);  // 2 widths x 2 seeds x 2 models
  EXPECT_EQ(*r.options.encoding, nn::TargetEncoding::centered_one_hot);
  EXPECT_EQ(*r.options.loss_a, nn::LossKind::cross_entropy);
  EXPECT_EQ(r.outputs, 3);
  for (const ConvergenceRecord& rec : r.records) {
    for (const char* key : {"rel_frob_init", "a.rel_frob_t", "a.drift", "a.dist_rel", "a.test_acc",
                            "b.rel_frob_t", "b.dist_gd_rel", "b.pattern_flips", "b.lr"}) {
      EXPECT_TRUE(std::isfinite(record_metric(rec, key))) << key;
    }
    EXPECT_TRUE(std::isnan(record_metric(rec, "a.dist_gd_abs")));
  }
  const nlohmann::json j = to_json(r);
  EXPECT_EQ(to_json(convergence_from_json(j)), j);
  // Bit-identical reruns (timings aside).
  nlohmann::json again = to_json(run_ntk_convergence(data, o));
  auto strip = [](nlohmann::json x) {
    x.erase("seconds");
    for (auto& rec : x["records"]) {
      rec["a"].erase("seconds");
      rec["b"].erase("seconds");
    }
    return x;
  };
  EXPECT_EQ(strip(again), strip(j));
  EXPECT_THROW(convergence_from_json(nlohmann::json{{"study", "spectrum"}}), FormatError);
  const auto stats = summarize_metric(r, ModelKind::attn, "rel_frob_init");
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].width, 8);
  EXPECT_EQ(stats[0].stats.count, 2);
}

TEST(NtkConvergence, BadOptionsAreUsageErrors) {
  const KernelData data = synthetic(12, 4, 8, 2, 4);
  ConvergenceOptions o;
  o.widths = {9};
  EXPECT_THROW(run_ntk_convergence(data, o), UsageError);  // odd width, antisymmetric arm B
  o.widths = {8};
  o.lr_fraction_b = 1.0;
  EXPECT_THROW(run_ntk_convergence(data, o), UsageError);  // η at the bound
  o.lr_fraction_b = 0.5;
  o.encoding = nn::TargetEncoding::plus_minus_one;
  o.loss_a = nn::LossKind::cross_entropy;
  EXPECT_THROW(run_ntk_convergence(data, o), UsageError);  // CE needs a logit per class
  KernelData unlabeled = data;
  unlabeled.y_train.clear();
  unlabeled.y_test.clear();
  unlabeled.class_names.clear();
  o = ConvergenceOptions{};
  o.widths = {8};
  EXPECT_THROW(run_ntk_convergence(unlabeled, o), UsageError);
  o.arm_a = o.arm_b = false;
  EXPECT_NO_THROW(run_ntk_convergence(unlabeled, o));
  ConvergenceRecord rec;
  EXPECT_THROW(record_metric(rec, "a.nope"), UsageError);
}

}  // namespace
}  // namespace attnlab::analysis::ntk
