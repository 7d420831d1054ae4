#include "attnlab/core/rng.hpp"

#include "attnlab/core/error.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace attnlab {
namespace {

TEST(Rng, SameSeedSameStream) {
  Rng a(7), b(7), c(8);
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    EXPECT_NE(x, c.next_u64());
  }
}

TEST(Rng, NormalMomentsMatch) {
  Rng rng(1);
  const int n = 200000;
  double sum = 0, sumsq = 0;
  for (int i = 0; i < n; ++i) {
    const double z = rng.normal();
    sum += z;
    sumsq += z * z;
  }
  const double mean = sum / n, var = sumsq / n - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.01);  // 4.5 standard errors
  EXPECT_NEAR(var, 1.0, 0.015);
}

TEST(Rng, UniformIntIsUnbiasedAndInRange) {
  Rng rng(3);
  std::vector<int> counts(7, 0);
  const int n = 70000;
  for (int i = 0; i < n; ++i) ++counts[rng.uniform_int(7)];
  for (int c : counts) EXPECT_NEAR(c, n / 7.0, 5 * std::sqrt(n / 7.0));
}

TEST(Rng, PermutationAndSampleAreValid) {
  Rng rng(5);
  auto p = rng.permutation(50);
  std::set<Index> seen(p.begin(), p.end());
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_EQ(*seen.begin(), 0);
  EXPECT_EQ(*seen.rbegin(), 49);
  auto s = rng.sample_without_replacement(100, 10);
  std::set<Index> ss(s.begin(), s.end());
  EXPECT_EQ(ss.size(), 10u);
  EXPECT_THROW(rng.sample_without_replacement(3, 4), UsageError);
}

TEST(Rng, StreamsAreIndependentOfCallOrder) {
  Rng s1 = Rng::stream(42, 1), s2 = Rng::stream(42, 2);
  Rng s1b = Rng::stream(42, 1);
  EXPECT_EQ(s1.next_u64(), s1b.next_u64());
  EXPECT_NE(Rng::stream(42, 1).next_u64(), s2.next_u64());
  EXPECT_NE(Rng::stream(42, 0).next_u64(), Rng(42).next_u64());
}

}  // namespace
}  // namespace attnlab
