// Top-N distance, random-subset baseline and separability: fast paths against the by-definition
// references (brute force on small rows), a hand-built configuration with known N_s, and the
// Monte Carlo baseline against exact enumeration of every N-subset.
#include "attnlab/analysis/selectivity/selection_distance.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "attnlab/analysis/selectivity/row_weights.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"

namespace attnlab::analysis::selectivity {
namespace {

using attention::Normalizer;

// A row with its own storage: weights from random scores through a normalizer.
struct OwnedRow {
  std::vector<double> scores, logits, alpha, norms;
  std::vector<Index> order;
  MatrixD x;  // [L, dx]
  SelectionRow view() const {
    return {alpha, ConstMatrixMap<double>(x.data(), x.rows(), x.cols()), norms, order};
  }
};

OwnedRow random_row(Index L, Index dx, Normalizer n, double T, std::uint64_t seed) {
  Rng rng(seed);
  OwnedRow r;
  r.scores.resize(L);
  for (auto& z : r.scores) z = rng.normal();
  r.logits.resize(L);
  r.alpha.resize(L);
  row_weights({n, T, 1.0}, r.scores, r.logits, r.alpha);
  r.order.resize(L);
  descending_order(r.scores, r.order);
  r.x.resize(L, dx);
  rng.fill_normal(r.x.data(), r.x.size());
  r.norms.resize(L);
  for (Index j = 0; j < L; ++j) r.norms[j] = r.x.row(j).squaredNorm();
  return r;
}

TEST(SelectionDistance, TopNProfileMatchesDefinitionForEveryNAndNormalizer) {
  for (Normalizer n :
       {Normalizer::softmax, Normalizer::sparsemax, Normalizer::entmax15, Normalizer::ssmax}) {
    for (Index L : {2, 5, 17, 40}) {
      const OwnedRow r = random_row(L, 3, n, 0.5, 100 + L);
      std::vector<Index> counts(L - 1);
      std::iota(counts.begin(), counts.end(), Index{1});
      std::reverse(counts.begin(), counts.end());  // any order is accepted
      std::vector<TopNPoint> pts(counts.size());
      SelectionWorkspace ws;
      top_n_profile(r.view(), counts, ws, pts);
      for (std::size_t c = 0; c < counts.size(); ++c) {
        const std::vector<Index> top(r.order.begin(), r.order.begin() + counts[c]);
        const TopNPoint ref = subset_separability_reference(r.view(), top);
        const std::string where = std::string(attention::to_string(n)) + " L=" + std::to_string(L) +
                                  " N=" + std::to_string(counts[c]);
        EXPECT_EQ(pts[c].count, counts[c]);
        EXPECT_NEAR(pts[c].mass, ref.mass, 1e-14) << where;
        EXPECT_NEAR(pts[c].distance_sum, ref.distance_sum, 1e-11 * (1 + ref.distance_sum)) << where;
        EXPECT_NEAR(pts[c].distance_norm, ref.distance_norm, 1e-13 * (1 + ref.distance_norm))
            << where;
        EXPECT_NEAR(pts[c].radius, ref.radius, 1e-13 * (1 + ref.radius)) << where;
        EXPECT_EQ(pts[c].separable, ref.separable) << where;
      }
    }
  }
}

TEST(SelectionDistance, HandBuiltSeparability) {
  // Four unit tokens on the axes of the plane, weights 0.4, 0.3, 0.2, 0.1.
  OwnedRow r;
  r.alpha = {0.4, 0.3, 0.2, 0.1};
  r.order = {0, 1, 2, 3};
  r.x.resize(4, 2);
  r.x << 1, 0, 0, 1, -1, 0, 0, -1;
  r.norms = {1, 1, 1, 1};
  const std::vector<Index> counts = {2, 3};
  std::vector<TopNPoint> pts(2);
  SelectionWorkspace ws;
  top_n_profile(r.view(), counts, ws, pts);
  // N = 2: s = (0.4, 0.3). Selected distances 0.3 and 0.4; non-selected ‖(−0.6, −0.3)‖ and
  // ‖(−0.4, −0.4)‖, so r = √0.32 and both selected tokens are inside: N_s = 2.
  EXPECT_NEAR(pts[0].radius, std::sqrt(0.32), 1e-15);
  EXPECT_EQ(pts[0].separable, 2);
  EXPECT_NEAR(pts[0].distance_sum, std::sqrt(0.45) + std::sqrt(0.32), 1e-14);
  EXPECT_NEAR(pts[0].distance_norm, std::sqrt(0.52), 1e-15);  // ‖(−0.2,−0.1) − (0.4,0.3)‖
  EXPECT_NEAR(pts[0].mass, 0.7, 1e-15);
  // N = 3: s = (0.2, 0.3). Selected distances √0.13, 0.2, 0.5; r = ‖(−0.2, −0.4)‖ = √0.2, so
  // the third token (0.5 > 0.447) is not separable: N_s = 2.
  EXPECT_NEAR(pts[1].radius, std::sqrt(0.2), 1e-15);
  EXPECT_EQ(pts[1].separable, 2);
}

// Exact E[d̃] over all N-subsets (small L), by enumeration with the reference.
double exact_expectation(const OwnedRow& r, Index N, DistanceForm form, double* variance) {
  const Index L = static_cast<Index>(r.alpha.size());
  std::vector<Index> idx(N);
  std::iota(idx.begin(), idx.end(), Index{0});
  double sum = 0, sum2 = 0;
  Index count = 0;
  for (;;) {
    const double d = subset_distance_reference(r.view(), idx, form);
    sum += d;
    sum2 += d * d;
    ++count;
    Index i = N - 1;
    while (i >= 0 && idx[i] == L - N + i) --i;
    if (i < 0) break;
    ++idx[i];
    for (Index j = i + 1; j < N; ++j) idx[j] = idx[j - 1] + 1;
  }
  const double mean = sum / static_cast<double>(count);
  *variance = sum2 / static_cast<double>(count) - mean * mean;
  return mean;
}

TEST(SelectionDistance, RandomBaselineMatchesExactExpectation) {
  // L = 16: N = 2 (sparse path), 5 (dense path), 11 (complement drawn), both forms.
  const OwnedRow r = random_row(16, 4, Normalizer::softmax, 0.7, 9);
  const Index draws = 6000;
  for (Index N : {2, 5, 11}) {
    for (DistanceForm form : {DistanceForm::sum, DistanceForm::norm}) {
      double var = 0;
      const double exact = exact_expectation(r, N, form, &var);
      Rng rng(1234 + N);
      SelectionWorkspace ws;
      const RandomBaseline rb = random_subset_distance(r.view(), N, draws, true, rng, ws);
      const double mc = form == DistanceForm::sum ? rb.distance_sum : rb.distance_norm;
      const double se = std::sqrt(var / draws);
      EXPECT_LT(std::abs(mc - exact), 5 * se + 1e-12)
          << "N=" << N << " form " << to_string(form) << " exact " << exact << " mc " << mc;
      EXPECT_EQ(rb.draws, draws);
    }
  }
}

TEST(SelectionDistance, BatchedCountsEqualOneAtATimeAndNormOnlyAgrees) {
  const OwnedRow r = random_row(64, 8, Normalizer::entmax15, 0.3, 21);
  const std::vector<Index> counts = {1, 3, 8, 9, 30, 40, 63};
  std::vector<Rng> rngs;
  for (Index N : counts) rngs.push_back(Rng::stream(77, N));
  std::vector<RandomBaseline> batched(counts.size());
  SelectionWorkspace ws;
  random_subset_distances(r.view(), counts, 37, true, rngs, ws, batched);
  for (std::size_t c = 0; c < counts.size(); ++c) {
    Rng one = Rng::stream(77, counts[c]);
    const RandomBaseline single = random_subset_distance(r.view(), counts[c], 37, true, one, ws);
    EXPECT_NEAR(batched[c].distance_sum, single.distance_sum, 1e-12 * single.distance_sum);
    EXPECT_EQ(batched[c].distance_norm, single.distance_norm);
    Rng again = Rng::stream(77, counts[c]);
    const RandomBaseline norm_only =
        random_subset_distance(r.view(), counts[c], 37, false, again, ws);
    EXPECT_EQ(norm_only.distance_norm, single.distance_norm);
    EXPECT_EQ(norm_only.distance_sum, 0.0);
  }
}

TEST(SelectionDistance, RejectsCountsOutsideTheRow) {
  const OwnedRow r = random_row(8, 2, Normalizer::softmax, 1.0, 1);
  SelectionWorkspace ws;
  Rng rng(1);
  EXPECT_THROW(random_subset_distance(r.view(), 8, 10, true, rng, ws), UsageError);
  EXPECT_THROW(random_subset_distance(r.view(), 0, 10, true, rng, ws), UsageError);
  EXPECT_THROW(random_subset_distance(r.view(), 3, 0, true, rng, ws), UsageError);
  std::vector<TopNPoint> pts(1);
  const Index bad[1] = {8};
  EXPECT_THROW(top_n_profile(r.view(), bad, ws, pts), UsageError);
  EXPECT_EQ(parse_distance_form("norm"), DistanceForm::norm);
  EXPECT_THROW(parse_distance_form("mean"), UsageError);
}

}  // namespace
}  // namespace attnlab::analysis::selectivity
