// Spectral study: κ(G³) computed directly equals κ(G)³ to 1e-8 on well-conditioned inputs
// (n ≤ D and the κ_D path for n > D), κ_D(G) = κ(C), fp64 limits are flagged rather than
// reported, and the result round-trips through JSON. Runs on user NPY data (no dataset needed).
#include "attnlab/analysis/spectral/spectrum.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "attnlab/analysis/ntk/analytic_ntk.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/linalg.hpp"
#include "attnlab/io/npy.hpp"
#include "tests/nn/nn_test_util.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::analysis::spectral {
namespace {

using testing::random_unit_rows;

TEST(Spectrum, CubedKappaEqualsKappaCubedWhenWellConditioned) {
  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    const MatrixD x = random_unit_rows(20, 60, seed);  // centered Gaussian rows: κ(G) ~ 10
    const SpectrumRow r = spectrum_row(x, 0.05);
    ASSERT_TRUE(r.kappa_g_resolved);
    ASSERT_TRUE(r.kappa_g3_resolved);
    EXPECT_LT(r.kappa_g, 100.0);
    EXPECT_NEAR(r.kappa_g3 / std::pow(r.kappa_g, 3.0), 1.0, 1e-8) << "seed " << seed;
    EXPECT_NEAR(r.cube_ratio, 1.0, 1e-8);
    EXPECT_EQ(r.gram.rank, 20);
    EXPECT_EQ(r.width_basis, "κ");
    EXPECT_NEAR(r.width_kappa6, std::pow(r.kappa_g, 6.0), 1e-12 * r.width_kappa6);
  }
}

TEST(Spectrum, KappaDPathForMoreRowsThanColumns) {
  const MatrixD x = random_unit_rows(80, 12, 4, 0.2);  // n > D: rank ≤ D
  const SpectrumRow r = spectrum_row(x, 0.05);
  EXPECT_EQ(r.gram.rank, 12);
  EXPECT_FALSE(r.gram.resolved);  // λ_min of G is 0
  ASSERT_TRUE(r.kappa_g_resolved);
  EXPECT_EQ(r.width_basis, "κ_D");
  const VectorD c = symmetric_eigenvalues(x.transpose() * x);
  EXPECT_NEAR(r.kappa_g, c(11) / c(0), 1e-9 * r.kappa_g);
  EXPECT_NEAR(r.kappa_c, r.kappa_g, 1e-9 * r.kappa_g);
  EXPECT_NEAR(r.kappa_g3 / std::pow(r.kappa_g, 3.0), 1.0, 1e-8);
  // The ReLU NTK stays full rank; its κ is what the tables compare.
  const VectorD t = symmetric_eigenvalues(ntk::relu_ntk_infinite(x));
  EXPECT_TRUE(r.ntk_raw.resolved);
  EXPECT_NEAR(r.ntk_raw.kappa, t(79) / t(0), 1e-9 * r.ntk_raw.kappa);
  EXPECT_NEAR(r.ntk_ratio, r.ntk_attn.kappa / r.ntk_raw.kappa, 1e-15 * r.ntk_ratio);
  EXPECT_GT(r.bernstein_attn, 0.0);
}

TEST(Spectrum, AZeroColumnIsFlaggedAndTheWidthsUseTheNumericalRank) {
  MatrixD x = random_unit_rows(40, 10, 5, 0.3);
  x.col(3).setZero();  // like a pixel that is 0 in every sampled image
  for (Index i = 0; i < x.rows(); ++i) x.row(i) /= x.row(i).norm();
  const SpectrumRow r = spectrum_row(x, 0.05);
  EXPECT_EQ(r.gram.rank, 9);
  EXPECT_FALSE(r.kappa_g_resolved);  // λ_D = 0: κ_D is beyond fp64
  EXPECT_FALSE(r.kappa_c_resolved);
  EXPECT_EQ(r.width_basis, "κ_r");
  EXPECT_TRUE(std::isfinite(r.width_kappa6));
  EXPECT_LT(r.kappa_g_rank_error, 1e-6);
}

TEST(Spectrum, StudyOnUserDataRoundTripsThroughJson) {
  testing::TempDir dir;
  const MatrixD raw = testing::random_matrix(30, 16, 6).cwiseAbs();
  io::save_npy(dir / "x.npy", raw);
  io::DataOptions base;
  base.x_path = dir / "x.npy";
  base.seed = 9;
  SpectrumOptions o;
  o.sizes = {10, 24};
  o.class_sets = {{}};
  const SpectrumResult r = run_spectrum_study(base, o);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[1].n, 24);
  EXPECT_EQ(r.rows[0].class_set, "all");
  EXPECT_EQ(r.dim, 16);
  const nlohmann::json j = to_json(r);
  EXPECT_EQ(to_json(spectrum_from_json(j)), j);
  // Same seed, same rows: deterministic.
  EXPECT_EQ(to_json(run_spectrum_study(base, o))["rows"][1]["ntk_raw"], j["rows"][1]["ntk_raw"]);
  EXPECT_THROW(spectrum_from_json(nlohmann::json{{"study", "spectrum"}}), FormatError);
  o.sizes = {1};
  EXPECT_THROW(run_spectrum_study(base, o), UsageError);
  o.sizes = {40};
  EXPECT_THROW(run_spectrum_study(base, o), InputError);  // only 30 rows
  o.sizes = {10};
  o.class_sets = {{0, 1}};
  EXPECT_THROW(run_spectrum_study(base, o), UsageError);  // classes need labels
}

}  // namespace
}  // namespace attnlab::analysis::spectral

namespace attnlab::analysis::spectral {
namespace {

TEST(Spectrum, SubsetSourceDrawsExactlyLikeTheDatasetLoader) {
  if (!std::filesystem::exists(std::filesystem::path(io::kFashionMnistDefaultDir) /
                               "train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist not installed";
  }
  io::DataOptions base;
  base.seed = 4;
  const SubsetSource source(base);
  for (const std::vector<int>& classes : {std::vector<int>{}, std::vector<int>{6, 0}}) {
    io::DataOptions d = base;
    d.classes = classes;
    d.n = 37;
    const io::StudyData ref = io::load_study_data(d);
    const io::StudyData got = source.draw(classes, 37);
    EXPECT_EQ(got.x, ref.x);
    EXPECT_EQ(got.y, ref.y);
    EXPECT_EQ(got.class_names, ref.class_names);
    EXPECT_EQ(got.source, ref.source);
  }
  EXPECT_THROW(source.draw({0, 12}, 10), UsageError);
}

}  // namespace
}  // namespace attnlab::analysis::spectral
