// GPT-2 forward pass: fp32 model vs the fp64 reference (tests/models/gpt2_reference.hpp) for
// every attention spec and position mode, KV-cache generation vs the full forward, both
// attention kernels against each other, capture (maps, row statistics, self/previous weights),
// next-token scoring, the order-test overrides, and the HF / llm.c loaders on the same weights.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "attnlab/attention/row_diagnostics.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/models/gpt2/model.hpp"
#include "attnlab/models/gpt2/weights.hpp"
#include "tests/models/gpt2_reference.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {

using attention::AttentionSpec;
using attention::Kernel;
using attention::Normalizer;
using models::gpt2::ForwardOptions;
using models::gpt2::ForwardResult;
using models::gpt2::Gpt2Model;
using models::gpt2::KvCache;
using models::gpt2::LogitsMode;
using models::gpt2::PositionMode;
using testing::make_test_weights;
using testing::random_tokens;
using testing::reference_forward;
using testing::rel_err;
using testing::test_config;

struct SpecCase {
  const char* name;
  AttentionSpec spec;
};

std::vector<SpecCase> spec_cases() {
  std::vector<SpecCase> v;
  auto add = [&v](const char* name, auto setup) {
    AttentionSpec s;
    setup(s);
    v.push_back({name, s});
  };
  add("full", [](AttentionSpec&) {});
  add("window5", [](AttentionSpec& s) { s.window = 5; });
  add("sinks2_window4", [](AttentionSpec& s) { s.window = 4, s.sinks = 2; });
  add("decay", [](AttentionSpec& s) { s.decay = {0.05, 0.2, 0.0, 1.0}; });
  add("alibi", [](AttentionSpec& s) { s.alibi = true; });
  add("topk3", [](AttentionSpec& s) { s.topk = 3; });
  add("ssmax", [](AttentionSpec& s) { s.normalizer = Normalizer::ssmax; });
  add("sparsemax", [](AttentionSpec& s) { s.normalizer = Normalizer::sparsemax; });
  add("entmax15", [](AttentionSpec& s) { s.normalizer = Normalizer::entmax15; });
  return v;
}

Index seq_len() {
  return testing::small_scale() ? 24 : 40;
}

MatrixD to_double(const MatrixF& m) {
  return m.cast<double>();
}

class Gpt2Forward : public ::testing::TestWithParam<SpecCase> {};

TEST_P(Gpt2Forward, MatchesFp64ReferenceWithEveryKernel) {
  const auto c = test_config();
  const Gpt2Model model(make_test_weights(c, 11));
  const auto tokens = random_tokens(seq_len(), c.vocab_size, 3);
  ForwardOptions o;
  o.attention = GetParam().spec;
  o.logits = LogitsMode::all;
  const auto ref = reference_forward(model.weights(), tokens, o);
  for (Kernel k : {Kernel::automatic, Kernel::fused, Kernel::reference}) {
    if (k == Kernel::fused && !(o.attention->is_softmax_family() && o.attention->topk == 0))
      continue;
    o.kernel = k;
    const ForwardResult r = model.forward(tokens, o);
    EXPECT_LT(rel_err(to_double(r.logits), ref.logits), 5e-6)
        << GetParam().name << " kernel " << attention::to_string(k);
  }
}

TEST_P(Gpt2Forward, KvCacheGenerationEqualsFullForward) {
  const auto c = test_config();
  const Gpt2Model model(make_test_weights(c, 12));
  const auto prompt = random_tokens(9, c.vocab_size, 4);
  ForwardOptions o;
  o.attention = GetParam().spec;
  KvCache cache = model.make_cache();
  std::vector<std::vector<float>> steps;
  const Index n_new = testing::small_scale() ? 8 : 20;
  const auto generated = model.generate_greedy(prompt, n_new, cache, o, &steps);
  ASSERT_EQ(static_cast<Index>(generated.size()), n_new);
  EXPECT_EQ(cache.length(), 9 + n_new - 1);  // the last token is produced, not fed back
  std::vector<std::int32_t> all = prompt;
  all.insert(all.end(), generated.begin(), generated.end() - 1);
  o.logits = LogitsMode::all;
  const ForwardResult full = model.forward(all, o);
  for (Index s = 0; s < n_new; ++s) {
    const Index row = 8 + s;
    double worst = 0, scale = 0;
    for (Index v = 0; v < c.vocab_size; ++v) {
      worst = std::max(worst, std::abs(double(steps[s][v]) - full.logits(row, v)));
      scale = std::max(scale, std::abs(double(full.logits(row, v))));
    }
    EXPECT_LT(worst / scale, 5e-6) << GetParam().name << " step " << s;
    const Index argmax =
        std::max_element(full.logits.row(row).data(), full.logits.row(row).data() + c.vocab_size) -
        full.logits.row(row).data();
    EXPECT_EQ(argmax, generated[s]) << GetParam().name << " step " << s;
  }
}

TEST_P(Gpt2Forward, ChunkedPrefillEqualsOneCall) {
  const auto c = test_config();
  const Gpt2Model model(make_test_weights(c, 13));
  const auto tokens = random_tokens(seq_len(), c.vocab_size, 5);
  ForwardOptions o;
  o.attention = GetParam().spec;
  o.logits = LogitsMode::all;
  const ForwardResult one = model.forward(tokens, o);
  KvCache cache = model.make_cache();
  // Chunks of 1 and 3 (row kernel) and 11+ (attend()) at non-zero cache offsets.
  const Index n = seq_len();
  const std::vector<Index> cuts{0, 1, 4, 15, n};
  for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
    const std::span<const std::int32_t> chunk(tokens.data() + cuts[k],
                                              static_cast<std::size_t>(cuts[k + 1] - cuts[k]));
    const ForwardResult r = model.forward(chunk, cache, o);
    const MatrixD part = to_double(one.logits).middleRows(cuts[k], cuts[k + 1] - cuts[k]);
    EXPECT_LT(rel_err(to_double(r.logits), part), 5e-6) << GetParam().name << " chunk " << k;
  }
}

TEST_P(Gpt2Forward, CapturedMapsAndRowStatisticsMatchReference) {
  const auto c = test_config();
  const Gpt2Model model(make_test_weights(c, 14));
  const Index n = seq_len();
  const auto tokens = random_tokens(n, c.vocab_size, 6);
  ForwardOptions o;
  o.attention = GetParam().spec;
  o.diagnostics = true;
  o.maps = {{0, 1}, {1, 3}};
  const auto ref = reference_forward(model.weights(), tokens, o);
  for (Kernel k : {Kernel::automatic, Kernel::reference}) {
    o.kernel = k;
    const ForwardResult r = model.forward(tokens, o);
    ASSERT_EQ(r.maps.size(), 2u);
    for (const auto& m : r.maps) {
      const Tensor3d& w = ref.weights[static_cast<std::size_t>(m.layer)];
      for (Index i = 0; i < n; ++i)
        for (Index j = 0; j < n; ++j) {
          const bool masked = std::isinf(ref.logits_att[m.layer](m.head, i, j)) && j > i;
          if (masked) {
            EXPECT_TRUE(std::isnan(m.weights(i, j)));
          } else if (!std::isnan(m.weights(i, j))) {
            EXPECT_NEAR(m.weights(i, j), w(m.head, i, j), 2e-5) << GetParam().name;
          }
        }
    }
    for (Index l = 0; l < c.n_layer; ++l) {
      const auto& cap = r.layers[static_cast<std::size_t>(l)];
      attention::ReferenceForward fwd;
      fwd.weights = ref.weights[static_cast<std::size_t>(l)];
      fwd.logits = ref.logits_att[static_cast<std::size_t>(l)];
      const auto want = attention::row_diagnostics_reference(fwd);
      for (Index h = 0; h < c.n_head; ++h)
        for (Index i = 0; i < n; ++i) {
          const auto got = cap.rows.get(h, i), exp = want.get(h, i);
          EXPECT_EQ(got.visible, exp.visible);
          EXPECT_NEAR(got.entropy, exp.entropy, 1e-4) << GetParam().name;
          EXPECT_NEAR(got.sink_mass, exp.sink_mass, 2e-5);
          EXPECT_NEAR(got.max_weight, exp.max_weight, 2e-5);
          EXPECT_NEAR(got.top8_mass, exp.top8_mass, 2e-5);
          // Threshold counts may flip for an entry sitting exactly at 1%.
          EXPECT_NEAR(got.below_1pct_max, exp.below_1pct_max, 1.0 / exp.visible + 1e-12);
          EXPECT_NEAR(got.wasted_share, exp.wasted_share, 1.0 / exp.visible + 1e-12);
          EXPECT_NEAR(cap.self_weight(h, i), fwd.weights(h, i, i), 2e-5) << GetParam().name;
          if (i == 0) {
            EXPECT_TRUE(std::isnan(cap.prev_weight(h, i)));
          } else {
            EXPECT_NEAR(cap.prev_weight(h, i), fwd.weights(h, i, i - 1), 2e-5);
          }
        }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Specs, Gpt2Forward, ::testing::ValuesIn(spec_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

class Gpt2Positions : public ::testing::TestWithParam<PositionMode> {};

TEST_P(Gpt2Positions, OverrideMatchesFp64Reference) {
  const auto c = test_config();
  const Gpt2Model model(make_test_weights(c, 15));
  const auto tokens = random_tokens(seq_len(), c.vocab_size, 7);
  for (bool bidirectional : {false, true}) {
    ForwardOptions o;
    o.positions = GetParam();
    o.bidirectional = bidirectional;
    o.logits = LogitsMode::all;
    o.hidden_states = true;
    const auto ref = reference_forward(model.weights(), tokens, o);
    const ForwardResult r = model.forward(tokens, o);
    EXPECT_LT(rel_err(to_double(r.logits), ref.logits), 5e-6)
        << to_string(GetParam()) << " bidirectional=" << bidirectional;
    ASSERT_EQ(r.hidden.size(), static_cast<std::size_t>(c.n_layer));
    for (Index l = 0; l < c.n_layer; ++l)
      EXPECT_LT(rel_err(to_double(r.hidden[l]), ref.hidden[l]), 2e-5);
    EXPECT_LT(rel_err(to_double(r.final_hidden), ref.final_hidden), 2e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, Gpt2Positions,
                         ::testing::Values(PositionMode::learned, PositionMode::none,
                                           PositionMode::sinusoidal, PositionMode::rope,
                                           PositionMode::alibi),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// Permuting the tokens permutes the outputs exactly when nothing encodes order: bidirectional
// attention and no position signal. Causality or any position encoding breaks it.
TEST(Gpt2Order, OnlyBidirectionalWithoutPositionsIsPermutationEquivariant) {
  const auto c = test_config();
  const Gpt2Model model(make_test_weights(c, 16));
  const Index n = 16;
  const auto tokens = random_tokens(n, c.vocab_size, 8);
  Rng rng(9);
  const auto perm = rng.permutation(n);
  std::vector<std::int32_t> permuted(static_cast<std::size_t>(n));
  for (Index t = 0; t < n; ++t) permuted[t] = tokens[perm[t]];
  auto change = [&](PositionMode p, bool bidirectional) {
    ForwardOptions o;
    o.positions = p;
    o.bidirectional = bidirectional;
    o.hidden_states = true;
    const auto a = model.forward(tokens, o), b = model.forward(permuted, o);
    MatrixD pa(n, c.n_embd);
    for (Index t = 0; t < n; ++t) pa.row(t) = a.final_hidden.row(perm[t]).cast<double>();
    return (pa - to_double(b.final_hidden)).norm() / pa.norm();
  };
  EXPECT_LT(change(PositionMode::none, true), 1e-5);
  EXPECT_GT(change(PositionMode::none, false), 1e-2);
  for (PositionMode p :
       {PositionMode::learned, PositionMode::sinusoidal, PositionMode::rope, PositionMode::alibi}) {
    EXPECT_GT(change(p, true), 1e-3) << to_string(p);
  }
}

// Captured projections are what attention was given: they match the fp64 reference's q, k, v
// and block inputs, their softmax(q·k/√d) reproduces a captured map, and capturing changes
// nothing else (same logits).
TEST(Gpt2Capture, ProjectionsMatchReferenceAndReproduceTheMap) {
  const auto c = test_config();
  const Gpt2Model model(make_test_weights(c, 21));
  const Index n = seq_len(), H = c.n_head, d = c.n_embd / c.n_head;
  const auto tokens = random_tokens(n, c.vocab_size, 12);
  for (PositionMode pm : {PositionMode::learned, PositionMode::rope}) {
    ForwardOptions o;
    o.positions = pm;
    o.logits = LogitsMode::all;
    const ForwardResult plain = model.forward(tokens, o);
    o.projection_layers = {c.n_layer - 1, 0};
    o.maps = {{c.n_layer - 1, 1}};
    const auto ref = reference_forward(model.weights(), tokens, o);
    const ForwardResult r = model.forward(tokens, o);
    EXPECT_EQ(rel_err(to_double(r.logits), to_double(plain.logits)), 0.0);
    ASSERT_EQ(r.projections.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
      const auto& p = r.projections[i];
      const Index l = o.projection_layers[i];
      EXPECT_EQ(p.layer, l);
      EXPECT_EQ(p.first_position, 0);
      ASSERT_EQ(p.q.dim0(), H);
      ASSERT_EQ(p.q.dim1(), n);
      ASSERT_EQ(p.q.dim2(), d);
      EXPECT_LT(rel_err(to_double(p.input), ref.input[l]), 2e-5) << "layer " << l;
      for (Index h = 0; h < H; ++h) {
        EXPECT_LT(rel_err(p.q.slice(h).cast<double>(), ref.q[l].slice(h)), 2e-5);
        EXPECT_LT(rel_err(p.k.slice(h).cast<double>(), ref.k[l].slice(h)), 2e-5);
        EXPECT_LT(rel_err(p.v.slice(h).cast<double>(), ref.v[l].slice(h)), 2e-5);
      }
    }
    // Row i of head 1's map in the last layer from the captured q and k.
    const auto& p = r.projections[0];
    const MatrixD qh = p.q.slice(1).cast<double>(), kh = p.k.slice(1).cast<double>();
    double worst = 0;
    for (Index i = 0; i < n; ++i) {
      VectorD z = (kh.topRows(i + 1) * qh.row(i).transpose()) / std::sqrt(double(d));
      z = (z.array() - z.maxCoeff()).exp();
      z /= z.sum();
      for (Index j = 0; j <= i; ++j)
        worst = std::max(worst, std::abs(z(j) - r.maps[0].weights(i, j)));
    }
    EXPECT_LT(worst, 1e-5) << to_string(pm);
  }
  ForwardOptions bad;
  bad.projection_layers = {c.n_layer};
  EXPECT_THROW(model.forward(tokens, bad), UsageError);
}

TEST(Gpt2Scoring, NllEqualsLogSoftmaxOfTheLogits) {
  const auto c = test_config();
  const Gpt2Model model(make_test_weights(c, 17));
  const Index n = seq_len();
  const auto tokens = random_tokens(n, c.vocab_size, 10);
  const auto targets = random_tokens(n, c.vocab_size, 11);
  ForwardOptions o;
  o.logits = LogitsMode::all;
  o.targets = targets;
  o.score_from = 5;
  const ForwardResult r = model.forward(tokens, o);
  ASSERT_EQ(static_cast<Index>(r.nll.size()), n - 5);
  const auto ref = reference_forward(model.weights(), tokens, o);
  for (Index t = 5; t < n; ++t) {
    const double mx = ref.logits.row(t).maxCoeff();
    const double lse = mx + std::log((ref.logits.row(t).array() - mx).exp().sum());
    EXPECT_NEAR(r.nll[t - 5], lse - ref.logits(t, targets[t]), 1e-4);
  }
}

TEST(Gpt2Model, DeterministicAndRejectsBadInput) {
  const auto c = test_config();
  const Gpt2Model model(make_test_weights(c, 18));
  const auto tokens = random_tokens(20, c.vocab_size, 12);
  ForwardOptions o;
  o.logits = LogitsMode::all;
  const auto a = model.forward(tokens, o), b = model.forward(tokens, o);
  EXPECT_EQ((a.logits - b.logits).cwiseAbs().maxCoeff(), 0.0f);

  std::vector<std::int32_t> bad = tokens;
  bad[3] = static_cast<std::int32_t>(c.vocab_size);
  EXPECT_THROW(model.forward(bad), InputError);
  bad[3] = -1;
  EXPECT_THROW(model.forward(bad), InputError);
  KvCache cache = model.make_cache(16);
  EXPECT_THROW(model.forward(tokens, cache), InputError);  // 20 tokens > capacity 16
  EXPECT_THROW(model.make_cache(c.n_positions + 1), UsageError);
  EXPECT_THROW(model.forward(std::span<const std::int32_t>()), UsageError);
  ForwardOptions m;
  m.maps = {{0, 0}, {1, 1}};
  m.max_map_entries = 20 * 20;
  EXPECT_THROW(model.forward(tokens, m), UsageError);
  m.maps = {{2, 0}};
  m.max_map_entries = 1 << 20;
  EXPECT_THROW(model.forward(tokens, m), UsageError);
  ForwardOptions km;
  km.attention.emplace();
  km.attention->key_mask.assign(20, 1);
  EXPECT_THROW(model.forward(tokens, km), UsageError);
}

// The same weights through both file formats (and through every HF naming variant) give
// bit-identical logits.
TEST(Gpt2Loaders, HfAndLlmcGiveIdenticalLogits) {
  const auto c = test_config();
  const auto w = make_test_weights(c, 19);
  testing::TempDir dir;
  const auto tokens = random_tokens(seq_len(), c.vocab_size, 13);
  ForwardOptions o;
  o.logits = LogitsMode::all;
  const MatrixF direct = Gpt2Model(w).forward(tokens, o).logits;

  models::gpt2::save_gpt2_hf(w, dir / "hf");
  const auto hf = models::gpt2::load_gpt2(dir / "hf");
  {
    std::ofstream f(dir / "gpt2_124M.bin", std::ios::binary);
    const std::string bytes = models::gpt2::encode_gpt2_llmc(w, 3);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const auto llmc = models::gpt2::load_gpt2(dir / "gpt2_124M.bin");
  EXPECT_EQ(hf.params.size(), llmc.params.size());
  const MatrixF a = Gpt2Model(hf).forward(tokens, o).logits;
  const MatrixF b = Gpt2Model(llmc).forward(tokens, o).logits;
  EXPECT_EQ((a - b).cwiseAbs().maxCoeff(), 0.0f);
  EXPECT_EQ((a - direct).cwiseAbs().maxCoeff(), 0.0f);

  models::gpt2::HfWriteOptions variant;
  variant.transformer_prefix = true;
  variant.mask_buffers = true;
  variant.lm_head = true;
  models::gpt2::save_gpt2_hf(w, dir / "hf_prefixed", variant);
  const MatrixF p = Gpt2Model(models::gpt2::load_gpt2_hf(dir / "hf_prefixed" / "model.safetensors"))
                        .forward(tokens, o)
                        .logits;
  EXPECT_EQ((p - a).cwiseAbs().maxCoeff(), 0.0f);

  // bf16 in both formats: the same rounding, so again identical.
  variant = {};
  variant.dtype = io::SafetensorsDtype::BF16;
  models::gpt2::save_gpt2_hf(w, dir / "hf_bf16", variant);
  const auto hf16 = models::gpt2::load_gpt2(dir / "hf_bf16");
  const auto llmc16 = models::gpt2::parse_gpt2_llmc(models::gpt2::encode_gpt2_llmc(w, 5), "v5");
  const MatrixF a16 = Gpt2Model(hf16).forward(tokens, o).logits;
  const MatrixF b16 = Gpt2Model(llmc16).forward(tokens, o).logits;
  EXPECT_EQ((a16 - b16).cwiseAbs().maxCoeff(), 0.0f);
  EXPECT_GT((a16 - a).cwiseAbs().maxCoeff(), 0.0f);  // bf16 really rounded
  EXPECT_LT(rel_err(to_double(a16), to_double(a)), 0.05);
}

}  // namespace
}  // namespace attnlab
