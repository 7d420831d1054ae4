// Tests for analysis/influence: closed-form LOO vs brute-force refits (1e-8, fp64), first-order
// variant, exact gradients of influence and of the poisoning objective vs finite differences
// through the full pixel -> kernel pipeline (2L-ReLU and MLP-Attn, whose kernel depends on X
// through C = XᵀX), TracIn dot products vs per-example backward, rank statistics, attacks, and
// a tiny end-to-end malleability/poisoning run with JSON round trips.
#include <gtest/gtest.h>

#include <cmath>

#include "attnlab/analysis/influence/influence_gradient.hpp"
#include "attnlab/analysis/influence/kernel_influence.hpp"
#include "attnlab/analysis/influence/kernel_pipeline.hpp"
#include "attnlab/analysis/influence/linf_attack.hpp"
#include "attnlab/analysis/influence/malleability.hpp"
#include "attnlab/analysis/influence/poisoning.hpp"
#include "attnlab/analysis/influence/rank_correlation.hpp"
#include "attnlab/analysis/influence/tracin.hpp"
#include "attnlab/analysis/ntk/analytic_ntk.hpp"
#include "attnlab/analysis/ntk/empirical_ntk.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/io/dataset.hpp"
#include "attnlab/io/npy.hpp"
#include "attnlab/nn/mlp_attn.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::analysis::influence {
namespace {

using ntk::ModelKind;

MatrixD uniform(Index rows, Index cols, std::uint64_t seed, double lo = 0.05, double hi = 1.0) {
  MatrixD x(rows, cols);
  Rng rng(seed);
  rng.fill_uniform(x.data(), x.size(), lo, hi);
  return x;
}

std::vector<int> labels_mod(Index n, int classes, int offset = 0) {
  std::vector<int> y;
  for (Index i = 0; i < n; ++i) y.push_back(static_cast<int>((i + offset) % classes));
  return y;
}

InfluenceTargets test_targets(const std::vector<int>& labels, Index classes) {
  const nn::Targets t = nn::encode_targets(
      labels, classes,
      classes > 2 ? nn::TargetEncoding::centered_one_hot : nn::TargetEncoding::plus_minus_one);
  return {t.values, labels};
}

struct Problem {
  MatrixD k, kt, y;
  InfluenceTargets targets;
};

Problem make_problem(Index n, Index t, Index classes, std::uint64_t seed, bool empirical) {
  const MatrixD x = io::normalize_rows(uniform(n, 10, seed, -1.0, 1.0));
  const MatrixD xt = io::normalize_rows(uniform(t, 10, seed + 1, -1.0, 1.0));
  Problem p;
  if (empirical) {
    const auto net = nn::TwoLayerRelu::random(10, 64, 1, {.w_std = 1.0}, seed);
    p.k = ntk::empirical_ntk(net, x);
    p.kt = ntk::empirical_ntk(net, xt, x);
  } else {
    p.k = ntk::relu_ntk_infinite(x);
    p.kt = ntk::relu_ntk_infinite(xt, x);
  }
  const auto y = labels_mod(n, static_cast<int>(classes));
  p.y = nn::encode_targets(
            y, classes,
            classes > 2 ? nn::TargetEncoding::centered_one_hot : nn::TargetEncoding::plus_minus_one)
            .values;
  p.targets = test_targets(labels_mod(t, static_cast<int>(classes), 1), classes);
  return p;
}

TEST(InfluenceClosedForm, ExactLooEqualsBruteForceRefits) {
  for (const bool empirical : {false, true}) {
    for (const Index classes : {2, 3}) {
      for (const auto target : {InfluenceTarget::loss, InfluenceTarget::margin}) {
        for (const double ridge : {1e-3, 0.1}) {
          const Problem p = make_problem(24, 5, classes, 7 + classes, empirical);
          const KernelInfluence inf(p.k, p.y, ridge);
          const MatrixD fast = inf.influence(p.kt, p.targets, target);
          const MatrixD brute = brute_force_loo_influence(p.k, p.kt, p.y, ridge, p.targets, target);
          EXPECT_LT(testing::max_abs_diff(fast, brute), 1e-8)
              << "empirical " << empirical << " classes " << classes << " target "
              << to_string(target) << " ridge " << ridge;
          EXPECT_GT(brute.cwiseAbs().maxCoeff(), 1e-4);  // not trivially zero
        }
      }
    }
  }
}

TEST(InfluenceClosedForm, FirstOrderIsExactTimesLeverage) {
  // Binary margin influence is linear in f, so first-order = exact · λ A_ii per column i.
  const Problem p = make_problem(20, 4, 2, 3, false);
  const double ridge = 0.05;
  const KernelInfluence inf(p.k, p.y, ridge);
  const MatrixD exact = inf.influence(p.kt, p.targets, InfluenceTarget::margin);
  const MatrixD first =
      inf.influence(p.kt, p.targets, InfluenceTarget::margin, LooKind::first_order);
  for (Index t = 0; t < exact.rows(); ++t)
    for (Index i = 0; i < exact.cols(); ++i)
      EXPECT_NEAR(first(t, i), exact(t, i) * ridge * inf.inverse()(i, i), 1e-12);
}

TEST(InfluenceClosedForm, BadShapesAreUsageErrors) {
  const Problem p = make_problem(10, 3, 3, 1, false);
  EXPECT_THROW(KernelInfluence(p.k, p.y.topRows(5), 1e-3), UsageError);
  EXPECT_THROW(KernelInfluence(p.k, p.y, 0.0), UsageError);
  const KernelInfluence inf(p.k, p.y, 1e-3);
  EXPECT_THROW(inf.influence(p.kt.leftCols(4), p.targets, InfluenceTarget::loss), UsageError);
  EXPECT_THROW(parse_influence_target("logit"), UsageError);
}

// Central differences of f over every entry of x.
MatrixD fd_gradient(const std::function<double(const MatrixD&)>& f, const MatrixD& x, double h) {
  MatrixD g(x.rows(), x.cols());
  MatrixD xp = x;
  for (Index i = 0; i < x.size(); ++i) {
    const double v = xp.data()[i];
    xp.data()[i] = v + h;
    const double fp = f(xp);
    xp.data()[i] = v - h;
    const double fm = f(xp);
    xp.data()[i] = v;
    g.data()[i] = (fp - fm) / (2 * h);
  }
  return g;
}

double rel_error(const MatrixD& a, const MatrixD& b) {
  return (a - b).norm() / std::max(b.norm(), 1e-300);
}

TEST(InfluenceGradient, PixelGradientOfInfluenceMatchesFiniteDifferences) {
  const MatrixD raw = uniform(12, 6, 21);
  const MatrixD raw_test = uniform(3, 6, 22);
  for (const ModelKind kind : {ModelKind::relu, ModelKind::attn}) {
    for (const Index classes : {2, 3}) {
      for (const auto target : {InfluenceTarget::loss, InfluenceTarget::margin}) {
        const auto y = labels_mod(12, static_cast<int>(classes));
        const MatrixD yv = nn::encode_targets(y, classes,
                                              classes > 2 ? nn::TargetEncoding::centered_one_hot
                                                          : nn::TargetEncoding::plus_minus_one)
                               .values;
        const InfluenceTargets tt =
            test_targets(labels_mod(3, static_cast<int>(classes), 1), classes);
        const Index t = 1, i = 4;
        const double ridge = 0.01;
        auto value = [&](const MatrixD& r) {
          const KernelPipeline p(kind, r, raw_test);
          const KernelInfluence inf(p.k_train(), yv, ridge);
          return inf.influence(p.k_query(), tt, target)(t, i);
        };
        const KernelPipeline p(kind, raw, raw_test);
        const KernelInfluence inf(p.k_train(), yv, ridge);
        const KernelGradient g = influence_kernel_gradient(inf, p.k_query(), tt, t, i, target);
        EXPECT_NEAR(g.value, value(raw), 1e-14);
        const MatrixD analytic = p.backward(g.d_k_train, g.d_k_query);
        const MatrixD numeric = fd_gradient(value, raw, 1e-6);
        EXPECT_LT(rel_error(analytic, numeric), 1e-6)
            << ntk::to_string(kind) << " classes " << classes << " " << to_string(target);
      }
    }
  }
}

TEST(InfluenceGradient, PoisoningObjectiveGradientMatchesFiniteDifferences) {
  const MatrixD raw = uniform(14, 6, 31);
  const MatrixD raw_val = uniform(5, 6, 32);
  for (const ModelKind kind : {ModelKind::relu, ModelKind::attn}) {
    for (const Index classes : {2, 3}) {
      const nn::Targets tr = nn::encode_targets(
          labels_mod(14, static_cast<int>(classes)), classes,
          classes > 2 ? nn::TargetEncoding::centered_one_hot : nn::TargetEncoding::plus_minus_one);
      const nn::Targets va = nn::encode_targets(
          labels_mod(5, static_cast<int>(classes), 2), classes,
          classes > 2 ? nn::TargetEncoding::centered_one_hot : nn::TargetEncoding::plus_minus_one);
      MatrixD grad;
      kernel_validation_loss(kind, raw, tr, raw_val, va, 0.01, &grad);
      const MatrixD numeric = fd_gradient(
          [&](const MatrixD& r) {
            return kernel_validation_loss(kind, r, tr, raw_val, va, 0.01, nullptr);
          },
          raw, 1e-6);
      EXPECT_LT(rel_error(grad, numeric), 1e-6) << ntk::to_string(kind) << " classes " << classes;
    }
  }
}

TEST(InfluenceGradient, MseValidationGradientWithRespectToKernels) {
  const Problem p = make_problem(10, 4, 3, 5, false);
  nn::Targets va = nn::encode_targets(labels_mod(4, 3, 1), 3, nn::TargetEncoding::centered_one_hot);
  const KernelInfluence inf(p.k, p.y, 0.02);
  const KernelGradient g = validation_loss_gradient(inf, p.kt, va, ValidationLoss::mse);
  const MatrixD num_kt = fd_gradient(
      [&](const MatrixD& kt) {
        return validation_loss_gradient(inf, kt, va, ValidationLoss::mse).value;
      },
      p.kt, 1e-6);
  EXPECT_LT(rel_error(g.d_k_query, num_kt), 1e-7);
  const MatrixD num_k = fd_gradient(
      [&](const MatrixD& k) {
        return validation_loss_gradient(KernelInfluence(k, p.y, 0.02), p.kt, va,
                                        ValidationLoss::mse)
            .value;
      },
      p.k, 1e-6);
  // Cholesky reads K's upper triangle, so a finite difference in K(i, j), i < j, moves both
  // (i, j) and (j, i): compare with the symmetrized gradient there, zero below the diagonal.
  MatrixD sym = MatrixD::Zero(10, 10);
  for (Index i = 0; i < 10; ++i)
    for (Index j = i; j < 10; ++j)
      sym(i, j) = i == j ? g.d_k_train(i, i) : g.d_k_train(i, j) + g.d_k_train(j, i);
  EXPECT_LT(rel_error(sym, num_k), 1e-6);
}

TEST(InfluenceGradient, KernelDerivativeMatchesFiniteDifferences) {
  for (const double u : {-0.9, -0.3, 0.0, 0.4, 0.95}) {
    const double h = 1e-6;
    const double fd =
        (ntk::relu_ntk_infinite_unit(u + h) - ntk::relu_ntk_infinite_unit(u - h)) / (2 * h);
    EXPECT_NEAR(relu_ntk_infinite_unit_derivative(u), fd, 1e-8) << u;
  }
}

TEST(InfluenceTracIn, DotProductsEqualPerExampleGradients) {
  const MatrixD xa = io::normalize_rows(uniform(3, 7, 41, -1, 1));
  const MatrixD xb = io::normalize_rows(uniform(5, 7, 42, -1, 1));
  const MatrixD ga = uniform(3, 2, 43, -1, 1), gb = uniform(5, 2, 44, -1, 1);
  const auto net = nn::TwoLayerRelu::random(7, 16, 2, {.w_std = 1.0}, 45);
  const MatrixD dots = gradient_dot_products(net, xa, ga, xb, gb);
  auto grad = [&](const MatrixD& x, const MatrixD& g, Index r) {
    std::unique_ptr<nn::ModelCache> cache;
    net.forward(x.row(r), cache);
    VectorD out;
    net.backward(*cache, g.row(r), &out, nullptr);
    return out;
  };
  for (Index t = 0; t < 3; ++t)
    for (Index i = 0; i < 5; ++i)
      EXPECT_NEAR(dots(t, i), grad(xa, ga, t).dot(grad(xb, gb, i)), 1e-12);
}

TEST(InfluenceStats, SpearmanWithTiesAndRatioInterval) {
  const std::vector<double> a = {1, 2, 2, 3, 5}, b = {2, 1, 4, 4, 9};
  // Fractional ranks a: 1, 2.5, 2.5, 4, 5; b: 2, 1, 3.5, 3.5, 5 (scipy.stats.spearmanr: 0.7631578947368421).
  EXPECT_NEAR(spearman(a, b), 0.7631578947368421, 1e-12);
  EXPECT_NEAR(pearson(a, a), 1.0, 1e-15);
  EXPECT_THROW(spearman(std::vector<double>{1}, std::vector<double>{1}), UsageError);
  const RatioStats r = ratio_stats({0.3, 0.2, 0.25, 0.35}, {0.05, 0.04, 0.05, 0.06}, 3);
  EXPECT_NEAR(r.ratio, 1.1 / 0.2, 1e-12);
  EXPECT_LE(r.ci_low, r.ratio);
  EXPECT_GE(r.ci_high, r.ratio);
  const RatioStats again = ratio_stats({0.3, 0.2, 0.25, 0.35}, {0.05, 0.04, 0.05, 0.06}, 3);
  EXPECT_EQ(r.ci_low, again.ci_low);
}

TEST(InfluenceAttack, StaysInTheBallAndRaisesTheLoss) {
  const MatrixD x = uniform(6, 8, 51, 0.0, 1.0);
  const auto y = labels_mod(6, 3);
  const nn::Targets t = nn::encode_targets(y, 3, nn::TargetEncoding::centered_one_hot);
  const nn::NormalizedInput model(
      std::make_unique<nn::TwoLayerRelu>(nn::TwoLayerRelu::random(8, 32, 3, {.w_std = 1.0}, 52)));
  const double base = nn::loss_value(nn::LossKind::mse, model.forward(x), t, nullptr);
  for (const AttackKind k : {AttackKind::fgsm, AttackKind::pgd, AttackKind::mim}) {
    AttackOptions o;
    o.kind = k;
    o.epsilon = 0.1;
    const MatrixD adv = linf_attack(model, x, t, nn::LossKind::mse, o);
    EXPECT_LE((adv - x).cwiseAbs().maxCoeff(), 0.1 + 1e-15);
    EXPECT_GE(adv.minCoeff(), 0.0);
    EXPECT_LE(adv.maxCoeff(), 1.0);
    EXPECT_GT(nn::loss_value(nn::LossKind::mse, model.forward(adv), t, nullptr), base)
        << to_string(k);
  }
  EXPECT_THROW(parse_attack_kind("cw"), UsageError);
}

TEST(InfluenceStudy, TinyMalleabilityAndPoisoningRunsAreDeterministicAndRoundTrip) {
  testing::TempDir dir;
  MatrixD x = uniform(60, 12, 61, 0.0, 1.0);
  std::vector<std::int64_t> y(60);
  for (Index i = 0; i < 60; ++i) {
    y[static_cast<std::size_t>(i)] = i % 2;
    x(i, i % 2) = 1.0;
  }
  io::save_npy(dir / "x.npy", x);
  const std::vector<Index> shape = {60};
  io::save_npy(dir / "y.npy", y.data(), shape);
  io::DataOptions base;
  base.x_path = dir / "x.npy";
  base.y_path = dir / "y.npy";
  MalleabilityOptions o;
  o.seeds = 2;
  o.width = 16;
  o.epochs_a = 2;
  o.steps_b = 20;
  o.epsilons = {0.1, 0.3};
  o.m3_points = 2;
  o.m4_points = 4;
  o.tracin_every = 5;
  const MalleabilityResult r = run_malleability(base, 30, 6, o);
  ASSERT_EQ(r.records.size(), 8u);  // 2 models x 2 arms x 2 seeds
  for (const auto& rec : r.records) {
    const double fr = rec.metrics.at(attack_metric_key("fr", AttackKind::pgd, 0.3));
    EXPECT_GE(fr, 0.0);
    EXPECT_LE(fr, 1.0);
    EXPECT_TRUE(std::isfinite(rec.metrics.at("m2.rel_change")));
    EXPECT_GT(rec.metrics.at("m3.max_grad"), 0.0);
    if (rec.arm == 'b') {
      EXPECT_TRUE(rec.metrics.count("m4.spearman_T"));
      EXPECT_TRUE(rec.metrics.count("tracin.spearman_T"));
    }
  }
  const MalleabilityResult again = run_malleability(base, 30, 6, o);
  EXPECT_EQ(to_json(r)["records"], to_json(again)["records"]);
  const MalleabilityResult back = malleability_from_json(to_json(r));
  EXPECT_EQ(to_json(back)["records"], to_json(r)["records"]);
  EXPECT_FALSE(ratio_table(r).empty());
  EXPECT_THROW(malleability_from_json(nlohmann::json{{"study", "poison"}}), FormatError);

  PoisonOptions po;
  po.seeds = 1;
  po.epsilons = {0.3};
  po.width = 16;
  po.steps_b = 20;
  po.steps = 3;
  const PoisonResult pr = run_poisoning(base, 30, 10, 10, po);
  ASSERT_EQ(pr.records.size(), 4u);  // 2 models x (clean + 1 eps)
  for (const ModelKind k : {ModelKind::relu, ModelKind::attn}) {
    const double clean = poison_values(pr, k, 0.0, "val_loss")[0];
    const double poisoned = poison_values(pr, k, 0.3, "val_loss")[0];
    EXPECT_GT(poisoned, clean) << ntk::to_string(k);  // ascent raised the validation loss
  }
  EXPECT_EQ(to_json(poisoning_from_json(to_json(pr)))["records"], to_json(pr)["records"]);
}

}  // namespace
}  // namespace attnlab::analysis::influence
