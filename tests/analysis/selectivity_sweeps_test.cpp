// The selectivity study end to end on a small synthetic population: shapes, invariants of the
// numbers, determinism for a seed across thread counts, JSON round trip, CSV tables and the
// validation of options against the source.
#include "attnlab/analysis/selectivity/sweeps.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "attnlab/core/error.hpp"
#include "attnlab/core/threads.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::analysis::selectivity {
namespace {

using attention::Normalizer;

bool small_scale() {
  const char* s = std::getenv("ATTNLAB_TEST_SCALE");
  return s != nullptr && std::string(s) == "small";
}

SyntheticOptions small_population(std::uint64_t seed) {
  SyntheticOptions o;
  o.heads = 6;
  o.queries = 4;
  o.length = small_scale() ? 48 : 64;
  o.dim = 8;
  o.gain_spread = 0.8;
  o.value_spread = 0.8;
  o.seed = seed;
  return o;
}

SelectivityOptions small_options() {
  SelectivityOptions o;
  const Index L = small_scale() ? 48 : 64;
  o.lengths = {16, 32, L};
  o.counts = {1, 4, 10};
  o.separability_counts = {1, 2, 4, 8};
  o.draws = 20;
  o.ks_draws = 4;
  o.max_queries = 4;
  o.sensitivity_queries = 2;
  o.temperatures = {1e-3, 0.1, 1.0, 10.0};
  o.seed = 3;
  return o;
}

nlohmann::json without_timings(nlohmann::json j) {
  j.erase("timings_s");
  j.erase("seconds");
  return j;
}

TEST(SelectivitySweeps, ShapesAndInvariants) {
  const SelectivitySource src = make_synthetic_source(small_population(1));
  const SelectivityOptions o = small_options();
  const SelectivityResult r = run_selectivity(src, o);
  ASSERT_EQ(r.normalizers.size(), 4u);
  EXPECT_EQ(r.temperature, std::sqrt(8.0));
  EXPECT_EQ(r.reference_length, o.lengths.back());
  for (const auto& n : r.normalizers) {
    SCOPED_TRACE(n.name);
    ASSERT_EQ(n.length_sweep.size(), 3u);
    ASSERT_EQ(n.count_sweep.size(), 3u);
    ASSERT_EQ(n.critical.size(), 3u);
    ASSERT_EQ(n.separability.size(), 4u);
    ASSERT_EQ(n.sensitivity.size(), 4u);
    ASSERT_EQ(n.band.size(), 3u);
    for (const auto& p : n.count_sweep) {
      EXPECT_EQ(p.rows, 6 * 4);
      ASSERT_EQ(p.top_sum.size(), 6u);
      for (std::size_t h = 0; h < 6; ++h) {
        EXPECT_GT(p.top_sum[h], 0.0);
        EXPECT_GT(p.random_sum[h], 0.0);
        EXPECT_GT(p.mass[h], 0.0);
        EXPECT_LE(p.mass[h], 1.0 + 1e-12);
        EXPECT_GE(p.separable[h], 0.0);
        EXPECT_LE(p.separable[h], 1.0);
      }
    }
    // Top-N mass grows with N; N_s/N = 1 at N = 1 (s is that token itself).
    for (std::size_t h = 0; h < 6; ++h) {
      EXPECT_LE(n.count_sweep[0].mass[h], n.count_sweep[1].mass[h]);
      EXPECT_EQ(n.separability[0].ratio[h], 1.0);
    }
    for (const auto& c : n.critical) {
      EXPECT_FALSE(c.scan.empty());
      if (c.critical >= 0) {
        EXPECT_GE(c.critical, 1);
        EXPECT_LT(c.critical, c.length);
        EXPECT_LE(c.bracket_low, c.critical);
      }
      for (const auto& k : c.scan) {
        EXPECT_EQ(k.n, 6);  // head unit: one value per head
        EXPECT_GE(k.p_value, 0.0);
        EXPECT_LE(k.p_value, 1.0);
      }
    }
    for (const auto& s : n.sensitivity) {
      EXPECT_LE(s.spectral.max_row, s.bound_spectral * (1 + 1e-9));
      EXPECT_LE(s.tied_spectral.max_row, s.bound_spectral * (1 + 1e-9));
      EXPECT_LE(s.entry.max_row, s.bound_entry * (1 + 1e-9));
      ASSERT_EQ(s.fd.size(), 3u);
    }
  }
  // Softmax: the band of Lemma 1 always holds, and the tied rows reach T·‖J‖₂ = 1/2 at T = 1e-3.
  const NormalizerResult& sm = *r.find("softmax");
  EXPECT_EQ(sm.summary.band_inside_share, 1.0);
  EXPECT_NEAR(sm.summary.tied_spectral_times_t, 0.5, 1e-9);
  EXPECT_NEAR(r.find("sparsemax")->summary.tied_spectral_times_t, 1.0, 1e-9);
  EXPECT_NEAR(r.find("entmax15")->summary.tied_spectral_times_t, std::sqrt(0.5), 1e-9);
  EXPECT_EQ(r.find("ssmax")->summary.band_inside_share, 1.0);
  // Sparsemax rows have exact zeros: outside the band.
  EXPECT_LT(r.find("sparsemax")->summary.band_inside_share, 1.0);
  // At T = 1e-3 a step ε = 1e-3 along the tied rows' top eigenvector moves the logits by ~0.7:
  // the secant is already below the derivative; ε = 0.1 saturates (≤ √2/(2ε) = 7 vs 500). At
  // T = 10 the smallest step matches the derivative.
  const auto& cold = sm.sensitivity.front();
  const auto& warm = sm.sensitivity.back();
  EXPECT_LT(cold.fd[0].tied_top.mean, 0.95 * cold.tied_spectral.mean);
  EXPECT_GT(cold.fd[0].tied_top.mean, 0.5 * cold.tied_spectral.mean);
  EXPECT_LT(cold.fd[1].tied_top.max_row, std::sqrt(2.0) / 0.2 + 1e-9);
  EXPECT_NEAR(warm.fd[0].tied_top.mean / warm.tied_spectral.mean, 1.0, 1e-3);
}

TEST(SelectivitySweeps, DeterministicForASeedWhateverTheThreadCount) {
  const SelectivitySource src = make_synthetic_source(small_population(2));
  SelectivityOptions o = small_options();
  o.normalizers = {Normalizer::softmax, Normalizer::entmax15};
  set_num_threads(1);
  const auto a = without_timings(to_json(run_selectivity(src, o)));
  set_num_threads(2);
  const auto b = without_timings(to_json(run_selectivity(src, o)));
  EXPECT_EQ(a, b);
  o.seed = 4;
  const auto c = without_timings(to_json(run_selectivity(src, o)));
  EXPECT_NE(a, c);
  set_num_threads(0);
}

TEST(SelectivitySweeps, JsonRoundTripAndCsvTables) {
  const SelectivitySource src = make_synthetic_source(small_population(5));
  SelectivityOptions o = small_options();
  o.ks_unit = KsUnit::query;
  o.form = DistanceForm::norm;
  SelectivityResult r = run_selectivity(src, o);
  SyntheticOptions base = small_population(5);
  r.spread_sweep = run_spread_sweep(base, o, std::vector<double>{0.0, 2.0}, 32);
  ASSERT_EQ(r.spread_sweep.size(), 2u);
  EXPECT_EQ(r.spread_sweep[1].critical.size(), 4u);
  EXPECT_EQ(r.normalizers[0].critical[0].scan[0].n, 6 * 4);  // query unit: one value per row
  const nlohmann::json j = to_json(r);
  const SelectivityResult back = selectivity_from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(to_json(back), nlohmann::json::parse(j.dump()));
  EXPECT_EQ(back.options.ks_unit, KsUnit::query);
  EXPECT_EQ(back.options.form, DistanceForm::norm);
  const auto tables = to_csv_tables(r);
  ASSERT_EQ(tables.size(), 6u);
  EXPECT_EQ(tables[0].first, "length_sweep.csv");
  // Header + one line per normalizer, length and head.
  EXPECT_EQ(std::count(tables[0].second.begin(), tables[0].second.end(), '\n'), 1 + 4 * 3 * 6);
  EXPECT_EQ(tables[2].second.rfind("normalizer,L,N,phase,D,p,n,m,critical_N\n", 0), 0u);
  nlohmann::json broken = j;
  broken["normalizers"][0].erase("band");
  EXPECT_THROW(selectivity_from_json(broken), FormatError);
  broken = j;
  broken["version"] = 99;
  EXPECT_THROW(selectivity_from_json(broken), FormatError);
}

TEST(SelectivitySweeps, UniformAttentionIsIndistinguishableFromRandomSelection) {
  // q = 0: every weight is 1/L, the "top-N" set is the first N keys, one arbitrary N-subset. The
  // query-level test cannot tell it from random subsets: the critical N is small.
  SelectivitySource src = make_synthetic_source(small_population(6));
  for (auto& h : src.heads) h.q.setZero();
  SelectivityOptions o = small_options();
  o.normalizers = {Normalizer::softmax};
  o.ks_unit = KsUnit::query;
  o.sweep_length = o.sweep_count = o.sweep_separability = o.sweep_sensitivity = false;
  const SelectivityResult r = run_selectivity(src, o);
  for (const auto& c : r.normalizers[0].critical) {
    EXPECT_GE(c.critical, 1);
    EXPECT_LE(c.critical, 4) << "L=" << c.length;
  }
  // A sharply selective population (large gain) is distinguishable at N = 1.
  SyntheticOptions sharp = small_population(6);
  sharp.gain_spread = 0.0;
  SelectivitySource s2 = make_synthetic_source(sharp);
  for (auto& h : s2.heads) h.q *= 4.0;
  const SelectivityResult r2 = run_selectivity(s2, o);
  for (const auto& c : r2.normalizers[0].critical) EXPECT_LT(c.scan[0].p_value, 0.05);
}

TEST(SelectivitySweeps, CausalSourcesUseTheWindowEndingAtTheQuery) {
  const Tensor3d q = testing::random_tensor(4, 6, 4, 1), k = testing::random_tensor(4, 20, 4, 2);
  const Tensor3d v = testing::random_tensor(4, 20, 3, 3);
  const SelectivitySource src = source_from_arrays(q, k, v, true, "value", "causal test");
  SelectivityOptions o;
  o.lengths = {10, 20};
  o.counts = {1, 3};
  o.separability_counts = {1, 2};
  o.draws = 10;
  o.ks_draws = 4;
  o.temperatures = {0.5};
  const SelectivityResult r = run_selectivity(src, o);
  // At L = 20 only the last query (position 19) sees 20 keys; at L = 10 all six queries
  // (positions 14..19) qualify.
  EXPECT_EQ(r.normalizers[0].length_sweep[1].rows, 4);
  EXPECT_EQ(r.normalizers[0].length_sweep[0].rows, 4 * 6);
}

TEST(SelectivitySweeps, ValidationNamesTheProblem) {
  const SelectivitySource src = make_synthetic_source(small_population(7));
  auto expect_usage = [&](auto mutate) {
    SelectivityOptions o = small_options();
    mutate(o);
    EXPECT_THROW(validate_options(o, src), UsageError);
  };
  expect_usage([](SelectivityOptions& o) { o.lengths = {16, 4096}; });
  expect_usage([](SelectivityOptions& o) { o.counts = {1, 64}; });
  expect_usage([](SelectivityOptions& o) { o.length_sweep_count = 16; });
  expect_usage([](SelectivityOptions& o) { o.normalizers = {Normalizer::none}; });
  expect_usage([](SelectivityOptions& o) {
    o.normalizers = {Normalizer::softmax, Normalizer::softmax};
  });
  expect_usage([](SelectivityOptions& o) { o.ks_level = 1.0; });
  expect_usage([](SelectivityOptions& o) { o.critical_grid = {4, 2}; });
  expect_usage([](SelectivityOptions& o) { o.draws = 0; });
  expect_usage([](SelectivityOptions& o) { o.temperatures = {-1.0}; });
  // Two heads can never give p < 0.05 with one value per head.
  SyntheticOptions two = small_population(7);
  two.heads = 2;
  EXPECT_THROW(validate_options(small_options(), make_synthetic_source(two)), UsageError);
  SelectivityOptions per_query = small_options();
  per_query.ks_unit = KsUnit::query;
  EXPECT_NO_THROW(validate_options(per_query, make_synthetic_source(two)));
  // Scores that overflow are a numeric error.
  SelectivitySource huge = src;
  huge.heads[0].q *= 1e200;
  huge.heads[0].k *= 1e200;
  EXPECT_THROW(run_selectivity(huge, small_options()), NumericError);
  EXPECT_NEAR(log_log_slope(std::vector<double>{1, 10, 100}, std::vector<double>{2, 20, 200}), 1.0,
              1e-12);
}

}  // namespace
}  // namespace attnlab::analysis::selectivity
