// Exact two-sample KS: p-values against scipy's exact method (values computed once with
// scipy 1.10 `ks_2samp(method='exact')` / `_attempt_exact_2kssamp`), against the closed form of
// Gnedenko–Korolyuk for equal sizes, and against brute-force enumeration of every interleaving
// (with and without ties).
#include "attnlab/analysis/selectivity/ks_test.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <vector>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"

namespace attnlab::analysis::selectivity {
namespace {

struct ScipyCase {
  Index n, m;
  double d, p;
};

TEST(KsExact, MatchesScipyExactValues) {
  const ScipyCase cases[] = {
      {5, 7, 0.5142857142857142, 0.32828282828282829},
      {10, 10, 0.6, 0.052447552447552441},
      {8, 13, 0.46153846153846156, 0.18294756499090864},
      {20, 15, 0.43333333333333335, 0.061088545034759786},
      {40, 40, 0.35, 0.014301548047706459},
      {3, 30, 0.6, 0.20637829912023459},
      {100, 100, 0.2, 0.036384287874917327},
      {60, 45, 0.4444444444444444, 4.556298625126617e-05},
      {7, 7, 1.0, 0.00058275058275058275},
      {50, 50, 0.1, 0.96674643568090957},
  };
  for (const auto& c : cases) {
    const double p = ks_exact_p_value(c.n, c.m, c.d);
    EXPECT_NEAR(p, c.p, 1e-12 * std::max(1.0, c.p) + 1e-13 * c.p)
        << "n=" << c.n << " m=" << c.m << " d=" << c.d;
    EXPECT_NEAR(p / c.p, 1.0, 1e-10) << "n=" << c.n << " m=" << c.m;
    // Symmetric in the two samples.
    EXPECT_NEAR(ks_exact_p_value(c.m, c.n, c.d), p, 1e-14);
  }
}

TEST(KsExact, SamplesGiveScipyStatisticAndPValue) {
  const std::vector<double> a = {2.040919, -2.555665, 0.418099, -0.56777, -0.452649};
  const std::vector<double> b = {0.584403, -1.219986, 0.568068, -0.065213,
                                 4.123,    1.025787,  0.447369};
  const KsTest t = ks_two_sample(a, b);
  EXPECT_NEAR(t.statistic, 0.51428571428571423, 1e-15);
  EXPECT_NEAR(t.p_value, 0.32828282828282829, 1e-14);
  EXPECT_FALSE(t.ties);
  const std::vector<double> c = {-0.281287, -0.668046, -1.055151, -0.390801, 0.481945,
                                 -0.238554, 0.957759,  -0.199802, 0.02426,   1.545821};
  const std::vector<double> d = {1.345106, 0.294771, 0.617161, 1.340525, 2.735088,
                                 0.53038,  0.556441, 1.802314, -0.08646, 0.50828};
  const KsTest u = ks_two_sample(c, d);
  EXPECT_NEAR(u.statistic, 0.6, 1e-15);
  EXPECT_NEAR(u.p_value, 0.052447552447552441, 1e-14);
}

// Gnedenko–Korolyuk: P(D_{n,n} >= k/n) = 2 Σ_{j>=1} (−1)^{j+1} C(2n, n − jk) / C(2n, n).
double equal_size_p(int n, int k) {
  auto log_binom = [](int a, int b) {
    return std::lgamma(a + 1.0L) - std::lgamma(b + 1.0L) - std::lgamma(a - b + 1.0L);
  };
  long double sum = 0.0L;
  for (int j = 1; j * k <= n; ++j) {
    const long double term = std::exp(log_binom(2 * n, n - j * k) - log_binom(2 * n, n));
    sum += (j % 2 == 1 ? 1.0L : -1.0L) * term;
  }
  return static_cast<double>(2.0L * sum);
}

TEST(KsExact, EqualSizesMatchClosedForm) {
  for (int n : {1, 2, 5, 12, 30, 60}) {
    for (int k = 1; k <= n; ++k) {
      const double expected = equal_size_p(n, k);
      const double p = ks_exact_p_value(n, n, static_cast<double>(k) / n);
      EXPECT_NEAR(p, expected, 1e-12 * std::max(expected, 1e-300) + 1e-15)
          << "n=" << n << " k=" << k;
    }
  }
}

// Brute force: every way to give n of the pooled positions to sample a; D evaluated at the ends
// of tie blocks only; p = share of labelings with n·m·D >= observed.
double brute_force_p(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> pooled = a;
  pooled.insert(pooled.end(), b.begin(), b.end());
  std::sort(pooled.begin(), pooled.end());
  const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size()), N = n + m;
  auto stat = [&](const std::vector<int>& is_a) {
    std::int64_t i = 0, j = 0, best = 0;
    for (int t = 0; t < N; ++t) {
      (is_a[t] ? i : j) += 1;
      if (t + 1 == N || pooled[t + 1] != pooled[t]) {
        const std::int64_t g = i * m - j * n;
        best = std::max(best, g < 0 ? -g : g);
      }
    }
    return best;
  };
  // Observed labeling: sort (value, label) pairs; within ties the labels' order does not matter
  // because D is only evaluated at block ends.
  std::vector<std::pair<double, int>> lab;
  for (double x : a) lab.emplace_back(x, 1);
  for (double x : b) lab.emplace_back(x, 0);
  std::sort(lab.begin(), lab.end());
  std::vector<int> obs(N);
  for (int t = 0; t < N; ++t) obs[t] = lab[t].second;
  const std::int64_t d_obs = stat(obs);
  std::int64_t hits = 0, total = 0;
  for (std::uint32_t mask = 0; mask < (1u << N); ++mask) {
    if (__builtin_popcount(mask) != n) continue;
    std::vector<int> is_a(N);
    for (int t = 0; t < N; ++t) is_a[t] = (mask >> t) & 1u;
    ++total;
    hits += stat(is_a) >= d_obs ? 1 : 0;
  }
  return static_cast<double>(hits) / static_cast<double>(total);
}

TEST(KsExact, MatchesBruteForceWithAndWithoutTies) {
  Rng rng(5);
  for (int trial = 0; trial < 12; ++trial) {
    const int n = 3 + trial % 4, m = 4 + (trial * 3) % 6;
    std::vector<double> a(n), b(m);
    const bool ties = trial % 2 == 1;
    // Ties: values on a coarse grid so that blocks mix the two samples.
    for (auto& x : a) x = ties ? std::floor(rng.uniform(0, 4)) : rng.normal();
    for (auto& x : b) x = ties ? std::floor(rng.uniform(0.5, 4.5)) : 0.5 + rng.normal();
    const KsTest t = ks_two_sample(a, b);
    EXPECT_EQ(t.ties, ties) << trial;
    EXPECT_NEAR(t.p_value, brute_force_p(a, b), 1e-13) << "trial " << trial;
  }
}

TEST(KsExact, TiesMakeTheTestLessConservativeThanIgnoringThem) {
  // Two values, each sample all on one side except shared ties.
  const std::vector<double> a = {0, 0, 0, 1, 1};
  const std::vector<double> b = {0, 1, 1, 1, 1, 1};
  const KsTest t = ks_two_sample(a, b);
  const double ignoring_ties = ks_exact_p_value(5, 6, t.statistic);
  EXPECT_TRUE(t.ties);
  EXPECT_LE(t.p_value, ignoring_ties);
  EXPECT_NEAR(t.p_value, brute_force_p(a, b), 1e-14);
}

TEST(KsExact, EdgeCasesAndErrors) {
  const std::vector<double> same = {1, 2, 3};
  const KsTest t = ks_two_sample(same, same);
  EXPECT_EQ(t.statistic, 0.0);
  EXPECT_EQ(t.p_value, 1.0);
  EXPECT_EQ(ks_exact_p_value(4, 4, 0.0), 1.0);
  EXPECT_EQ(ks_exact_p_value(4, 4, 1.5), 0.0);
  // One value each, different: D = 1, and both interleavings reach it.
  const std::vector<double> one = {0}, two = {1};
  EXPECT_EQ(ks_two_sample(one, two).p_value, 1.0);
  const std::vector<double> empty;
  EXPECT_THROW(ks_two_sample(empty, same), UsageError);
  const std::vector<double> bad = {1, std::numeric_limits<double>::quiet_NaN()};
  EXPECT_THROW(ks_two_sample(same, bad), InputError);
  EXPECT_THROW(ks_exact_p_value(20000, 20000, 0.1), UsageError);
}

}  // namespace
}  // namespace attnlab::analysis::selectivity
