// Encoder inspection: segment packing, per-head aggregates against an independent computation
// from captured maps, the label rules, a window-1 override that collapses every head on itself,
// the order test, JSON + rendering, and bad options.
#include <gtest/gtest.h>

#include <cmath>

#include "attnlab/analysis/inspect/encoder_inspection.hpp"
#include "attnlab/analysis/selectivity/model_source.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/models/bert/model.hpp"
#include "attnlab/report/sections/encoder_section.hpp"

namespace attnlab {
namespace {

using namespace models::bert;
using analysis::EncoderInspectOptions;

// [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 then words and punctuation.
const char* kVocab =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\nlamp\nis\nburning\nsea\nwas\ncalm\n.\n,\n!\n";
const char* kText =
    "The lamp is burning. The sea was calm, the lamp is burning!\n"
    "The sea was calm. The lamp, the lamp.\n"
    "The sea is burning, the lamp was calm.\n";

struct Fixture {
  WordPieceTokenizer tok = WordPieceTokenizer::from_vocab_text(kVocab, "vocab");
  BertModel model{[] {
    BertConfig c;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 2;
    c.hidden_size = 16;
    c.intermediate_size = 32;
    c.vocab_size = 14;
    c.max_position_embeddings = 32;
    BertWeights w = random_bert_weights(c, 9, 0.1);
    for (auto& x : w.params) x *= 10.0f;  // far from uniform attention
    return w;
  }()};
};

TEST(EncoderSegments, PackLinesIntoClsSepSegments) {
  Fixture f;
  const auto segs = analysis::encoder_segments(f.tok, kText, 10);
  std::vector<std::int32_t> inner;
  for (const auto& s : segs) {
    ASSERT_LE(s.size(), 10u);
    EXPECT_EQ(s.front(), f.tok.cls_id());
    EXPECT_EQ(s.back(), f.tok.sep_id());
    inner.insert(inner.end(), s.begin() + 1, s.end() - 1);
  }
  std::vector<std::int32_t> all;
  for (const char* line :
       {"The lamp is burning. The sea was calm, the lamp is burning!",
        "The sea was calm. The lamp, the lamp.", "The sea is burning, the lamp was calm."}) {
    const auto p = f.tok.encode_pieces(line);
    all.insert(all.end(), p.begin(), p.end());
  }
  EXPECT_EQ(inner, all);  // nothing lost or reordered
  EXPECT_LT(analysis::encoder_segments(f.tok, kText, 10, 10).size(), segs.size());
  EXPECT_THROW(analysis::encoder_segments(f.tok, kText, 2), UsageError);
}

TEST(EncoderInspection, AggregatesMatchAnIndependentComputation) {
  Fixture f;
  EncoderInspectOptions o;
  o.max_length = 12;
  const auto r = analysis::inspect_encoder_heads(f.model, f.tok, kText, o, "m", "t");
  const auto segs = analysis::encoder_segments(f.tok, kText, 12);
  ASSERT_EQ(r.segments, static_cast<Index>(segs.size()));
  BertForwardOptions fo;
  fo.capture_maps = true;
  fo.value_norms = true;
  for (Index l = 0; l < 2; ++l)
    for (Index h = 0; h < 2; ++h) {
      double cls = 0, sep = 0, punct = 0, prev = 0, nw_cls = 0, rows = 0, ent = 0;
      for (const auto& s : segs) {
        const auto out = f.model.forward({{s, {}, {}}}, fo);
        const Tensor3f& a = out.captures[0].maps[static_cast<std::size_t>(l)];
        const MatrixF& vn = out.captures[0].value_norms[static_cast<std::size_t>(l)];
        const auto n = static_cast<Index>(s.size());
        for (Index i = 0; i < n; ++i) {
          double tot = 0;
          for (Index j = 0; j < n; ++j) tot += a(h, i, j) * vn(h, j);
          for (Index j = 0; j < n; ++j) {
            const std::string& t = f.tok.token(s[static_cast<std::size_t>(j)]);
            if (t == "[CLS]") cls += a(h, i, j), nw_cls += a(h, i, j) * vn(h, j) / tot;
            if (t == "[SEP]") sep += a(h, i, j);
            if (t == "." || t == "," || t == "!") punct += a(h, i, j);
            if (a(h, i, j) > 0) ent -= a(h, i, j) * std::log(double(a(h, i, j)));
          }
          if (i > 0) prev += a(h, i, i - 1);
          rows += 1;
        }
      }
      const auto& d = r.at(l, h);
      EXPECT_NEAR(d.cls_mass, cls / rows, 1e-9);
      EXPECT_NEAR(d.sep_mass, sep / rows, 1e-9);
      EXPECT_NEAR(d.punct_mass, punct / rows, 1e-9);
      EXPECT_NEAR(d.prev_mass, prev / rows, 1e-9);
      EXPECT_NEAR(d.nw_cls_mass, nw_cls / rows, 1e-6);
      EXPECT_NEAR(d.entropy, ent / rows, 1e-5);
      // Label rules, exactly.
      const bool sink = d.cls_mass + d.sep_mass + d.punct_mass > r.sink_threshold;
      EXPECT_EQ(std::count(d.labels.begin(), d.labels.end(), "sink"), sink ? 1 : 0);
      EXPECT_EQ(std::count(d.labels.begin(), d.labels.end(), "broad"),
                d.norm_entropy > r.overloaded_threshold ? 1 : 0);
    }
  EXPECT_EQ(r.layers.size(), 2u);
  EXPECT_NEAR(r.layers[1].cls_mass, 0.5 * (r.at(1, 0).cls_mass + r.at(1, 1).cls_mass), 1e-12);
}

TEST(EncoderInspection, WindowOfOneCollapsesEveryHeadOnItself) {
  Fixture f;
  EncoderInspectOptions o;
  o.max_length = 12;
  attention::AttentionSpec w1;
  w1.window = 1;
  o.attention = w1;
  const auto r = analysis::inspect_encoder_heads(f.model, f.tok, kText, o, "m", "t");
  for (const auto& h : r.heads) {
    EXPECT_NEAR(h.self_mass, 1.0, 1e-9);
    EXPECT_NEAR(h.norm_entropy, 0.0, 1e-9);
    EXPECT_NE(std::find(h.labels.begin(), h.labels.end(), "collapsed on self"), h.labels.end());
  }
}

TEST(EncoderInspection, OrderTestSeparatesPositionsFromNone) {
  Fixture f;
  EncoderInspectOptions o;
  o.max_length = 16;
  const auto r = analysis::inspect_encoder_heads(f.model, f.tok, kText, o, "m", "t");
  ASSERT_EQ(r.order.size(), 2u);
  EXPECT_EQ(r.order[0].positions, "learned");
  ASSERT_EQ(r.order[1].per_layer.size(), 3u);  // embeddings + 2 blocks
  for (double d : r.order[1].per_layer) EXPECT_LT(d, 1e-5);
  EXPECT_GT(r.order[0].per_layer.back(), 1e-2);
}

TEST(EncoderInspection, JsonAndRendering) {
  Fixture f;
  EncoderInspectOptions o;
  o.max_length = 12;
  o.maps = {{1, 0}};
  o.map_tokens = 6;
  const auto r = analysis::inspect_encoder_heads(f.model, f.tok, kText, o, "m", "t");
  const auto j = analysis::to_json(r);
  EXPECT_EQ(j["heads"].size(), 4u);
  ASSERT_EQ(j["maps"].size(), 1u);
  EXPECT_EQ(j["maps"][0]["why"], "requested");
  EXPECT_EQ(j["maps"][0]["tokens"][0], "[CLS]");
  EXPECT_EQ(j["maps"][0]["weights"].size(), 6u);
  const std::string html = report::render_encoder_section(j);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("Clark et al."), std::string::npos);
  const std::string missing =
      report::render_encoder_section({{"available", false}, {"reason", "no model"}});
  EXPECT_NE(missing.find("No BERT-family model"), std::string::npos);
}

TEST(EncoderInspection, RejectsBadOptions) {
  Fixture f;
  EncoderInspectOptions o;
  o.max_length = 33;  // above max_position_embeddings
  EXPECT_THROW(analysis::inspect_encoder_heads(f.model, f.tok, kText, o, "m", "t"), UsageError);
  o.max_length = 12;
  o.maps = {{2, 0}};
  EXPECT_THROW(analysis::inspect_encoder_heads(f.model, f.tok, kText, o, "m", "t"), UsageError);
  o.maps.clear();
  EXPECT_THROW(analysis::inspect_encoder_heads(f.model, f.tok, " \n\n", o, "m", "t"), InputError);
}

TEST(BertSelectivitySource, HeadsAreTheEncodersOwnProjections) {
  Fixture f;
  const auto ids = f.tok.encode("The lamp is burning. The sea was calm, the lamp is burning!");
  analysis::selectivity::ModelSourceOptions mo;
  mo.layers = {1};
  mo.queries = 4;
  const auto src = analysis::selectivity::source_from_bert(f.model, ids, mo, "tiny");
  EXPECT_FALSE(src.causal);
  ASSERT_EQ(src.num_heads(), 2);
  BertForwardOptions fo;
  fo.projections = true;
  const auto out = f.model.forward({{ids, {}, {}}}, fo);
  const auto n = static_cast<Index>(ids.size());
  for (Index h = 0; h < 2; ++h) {
    const auto& head = src.heads[static_cast<std::size_t>(h)];
    EXPECT_EQ(head.label, "L1.H" + std::to_string(h));
    ASSERT_EQ(head.k.rows(), n);
    for (Index e = 0; e < 8; ++e) {
      EXPECT_EQ(head.q(3, e), out.captures[0].q[1](h, n - 1, e));
      EXPECT_EQ(head.k(0, e), out.captures[0].k[1](h, 0, e));
      EXPECT_EQ(head.x(2, e), out.captures[0].v[1](h, 2, e));
    }
  }
  mo.tokens = "hidden";
  EXPECT_EQ(analysis::selectivity::source_from_bert(f.model, ids, mo, "t").token_dim(), 16);
  mo.layers = {2};
  EXPECT_THROW(analysis::selectivity::source_from_bert(f.model, ids, mo, "t"), UsageError);
}

}  // namespace
}  // namespace attnlab
