// The GPT-2 selectivity source (analysis/selectivity/model_source.hpp): one unit per captured
// layer x head, and the rows the study forms from it are the model's own attention rows — the
// softmax of its q·k/√d over the causal window equals the map the model itself captures.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "attnlab/analysis/selectivity/model_source.hpp"
#include "attnlab/analysis/selectivity/row_weights.hpp"
#include "attnlab/core/error.hpp"
#include "tests/models/gpt2_reference.hpp"

namespace attnlab::analysis::selectivity {
namespace {

TEST(SelectivityModelSource, UnitsAreTheModelsOwnAttentionRows) {
  const auto c = testing::test_config();
  const models::gpt2::Gpt2Model model(testing::make_test_weights(c, 31));
  const Index n = 24, Q = 5, d = c.n_embd / c.n_head;
  const auto tokens = testing::random_tokens(n, c.vocab_size, 4);
  ModelSourceOptions mo;
  mo.layers = {c.n_layer - 1};
  mo.queries = Q;
  const SelectivitySource src = source_from_gpt2(model, tokens, mo, "test");
  EXPECT_EQ(src.kind, "model");
  EXPECT_TRUE(src.causal);
  ASSERT_EQ(src.num_heads(), c.n_head);
  EXPECT_EQ(src.num_queries(), Q);
  EXPECT_EQ(src.max_length(), n);
  EXPECT_EQ(src.token_dim(), d);
  EXPECT_EQ(src.heads[1].label, "L" + std::to_string(c.n_layer - 1) + ".H1");

  models::gpt2::ForwardOptions fo;
  fo.maps = {{c.n_layer - 1, 1}};
  const auto maps = model.forward(tokens, fo).maps;
  const SelectivityHead& h = src.heads[1];
  const NormalizerSetting ns{attention::Normalizer::softmax, std::sqrt(double(d)), 1.0};
  double worst = 0;
  for (Index i = 0; i < Q; ++i) {
    const Index pos = src.query_position(i);  // n − Q + i
    const Index len = pos + 1;
    std::vector<double> z(len), logits(len), alpha(len);
    for (Index j = 0; j < len; ++j) z[j] = h.q.row(i).dot(h.k.row(j));
    row_weights(ns, z, logits, alpha);
    for (Index j = 0; j < len; ++j)
      worst = std::max(worst, std::abs(alpha[j] - maps[0].weights(pos, j)));
  }
  EXPECT_LT(worst, 1e-5);

  mo.tokens = "hidden";
  mo.layers = {};
  const SelectivitySource hidden = source_from_gpt2(model, tokens, mo, "test");
  EXPECT_EQ(hidden.num_heads(), c.n_layer * c.n_head);
  EXPECT_EQ(hidden.token_dim(), c.n_embd);
}

TEST(SelectivityModelSource, RejectsWhatCannotBeCaptured) {
  const auto c = testing::test_config();
  const models::gpt2::Gpt2Model model(testing::make_test_weights(c, 32));
  const auto tokens = testing::random_tokens(12, c.vocab_size, 5);
  ModelSourceOptions mo;
  mo.layers = {c.n_layer};
  EXPECT_THROW(source_from_gpt2(model, tokens, mo, ""), UsageError);
  mo.layers = {};
  mo.queries = 13;
  EXPECT_THROW(source_from_gpt2(model, tokens, mo, ""), UsageError);
  mo.queries = 4;
  mo.tokens = "keys";
  EXPECT_THROW(source_from_gpt2(model, tokens, mo, ""), UsageError);
  mo.tokens = "value";
  EXPECT_THROW(source_from_gpt2(model, std::span(tokens).first(1), mo, ""), InputError);
}

}  // namespace
}  // namespace attnlab::analysis::selectivity
