// Targets and losses: encodings, FD-checked gradients, numerically stable cross-entropy.
#include "attnlab/nn/losses.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "attnlab/core/error.hpp"
#include "tests/nn/nn_test_util.hpp"

namespace attnlab::nn {
namespace {

TEST(Targets, Encodings) {
  const std::vector<int> y = {0, 2, 1};
  const Targets c = encode_targets(y, 3, TargetEncoding::centered_one_hot);
  ASSERT_EQ(c.outputs(), 3);
  for (Index i = 0; i < 3; ++i) EXPECT_NEAR(c.values.row(i).sum(), 0.0, 1e-15);
  EXPECT_NEAR(c.values(1, 2), 2.0 / 3.0, 1e-15);
  EXPECT_NEAR(c.values(1, 0), -1.0 / 3.0, 1e-15);
  const Targets o = encode_targets(y, 3, TargetEncoding::one_hot);
  EXPECT_EQ(o.values(2, 1), 1.0);
  const Targets pm = encode_targets({0, 1, 1}, 2, TargetEncoding::plus_minus_one);
  ASSERT_EQ(pm.outputs(), 1);
  EXPECT_EQ(pm.values(0, 0), -1.0);
  EXPECT_EQ(pm.values(1, 0), 1.0);
  EXPECT_THROW(encode_targets(y, 3, TargetEncoding::plus_minus_one), UsageError);
  EXPECT_THROW(encode_targets({0, 3}, 3, TargetEncoding::one_hot), UsageError);
  const Targets sub = c.subset({2, 0});
  EXPECT_EQ(sub.labels, (std::vector<int>{1, 0}));
  EXPECT_EQ(sub.values.row(0), c.values.row(2));
  EXPECT_EQ(parse_loss("ce"), LossKind::cross_entropy);
  EXPECT_THROW(parse_target_encoding("bogus"), UsageError);
}

TEST(Losses, GradientsMatchFiniteDifferences) {
  const MatrixD out = testing::random_matrix(4, 3, 1);
  const std::vector<int> labels = {0, 2, 1, 2};
  const Targets t = encode_targets(labels, 3, TargetEncoding::centered_one_hot);
  for (const LossKind kind : {LossKind::mse, LossKind::cross_entropy}) {
    MatrixD grad;
    loss_value(kind, out, t, &grad);
    MatrixD p = out;
    const double eps = 1e-6;
    for (Index i = 0; i < p.size(); ++i) {
      const double keep = p.data()[i];
      p.data()[i] = keep + eps;
      const double up = loss_value(kind, p, t, nullptr);
      p.data()[i] = keep - eps;
      const double down = loss_value(kind, p, t, nullptr);
      p.data()[i] = keep;
      EXPECT_NEAR(grad.data()[i], (up - down) / (2 * eps), 1e-9) << to_string(kind);
    }
  }
}

TEST(Losses, KnownValuesAndStability) {
  const std::vector<int> labels = {1, 0};
  EXPECT_NEAR(cross_entropy_loss(MatrixD::Zero(2, 4), labels, nullptr), std::log(4.0), 1e-15);
  MatrixD huge(2, 3);
  huge << 1e4, -1e4, 0, 5e3, 1e4, -3e3;
  MatrixD grad;
  const double l = cross_entropy_loss(huge, {0, 1}, &grad);
  EXPECT_TRUE(std::isfinite(l));
  EXPECT_NEAR(l, 0.0, 1e-12);
  EXPECT_TRUE(grad.allFinite());
  MatrixD y = MatrixD::Ones(2, 2);
  EXPECT_NEAR(mse_loss(MatrixD::Zero(2, 2), y, nullptr), 1.0, 1e-15);  // (1/(2·2))·4
  const Targets pm = encode_targets({0, 1}, 2, TargetEncoding::plus_minus_one);
  EXPECT_THROW(loss_value(LossKind::cross_entropy, MatrixD::Zero(2, 1), pm, nullptr), UsageError);
  EXPECT_THROW(cross_entropy_loss(MatrixD::Zero(2, 3), {0, 3}, nullptr), UsageError);
}

}  // namespace
}  // namespace attnlab::nn
