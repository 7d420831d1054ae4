// The GPT-2 selectivity source (analysis/selectivity/model_source.hpp): one unit per captured
// layer x head, and the rows the study forms from it are the model's own attention rows — the
// softmax of its q·k/√d over the causal window equals the map the model itself captures.
#include <gtest/gtest.h>

#include <filesystem>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "attnlab/analysis/selectivity/model_source.hpp"
#include "attnlab/analysis/selectivity/row_weights.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/models/gpt2/bpe_tokenizer.hpp"
#include "attnlab/report/report_builder.hpp"
#include "attnlab/report/sections/selectivity_section.hpp"
#include "tests/cli/gpt2_cli_support.hpp"
#include "tests/models/gpt2_reference.hpp"
#include "tests/support/test_support.hpp"

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

// The report section runs the instruments on a GPT-2 only when ATTNLAB_GPT2_DIR names one, and
// renders it as its own subsection; without tokenizer files there it is a clear InputError.
TEST(SelectivityModelSource, ReportCapturesTheGpt2InAttnlabGpt2Dir) {
  ::unsetenv("ATTNLAB_GPT2_DIR");
  ::unsetenv("ATTNLAB_GPT2_TEXT");
  report::ReportOptions ro;
  ro.quick = true;
  testing::TempDir dir;
  auto c = testing::test_config();
  c.n_positions = 160;
  models::gpt2::save_gpt2_hf(testing::make_test_weights(c, 33), dir.path());
  ::setenv("ATTNLAB_GPT2_DIR", dir.path().c_str(), 1);
  EXPECT_THROW(report::run_selectivity_study(ro), InputError);  // no tokenizer files yet
  testing::write_byte_tokenizer(dir.path());
  const nlohmann::json j = report::run_selectivity_study(ro);
  ::unsetenv("ATTNLAB_GPT2_DIR");
  ASSERT_TRUE(j.contains("gpt2_capture"));
  const auto& cap = j["gpt2_capture"];
  EXPECT_EQ(cap["source"]["kind"], "model");
  EXPECT_EQ(cap["source"]["heads"], c.n_layer * c.n_head);
  EXPECT_EQ(cap["source"]["length"], 160);  // the sample text is longer than the window
  EXPECT_EQ(cap["options"]["lengths"], nlohmann::json::array({32, 64, 128}));
  EXPECT_EQ(j["source"]["kind"], "synthetic");  // the main study is unchanged
  const std::string html = report::render_selectivity_section(j);
  EXPECT_NE(html.find("The same instruments on a real model"), std::string::npos);
  EXPECT_NE(html.find("GPT-2 vs the paper"), std::string::npos);

  EXPECT_FALSE(j.contains("tiny_lm_capture"));
  // Without ATTNLAB_GPT2_DIR the capture runs on attnlab's trained tiny LM instead.
  if (!std::filesystem::exists("/usr/bin/bible")) GTEST_SKIP() << "bible-kjv not installed";
  const nlohmann::json plain = report::run_selectivity_study(ro);
  EXPECT_FALSE(plain.contains("gpt2_capture"));
  ASSERT_TRUE(plain.contains("tiny_lm_capture"));
  EXPECT_EQ(plain["tiny_lm_capture"]["source"]["kind"], "model");
  EXPECT_EQ(plain["tiny_lm_capture"]["source"]["length"], 128);  // the quick LM's context
  const std::string tiny_html = report::render_selectivity_section(plain);
  EXPECT_EQ(tiny_html.find("The same instruments on a real model"), std::string::npos);
  EXPECT_NE(tiny_html.find("The same instruments on the trained tiny LM"), std::string::npos);
}

}  // namespace
}  // namespace attnlab::analysis::selectivity
