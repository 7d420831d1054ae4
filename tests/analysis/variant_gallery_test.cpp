#include "attnlab/analysis/gallery/variant_gallery.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "attnlab/core/error.hpp"

namespace attnlab::analysis {
namespace {

const VariantMap& find(const GalleryResult& g, const std::string& id) {
  for (const auto& m : g.variants)
    if (m.id == id) return m;
  throw std::runtime_error("no variant " + id);
}

TEST(VariantGallery, MapsHaveTheirVariantsStructure) {
  GalleryOptions o;
  o.length = 32;
  const GalleryResult g = run_variant_gallery(o);
  const Index N = 32;
  ASSERT_GE(g.variants.size(), 13u);
  for (const auto& m : g.variants) {
    ASSERT_EQ(m.weights.rows(), N);
    if (m.id == "linearized") continue;  // unnormalized scores
    for (Index i = 0; i < N; ++i) {
      double sum = 0;
      for (Index j = 0; j < N; ++j)
        if (!std::isnan(m.weights(i, j))) sum += m.weights(i, j);
      EXPECT_NEAR(sum, 1.0, 1e-9) << m.id << " row " << i;
    }
  }
  // Causal: upper triangle masked, so (N+1)/(2N) of the entries are computed.
  EXPECT_NEAR(find(g, "causal").computed_share, (N + 1.0) / (2.0 * N), 1e-12);
  EXPECT_TRUE(std::isnan(find(g, "causal").weights(0, 1)));
  // Window 8: key i-8 masked, sinks add keys 0 and 1 back.
  EXPECT_TRUE(std::isnan(find(g, "window8").weights(20, 12)));
  EXPECT_FALSE(std::isnan(find(g, "window8").weights(20, 13)));
  EXPECT_TRUE(std::isnan(find(g, "window8").weights(20, 0)));
  EXPECT_FALSE(std::isnan(find(g, "sinks2_window8").weights(20, 0)));
  EXPECT_FALSE(std::isnan(find(g, "sinks2_window8").weights(20, 1)));
  // Sparse normalizers and top-k produce exact zeros; softmax does not.
  EXPECT_EQ(find(g, "causal").zero_share, 0.0);
  EXPECT_GT(find(g, "sparsemax").zero_share, 0.3);
  EXPECT_GT(find(g, "topk4").zero_share, 0.3);
  // Decay concentrates weight near the diagonal relative to plain causal softmax.
  EXPECT_GT(find(g, "decay").max_weight, find(g, "causal").max_weight);
}

TEST(VariantGallery, JsonRoundTripAndDeterminism) {
  GalleryOptions o;
  o.length = 16;
  o.seed = 3;
  const GalleryResult a = run_variant_gallery(o), b = run_variant_gallery(o);
  const nlohmann::json ja = to_json(a);
  EXPECT_EQ(ja.dump(), to_json(b).dump());
  const GalleryResult back = gallery_from_json(ja);
  EXPECT_EQ(to_json(back).dump(), ja.dump());
  o.seed = 4;
  EXPECT_NE(to_json(run_variant_gallery(o)).dump(), ja.dump());
  nlohmann::json broken = ja;
  broken["variants"][0].erase("weights");
  EXPECT_THROW(gallery_from_json(broken), FormatError);
  o.dim = 3;
  EXPECT_THROW(run_variant_gallery(o), UsageError);
}

}  // namespace
}  // namespace attnlab::analysis
