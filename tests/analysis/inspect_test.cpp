// analysis/inspect: per-head aggregates against an independent fp64 computation from the
// reference model's full maps (over several chunks), labels exactly at their thresholds, a
// hand-built sink head labelled sink + collapsed, window=1 collapsing every head onto itself,
// the order test's equivariance verdicts, automatic maps, and the JSON round trip.
#include <gtest/gtest.h>

#include <filesystem>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "attnlab/analysis/inspect/head_inspection.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/models/gpt2/attention_override.hpp"
#include "attnlab/report/report_builder.hpp"
#include "attnlab/report/sections/inspect_section.hpp"
#include "tests/cli/gpt2_cli_support.hpp"
#include "tests/models/gpt2_reference.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {

using analysis::InspectOptions;
using analysis::InspectResult;
using models::gpt2::Gpt2Model;

struct Expected {
  double norm_entropy = 0, entropy = 0, support = 0, sink = 0, self = 0, prev = 0, max_w = 0;
  double top8 = 0, below = 0, wasted = 0, entries = 0;
  Index rows = 0, ent_rows = 0, top8_rows = 0;
};

// Per-head means straight from the fp64 maps of each chunk (definitions of head_inspection.hpp).
std::vector<Expected> expected_from_maps(const models::gpt2::Gpt2Weights& w,
                                         const std::vector<std::int32_t>& tokens, Index context) {
  const auto& c = w.config;
  std::vector<Expected> e(static_cast<std::size_t>(c.n_layer * c.n_head));
  for (Index begin = 0; begin < static_cast<Index>(tokens.size()); begin += context) {
    const Index end = std::min<Index>(begin + context, static_cast<Index>(tokens.size()));
    const std::vector<std::int32_t> chunk(tokens.begin() + begin, tokens.begin() + end);
    const auto ref = testing::reference_forward(w, chunk);
    for (Index l = 0; l < c.n_layer; ++l)
      for (Index h = 0; h < c.n_head; ++h) {
        Expected& x = e[static_cast<std::size_t>(l * c.n_head + h)];
        const Tensor3d& a = ref.weights[static_cast<std::size_t>(l)];
        for (Index i = 1; i < end - begin; ++i) {
          const Index n = i + 1;  // causal: keys 0..i
          std::vector<double> row;
          double H = 0, mx = 0;
          for (Index j = 0; j < n; ++j) {
            row.push_back(a(h, i, j));
            if (a(h, i, j) > 0) H -= a(h, i, j) * std::log(a(h, i, j));
            mx = std::max(mx, a(h, i, j));
          }
          ++x.rows;
          x.entropy += H;
          x.support += std::exp(H);
          ++x.ent_rows;
          x.norm_entropy += H / std::log(double(n));
          x.sink += a(h, i, 0);
          x.self += a(h, i, i);
          x.prev += a(h, i, i - 1);
          x.max_w += mx;
          for (double v : row) {
            x.below += v < 0.01 * mx;
            x.wasted += v < 0.01;
            x.entries += 1;
          }
          if (n > 8) {
            std::sort(row.rbegin(), row.rend());
            double t = 0;
            for (int k = 0; k < 8; ++k) t += row[k];
            x.top8 += t;
            ++x.top8_rows;
          }
        }
      }
  }
  return e;
}

TEST(InspectHeads, AggregatesMatchAnIndependentComputationOverChunks) {
  const auto c = testing::test_config();
  const auto w = testing::make_test_weights(c, 31);
  const Gpt2Model model(w);
  const auto tokens = testing::random_tokens(40, c.vocab_size, 32);
  InspectOptions o;
  o.context = 16;  // chunks of 16, 16 and 8 tokens
  o.order_test = false;
  const InspectResult r = analysis::inspect_gpt2_heads(model, tokens, nullptr, o, {});
  EXPECT_EQ(r.chunks, 3);
  EXPECT_EQ(r.tokens, 40);
  const auto want = expected_from_maps(w, tokens, 16);
  ASSERT_EQ(r.heads.size(), want.size());
  for (std::size_t k = 0; k < want.size(); ++k) {
    const auto& g = r.heads[k];
    const auto& x = want[k];
    SCOPED_TRACE(::testing::Message() << "layer " << g.layer << " head " << g.head);
    EXPECT_EQ(g.rows, x.rows);
    EXPECT_EQ(g.entries, static_cast<Index>(x.entries));
    EXPECT_NEAR(g.entropy, x.entropy / x.rows, 1e-5);
    EXPECT_NEAR(g.norm_entropy, x.norm_entropy / x.ent_rows, 1e-5);
    EXPECT_NEAR(g.effective_support, x.support / x.rows, 1e-4);
    EXPECT_NEAR(g.sink_mass, x.sink / x.rows, 1e-5);
    EXPECT_NEAR(g.self_mass, x.self / x.rows, 1e-5);
    EXPECT_NEAR(g.prev_mass, x.prev / x.rows, 1e-5);
    EXPECT_NEAR(g.max_weight, x.max_w / x.rows, 1e-5);
    EXPECT_NEAR(g.top8_mass, x.top8 / x.top8_rows, 1e-5);
    EXPECT_NEAR(g.sparsity, x.below / x.entries, 2.0 / x.entries);
    EXPECT_NEAR(g.wasted_share, x.wasted / x.entries, 2.0 / x.entries);
  }
}

TEST(InspectHeads, LabelsAreExactlyTheThresholdRules) {
  const auto c = testing::test_config();
  const Gpt2Model model(testing::make_test_weights(c, 33));
  const auto tokens = testing::random_tokens(48, c.vocab_size, 34);
  InspectOptions o;
  o.order_test = false;
  InspectResult r = analysis::inspect_gpt2_heads(model, tokens, nullptr, o, {});
  // Thresholds at the medians, so both outcomes occur.
  auto median = [&](double analysis::HeadDiagnostics::*f) {
    std::vector<double> v;
    for (const auto& h : r.heads) v.push_back(h.*f);
    std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  o.sink_threshold = median(&analysis::HeadDiagnostics::sink_mass);
  o.overloaded_threshold = median(&analysis::HeadDiagnostics::norm_entropy);
  o.collapsed_threshold = median(&analysis::HeadDiagnostics::self_mass);
  r = analysis::inspect_gpt2_heads(model, tokens, nullptr, o, {});
  int sinks = 0, overloaded = 0;
  for (const auto& h : r.heads) {
    EXPECT_EQ(h.sink, h.sink_mass > o.sink_threshold);
    EXPECT_EQ(h.overloaded, h.norm_entropy > o.overloaded_threshold);
    const bool collapsed =
        h.sink_mass > o.collapsed_threshold || h.self_mass > o.collapsed_threshold;
    EXPECT_EQ(h.collapsed, collapsed);
    if (h.collapsed) {
      EXPECT_EQ(h.collapsed_on,
                h.sink_mass > o.collapsed_threshold ? "first token" : "current token");
    }
    sinks += h.sink;
    overloaded += h.overloaded;
  }
  EXPECT_GT(sinks, 0);
  EXPECT_LT(sinks, static_cast<int>(r.heads.size()));
  EXPECT_GT(overloaded, 0);
  EXPECT_LT(overloaded, static_cast<int>(r.heads.size()));
}

// Layer 0 head 0 is built to attend to the first token: position 0 alone has a large input
// coordinate 0, which head 0's key reads with gain 20 and its constant query rewards.
TEST(InspectHeads, HandBuiltSinkHeadIsLabelledSinkAndCollapsed) {
  models::gpt2::Gpt2Config c;
  c.n_layer = 1;
  c.n_head = 2;
  c.n_embd = 16;
  c.n_positions = 32;
  c.vocab_size = 50;
  auto w = models::gpt2::random_gpt2_weights(c, 35);
  const Index C = c.n_embd, d = c.head_dim();
  for (Index v = 0; v < c.vocab_size; ++v) w.wte()[v * C] = 0.0f;
  for (Index p = 0; p < c.n_positions; ++p) w.wpe()[p * C] = p == 0 ? 10.0f : 0.0f;
  auto L0 = w.layer(0);
  for (Index i = 0; i < C; ++i)
    for (Index j = 0; j < d; ++j) {
      L0.qkv_w[i * 3 * C + j] = 0.0f;      // head 0 query weights
      L0.qkv_w[i * 3 * C + C + j] = 0.0f;  // head 0 key weights
    }
  for (Index j = 0; j < d; ++j) L0.qkv_b[j] = L0.qkv_b[C + j] = 0.0f;
  L0.qkv_b[0] = 1.0f;                   // q = e_0 for every token
  L0.qkv_w[0 * 3 * C + C + 0] = 20.0f;  // k_0 = 20 · LN(x)_0
  const Gpt2Model model(w);
  const auto tokens = testing::random_tokens(24, c.vocab_size, 36);
  InspectOptions o;
  o.order_test = false;
  const InspectResult r = analysis::inspect_gpt2_heads(model, tokens, nullptr, o, {});
  const auto& sink = r.at(0, 0);
  EXPECT_GT(sink.sink_mass, 0.99);
  EXPECT_TRUE(sink.sink);
  EXPECT_TRUE(sink.collapsed);
  EXPECT_EQ(sink.collapsed_on, "first token");
  EXPECT_EQ(sink.labels(), "sink, collapsed (first token)");
  EXPECT_LT(sink.norm_entropy, 0.05);
  EXPECT_NEAR(sink.effective_support, 1.0, 0.05);
  EXPECT_GT(sink.sparsity, 0.9);  // everything but token 0 is below 1% of the max
  const auto& other = r.at(0, 1);
  EXPECT_FALSE(other.sink);
  EXPECT_FALSE(other.collapsed);
  EXPECT_TRUE(other.overloaded);  // random init: near-uniform rows
  // The automatic maps pick the sink head first.
  ASSERT_FALSE(r.maps.empty());
  EXPECT_EQ(r.maps[0].layer, 0);
  EXPECT_EQ(r.maps[0].head, 0);
  EXPECT_EQ(r.maps[0].why, "largest sink mass");
}

TEST(InspectHeads, WindowOfOneCollapsesEveryHeadOntoItself) {
  const auto c = testing::test_config();
  const Gpt2Model model(testing::make_test_weights(c, 37));
  const auto tokens = testing::random_tokens(20, c.vocab_size, 38);
  InspectOptions o;
  o.order_test = false;
  o.attention = models::gpt2::parse_attention_override("window=1");
  const InspectResult r = analysis::inspect_gpt2_heads(model, tokens, nullptr, o, {});
  EXPECT_EQ(r.attention, "window=1");
  for (const auto& h : r.heads) {
    EXPECT_NEAR(h.self_mass, 1.0, 1e-6);  // exp(ℓ − lse) in fp32
    EXPECT_TRUE(h.collapsed);
    EXPECT_EQ(h.collapsed_on, "current token");
    EXPECT_TRUE(std::isnan(h.norm_entropy));  // one visible key: spread undefined
    EXPECT_FALSE(h.overloaded);
    EXPECT_EQ(h.entries, h.rows);  // one entry per row: the work a window saves
  }
}

TEST(InspectHeads, OrderTestSeparatesEquivariantFromOrderAwareConfigurations) {
  const auto c = testing::test_config();
  const Gpt2Model model(testing::make_test_weights(c, 39));
  const auto tokens = testing::random_tokens(30, c.vocab_size, 40);
  InspectOptions o;
  o.order_tokens = 24;
  o.auto_maps = 2;
  o.map_tokens = 12;
  const InspectResult r = analysis::inspect_gpt2_heads(model, tokens, nullptr, o, {});
  EXPECT_EQ(r.order_tokens, 24);
  ASSERT_EQ(r.order.size(), 10u);  // 5 encodings × {causal, bidirectional}
  for (const auto& row : r.order) {
    ASSERT_EQ(row.per_layer.size(), static_cast<std::size_t>(c.n_layer));
    if (row.positions == "none" && !row.causal) {
      EXPECT_LT(row.final_change, 1e-5);
      for (double v : row.per_layer) EXPECT_LT(v, 1e-5);
    } else {
      EXPECT_GT(row.final_change, 1e-3) << row.positions << " causal=" << row.causal;
    }
  }
  ASSERT_EQ(r.maps.size(), 2u);
  for (const auto& m : r.maps) {
    EXPECT_EQ(m.weights.rows(), 12);
    EXPECT_EQ(m.tokens.size(), 12u);
    EXPECT_TRUE(std::isnan(m.weights(0, 1)));  // causal mask
    for (Index i = 0; i < 12; ++i) {
      double s = 0;
      for (Index j = 0; j <= i; ++j) s += m.weights(i, j);
      EXPECT_NEAR(s, 1.0, 1e-9);
    }
  }
}

TEST(InspectHeads, JsonRoundTripAndRendering) {
  const auto c = testing::test_config();
  const Gpt2Model model(testing::make_test_weights(c, 41));
  const auto tokens = testing::random_tokens(30, c.vocab_size, 42);
  InspectOptions o;
  o.order_tokens = 16;
  o.map_tokens = 10;
  const InspectResult r =
      analysis::inspect_gpt2_heads(model, tokens, nullptr, o, {"m", true, "t", "x\xff"}, 99);
  const nlohmann::json j = analysis::to_json(r);
  const std::string text = j.dump();  // must be valid UTF-8 (strict dump throws otherwise)
  const InspectResult back = analysis::inspect_from_json(nlohmann::json::parse(text));
  EXPECT_EQ(analysis::to_json(back).dump(), text);
  EXPECT_EQ(back.source.text, "x\\xff");
  const std::string html = report::render_inspect_section(j);
  EXPECT_NE(html.find("RANDOM weights"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("order test"), std::string::npos);
  nlohmann::json broken = j;
  broken["heads"].erase(0);
  EXPECT_THROW(analysis::inspect_from_json(broken), FormatError);
  broken = j;
  broken.erase("order_test");
  EXPECT_THROW(analysis::inspect_from_json(broken), FormatError);
}

// The report study: attnlab's trained tiny LM by default (with the same model before training
// as a labelled contrast), the files named by ATTNLAB_GPT2_DIR when set (labelled as real
// weights), and a clear error when that directory lacks the files.
TEST(InspectStudy, TrainedTinyLmByDefaultAndGpt2DirWhenSet) {
  if (!std::filesystem::exists("/usr/bin/bible")) GTEST_SKIP() << "bible-kjv not installed";
  ::unsetenv("ATTNLAB_GPT2_DIR");
  report::ReportOptions ro;
  ro.quick = true;
  const nlohmann::json trained = report::run_inspect_study(ro);
  EXPECT_EQ(trained["model_kind"], "tiny_lm");
  EXPECT_FALSE(trained["source"]["random_weights"].get<bool>());
  EXPECT_NE(trained["source"]["model"].get<std::string>().find("tiny LM"), std::string::npos);
  EXPECT_GT(trained["text"]["tokens"].get<int>(), 500);
  EXPECT_FALSE(trained["order_test"]["rows"].empty());
  // Training made the rows more peaked than at initialization, in every layer.
  const auto& before = trained["before_training"]["layers"];
  const analysis::InspectResult r = analysis::inspect_from_json(trained);
  ASSERT_EQ(before.size(), static_cast<std::size_t>(r.n_layer));
  for (Index l = 0; l < r.n_layer; ++l) {
    double ent = 0;
    for (Index h = 0; h < r.n_head; ++h) ent += r.at(l, h).norm_entropy / r.n_head;
    EXPECT_LT(ent, before[l]["norm_entropy"].get<double>() - 0.02) << "layer " << l;
  }
  const std::string trained_html = report::render_inspect_section(trained);
  EXPECT_NE(trained_html.find("Before training"), std::string::npos);
  EXPECT_EQ(trained_html.find("RANDOM weights"), std::string::npos);

  testing::TempDir dir;
  const auto c = testing::test_config();
  auto w = testing::make_test_weights(c, 45);
  models::gpt2::save_gpt2_hf(w, dir.path());
  ::setenv("ATTNLAB_GPT2_DIR", dir.path().c_str(), 1);
  EXPECT_THROW(report::run_inspect_study(ro), InputError);  // no tokenizer files there
  // A byte-level tokenizer needs V >= 256: write a 300-token model's vocab as bytes + specials.
  testing::write_byte_tokenizer(dir.path());
  const nlohmann::json real = report::run_inspect_study(ro);
  ::unsetenv("ATTNLAB_GPT2_DIR");
  EXPECT_FALSE(real["source"]["random_weights"].get<bool>());
  EXPECT_EQ(real["source"]["model"], (dir / "model.safetensors").string());
  const std::string html = report::render_inspect_section(real);
  EXPECT_EQ(html.find("RANDOM weights"), std::string::npos);
  EXPECT_NE(html.find("Real weights from"), std::string::npos);
}

TEST(InspectHeads, RejectsBadOptions) {
  const auto c = testing::test_config();
  const Gpt2Model model(testing::make_test_weights(c, 43));
  const auto tokens = testing::random_tokens(10, c.vocab_size, 44);
  InspectOptions o;
  // A one-token text is the input's fault (exit 3); --max-tokens 1 is the user's flag (exit 2).
  EXPECT_THROW(analysis::inspect_gpt2_heads(model, std::vector<std::int32_t>{1}, nullptr, o, {}),
               InputError);
  o.max_tokens = 1;
  EXPECT_THROW(analysis::inspect_gpt2_heads(model, tokens, nullptr, o, {}), UsageError);
  o.max_tokens = 0;
  o.context = c.n_positions + 1;
  EXPECT_THROW(analysis::inspect_gpt2_heads(model, tokens, nullptr, o, {}), UsageError);
  o.context = 0;
  o.maps = {{5, 0}};
  EXPECT_THROW(analysis::inspect_gpt2_heads(model, tokens, nullptr, o, {}), UsageError);
}

}  // namespace
}  // namespace attnlab
