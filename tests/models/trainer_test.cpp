// Tests of models/tinylm: the trainer (resume == uninterrupted, bit for bit; the fp32 run against
// an fp64 reference run; loss goes down), checkpoints (round trip, corruption, mismatch), the
// exported model read back by the Hugging Face loader and scored by `perplexity`'s evaluation,
// the dataset's batches and splits, and the sink metric on maps with known answers.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/core/sha256.hpp"
#include "attnlab/models/gpt2/attention_override.hpp"
#include "attnlab/models/gpt2/model.hpp"
#include "attnlab/models/gpt2/perplexity.hpp"
#include "attnlab/models/gpt2/train_graph.hpp"
#include "attnlab/models/tinylm/checkpoint.hpp"
#include "attnlab/models/tinylm/lm_corpus.hpp"
#include "attnlab/models/tinylm/trainer.hpp"
#include "attnlab/nn/adamw.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::models::tinylm {
namespace {

// A small text with structure a model can learn (a few words in a seeded order).
std::string tiny_text(std::size_t bytes, std::uint64_t seed) {
  const char* words[] = {"and ", "the ", "lord ", "said ", "unto ", "them, ", "light. ", "be\n"};
  Rng rng(seed);
  std::string s;
  while (s.size() < bytes) s += words[rng.uniform_int(8)];
  s.resize(bytes);
  return s;
}

io::TextCorpus corpus_of(const std::string& text) {
  return {text, "tiny test text", sha256_hex(text)};
}

TrainOptions tiny_options() {
  TrainOptions o;
  o.layers = 2;
  o.width = 16;
  o.heads = 2;
  o.context = 16;
  o.batch = 4;
  o.steps = 12;
  o.warmup = 3;
  o.lr = 1e-2;
  o.min_lr = 1e-3;
  o.eval_every = 4;
  o.eval_windows = 4;
  o.sink_seq = 8;
  o.sink_sequences = 4;
  o.seed = 7;
  return o;
}

LmDataset tiny_dataset() {
  return make_lm_dataset(corpus_of(tiny_text(6000, 3)), gpt2::BpeTokenizer::byte_level(), "bytes");
}

TEST(TinyLmTrainer, ResumeIsBitIdenticalToAnUninterruptedRun) {
  const LmDataset ds = tiny_dataset();
  for (const char* attention : {"full", "window=4,learnable_sink", "learned_decay"}) {
    TrainOptions o = tiny_options();
    o.attention = gpt2::parse_model_attention(attention);
    o.positions =
        std::string(attention) == "full" ? gpt2::PositionMode::learned : gpt2::PositionMode::rope;
    TrainControl full_ctl;
    full_ctl.final_validation = false;
    const TrainResult full = train_lm(o, ds, full_ctl);
    testing::TempDir dir;
    TrainControl first;
    first.checkpoint_path = dir / "ckpt.safetensors";
    first.stop_after = 5;
    const TrainResult part = train_lm(o, ds, first);
    EXPECT_TRUE(part.stopped_early);
    EXPECT_EQ(part.steps_done, 5);
    TrainControl second;
    second.resume = load_checkpoint(dir / "ckpt.safetensors");
    EXPECT_EQ(second.resume->step, 5);
    second.final_validation = false;
    const TrainResult resumed = train_lm(o, ds, second);
    ASSERT_EQ(resumed.weights.params.size(), full.weights.params.size());
    EXPECT_TRUE(std::equal(resumed.weights.params.begin(), resumed.weights.params.end(),
                           full.weights.params.begin()))
        << attention;
    ASSERT_EQ(resumed.curve.size(), full.curve.size());
    for (std::size_t i = 0; i < full.curve.size(); ++i) {
      EXPECT_EQ(resumed.curve[i].loss, full.curve[i].loss) << attention << " step " << i + 1;
    }
    ASSERT_EQ(resumed.evals.size(), full.evals.size());
    EXPECT_EQ(resumed.evals.back().val_loss, full.evals.back().val_loss);
  }
}

// The fp32 trainer's first steps against the same run in fp64 (GptTrainGraph<double> +
// AdamW<double>, same batches, groups and schedule), written out here step by step.
TEST(TinyLmTrainer, Fp32RunMatchesAnFp64ReferenceRun) {
  const LmDataset ds = tiny_dataset();
  TrainOptions o = tiny_options();
  o.steps = 3;
  o.warmup = 1;
  o.lr = 3e-3;
  o.clip = 0.5;  // exercise clipping
  TrainControl ctl;
  ctl.final_validation = false;
  const TrainResult r = train_lm(o, ds, ctl);
  const gpt2::Gpt2Config c = o.model_config(ds.vocab_size);
  const gpt2::Gpt2Weights init = gpt2::random_gpt2_weights(c, o.seed);
  std::vector<double> p(init.params.begin(), init.params.end()), g(p.size());
  gpt2::GptTrainGraph<double> graph(c, o.batch, o.context);
  nn::AdamW<double> opt(p.size(), {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay});
  // The trainer's groups: decay on matrices; wpe learned here, so it decays too.
  const gpt2::Gpt2Layout L(c);
  std::vector<std::pair<std::size_t, std::size_t>> matrices = {
      {L.wte, static_cast<std::size_t>(c.vocab_size * c.n_embd)},
      {L.wpe, static_cast<std::size_t>(c.n_positions * c.n_embd)}};
  const auto C = static_cast<std::size_t>(c.n_embd), F = static_cast<std::size_t>(c.ffn_dim());
  for (Index l = 0; l < c.n_layer; ++l) {
    const std::size_t b = L.layer_base(l);
    matrices.push_back({b + L.qkv_w, 3 * C * C});
    matrices.push_back({b + L.proj_w, C * C});
    matrices.push_back({b + L.fc_w, C * F});
    matrices.push_back({b + L.fcproj_w, F * C});
  }
  std::sort(matrices.begin(), matrices.end());
  std::size_t at = 0;
  for (const auto& [off, size] : matrices) {
    if (off > at) opt.add_group({at, off - at, false, false, false, "other"});
    opt.add_group({off, size, true, false, false, "matrix"});
    at = off + size;
  }
  if (at < p.size()) opt.add_group({at, p.size() - at, false, false, false, "other"});
  const nn::CosineSchedule sched{o.lr, o.min_lr, o.warmup_steps(), o.steps};
  for (std::int64_t s = 1; s <= o.steps; ++s) {
    const Batch b = ds.train_batch(o.batch, o.context, o.seed, s);
    const double loss =
        graph.forward_backward(p.data(), b.tokens.data(), b.targets.data(), g.data()).mean();
    EXPECT_NEAR(r.curve[static_cast<std::size_t>(s - 1)].loss, loss, 1e-5 * loss) << "step " << s;
    nn::clip_grad_norm(g.data(), g.size(), o.clip);
    opt.step(p.data(), g.data(), nn::cosine_lr(sched, s));
  }
  double num = 0, den = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double diff = r.weights.params[i] - p[i], step = p[i] - init.params[i];
    num += diff * diff;
    den += step * step;
  }
  // The fp32 parameters after 3 steps equal the fp64 ones up to a small fraction of the update.
  EXPECT_GT(den, 0.0);
  EXPECT_LT(std::sqrt(num / den), 1e-3);
}

TEST(TinyLmTrainer, LossFallsAndExportReadsBackThroughTheHfLoader) {
  const LmDataset ds = tiny_dataset();
  TrainOptions o = tiny_options();
  o.steps = 60;
  o.eval_every = 30;
  const TrainResult r = train_lm(o, ds);
  EXPECT_LT(r.curve.back().loss, r.curve.front().loss - 1.0);
  EXPECT_LT(r.evals.back().val_loss, r.evals.front().val_loss - 1.0);
  ASSERT_EQ(r.evals.size(), 3u);  // steps 0, 30, 60
  EXPECT_EQ(r.evals[0].step, 0);
  EXPECT_GT(r.final_val_scored, 0);
  EXPECT_GT(r.tokens_per_second, 0.0);
  testing::TempDir dir;
  save_trained_model(r.weights, gpt2::BpeTokenizer::byte_level(), dir.path());
  const gpt2::Gpt2Weights back = gpt2::load_gpt2(dir.path());
  EXPECT_EQ(back.params, r.weights.params);
  const gpt2::BpeTokenizer tok = gpt2::BpeTokenizer::load(dir.path());
  EXPECT_EQ(tok.encode("the lord"), gpt2::BpeTokenizer::byte_level().encode("the lord"));
  // perplexity's evaluation on the validation text (context T, stride T − 1) reproduces the
  // trainer's final validation loss.
  gpt2::PerplexityOptions po;
  po.context = o.context;
  po.stride = o.context - 1;
  const auto pr = gpt2::evaluate_perplexity(gpt2::Gpt2Model(back), tok.encode(ds.val_text), po);
  EXPECT_EQ(pr.tokens_scored, r.final_val_scored);
  EXPECT_NEAR(pr.nll_mean, r.final_val_loss, 1e-5 * r.final_val_loss);
}

TEST(TinyLmTrainer, ExportKeepsPositionModeAndAttention) {
  const LmDataset ds = tiny_dataset();
  TrainOptions o = tiny_options();
  o.steps = 2;
  o.warmup = 1;
  o.positions = gpt2::PositionMode::alibi;
  o.attention = gpt2::parse_model_attention("learned_decay,window=8");
  TrainControl ctl;
  ctl.final_validation = false;
  const TrainResult r = train_lm(o, ds, ctl);
  testing::TempDir dir;
  save_trained_model(r.weights, gpt2::BpeTokenizer::byte_level(), dir.path());
  const gpt2::Gpt2Weights back = gpt2::load_gpt2(dir.path());
  EXPECT_EQ(back.config.position_mode, gpt2::PositionMode::alibi);
  EXPECT_TRUE(back.config.attention.learned_decay);
  EXPECT_EQ(back.config.attention.spec.window, 8);
  EXPECT_EQ(back.params, r.weights.params);
  EXPECT_THROW(gpt2::encode_gpt2_llmc(back, 3), UsageError);
  // Learned rates stay non-negative.
  for (Index l = 0; l < back.config.n_layer; ++l)
    for (Index h = 0; h < back.config.n_head; ++h) EXPECT_GE(back.layer(l).decay_rate[h], 0.0f);
}

// Options read back from a checkpoint or train.json: integers must be JSON integers (a float
// used to truncate, 2.5 layers -> 2) and a seed non-negative; a round trip is exact.
TEST(TinyLmTrainOptions, FromJsonRoundTripsAndRejectsNonIntegerCounts) {
  const TrainOptions o = tiny_options();
  const TrainOptions r = TrainOptions::from_json(o.to_json(), "test");
  EXPECT_EQ(r.to_json(), o.to_json());
  for (const char* key : {"layers", "width", "steps", "warmup", "batch", "eval_every"}) {
    nlohmann::json j = o.to_json();
    j[key] = 2.5;
    try {
      TrainOptions::from_json(j, "ckpt");
      ADD_FAILURE() << key << " = 2.5 was accepted";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
    j[key] = 1e300;
    EXPECT_THROW(TrainOptions::from_json(j, "ckpt"), FormatError) << key;
  }
  nlohmann::json j = o.to_json();
  j["seed"] = -3;
  EXPECT_THROW(TrainOptions::from_json(j, "ckpt"), FormatError);
}

TEST(TinyLmCheckpoint, RoundTripAndRejectsCorruptOrMismatched) {
  const LmDataset ds = tiny_dataset();
  TrainOptions o = tiny_options();
  testing::TempDir dir;
  TrainControl ctl;
  ctl.checkpoint_path = dir / "c.safetensors";
  ctl.stop_after = 2;
  train_lm(o, ds, ctl);
  const TrainState s = load_checkpoint(dir / "c.safetensors");
  EXPECT_EQ(s.step, 2);
  const std::string bytes = encode_checkpoint(s);
  const TrainState t = parse_checkpoint(bytes, "mem");
  EXPECT_EQ(t.params, s.params);
  EXPECT_EQ(t.adam_m, s.adam_m);
  EXPECT_EQ(t.adam_v, s.adam_v);
  EXPECT_EQ(t.history, s.history);
  // Truncated, flipped and foreign files.
  EXPECT_THROW(parse_checkpoint(bytes.substr(0, bytes.size() / 2), "half"), FormatError);
  std::string flipped = bytes;
  flipped[20] = '#';
  EXPECT_THROW(parse_checkpoint(flipped, "flipped"), FormatError);
  EXPECT_THROW(parse_checkpoint("not a checkpoint at all", "text"), FormatError);
  EXPECT_THROW(load_checkpoint(dir / "missing.safetensors"), InputError);
  // A checkpoint of another run: different width, or another corpus.
  TrainControl resume;
  resume.resume = s;
  TrainOptions other = o;
  other.width = 32;
  EXPECT_THROW(train_lm(other, ds, resume), UsageError);
  const LmDataset ds2 =
      make_lm_dataset(corpus_of(tiny_text(6000, 4)), gpt2::BpeTokenizer::byte_level(), "bytes");
  EXPECT_THROW(train_lm(o, ds2, resume), UsageError);
  // A ragged sinks.head_mass in the history (a crafted file) is a FormatError, not a write past
  // the matrix (found in review of the fuzz targets).
  TrainState ragged = s;
  auto& evals = ragged.history.at("evals");
  ASSERT_FALSE(evals.empty());
  auto& heads = evals[0]["sinks"]["head_mass"];
  ASSERT_GE(heads.size(), 2u);
  heads[1].push_back(0.5);
  heads[1].push_back(0.5);
  TrainControl bad;
  bad.resume = ragged;
  EXPECT_THROW(train_lm(o, ds, bad), FormatError);
}

TEST(TinyLmDataset, SplitBatchesAndWindows) {
  const std::string text = tiny_text(1000, 5);
  const LmDataset ds = make_lm_dataset(corpus_of(text), gpt2::BpeTokenizer::byte_level(), "bytes");
  EXPECT_EQ(ds.train.size(), 900u);
  EXPECT_EQ(ds.val.size(), 100u);
  EXPECT_EQ(ds.val_text, text.substr(900));
  const Batch a = ds.train_batch(3, 10, 1, 5), b = ds.train_batch(3, 10, 1, 5),
              c = ds.train_batch(3, 10, 1, 6);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_NE(a.tokens, c.tokens);
  for (Index i = 0; i + 1 < 10; ++i) EXPECT_EQ(a.targets[i], a.tokens[i + 1]);
  // Full validation: every token after the first is scored exactly once.
  Index scored = 0;
  for (const Batch& w : ds.full_validation(16, 4))
    for (auto t : w.targets) scored += t >= 0;
  EXPECT_EQ(scored, 99);
  EXPECT_THROW(ds.train_batch(1, 900, 1, 1), UsageError);
  EXPECT_THROW(make_lm_dataset(corpus_of("ab"), gpt2::BpeTokenizer::byte_level(), "bytes"),
               InputError);
  EXPECT_THROW(make_lm_dataset(corpus_of(text), gpt2::BpeTokenizer::byte_level(), "bytes", 1.0),
               UsageError);
}

// On a model whose queries and keys are zero every row is uniform over its visible keys:
// α(first token) = (1/T) Σ_i 1/(i + 1), exactly what measure_sinks must report.
TEST(TinyLmSinks, UniformAttentionGivesTheHarmonicMass) {
  gpt2::Gpt2Config c = tiny_options().model_config(256);
  gpt2::Gpt2Weights w = gpt2::random_gpt2_weights(c, 1);
  const Index C = c.n_embd;
  for (Index l = 0; l < c.n_layer; ++l) {
    auto L = w.layer(l);
    for (Index i = 0; i < C; ++i)
      for (Index j = 0; j < 2 * C; ++j) L.qkv_w[i * 3 * C + j] = 0.0f;
    for (Index j = 0; j < 2 * C; ++j) L.qkv_b[j] = 0.0f;
  }
  const gpt2::Gpt2Model model(w);
  std::vector<std::int32_t> tokens(64);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<std::int32_t>(i % 50);
  const Index T = 8;
  const SinkMetrics m = measure_sinks(model, tokens, {T, 5, 0.3});
  double want = 0;
  for (Index i = 0; i < T; ++i) want += 1.0 / static_cast<double>(i + 1);
  want /= static_cast<double>(T);
  for (Index l = 0; l < c.n_layer; ++l) {
    EXPECT_NEAR(m.layer_mass[static_cast<std::size_t>(l)], want, 1e-6);
    for (Index h = 0; h < c.n_head; ++h) EXPECT_NEAR(m.head_mass(l, h), want, 1e-6);
  }
  EXPECT_EQ(m.sequences, 5);
  EXPECT_EQ(m.sink1, want > 0.3 ? 1.0 : 0.0);  // H_8 / 8 ≈ 0.34 > 0.3
  const SinkMetrics strict = measure_sinks(model, tokens, {T, 5, 0.5});
  EXPECT_EQ(strict.sink1, 0.0);
  EXPECT_THROW(measure_sinks(model, tokens, {1, 5, 0.3}), UsageError);
}

TEST(TinyLmBaselines, NgramOnTheDatasetIsBelowUnigram) {
  const LmDataset ds = tiny_dataset();
  const NgramBaselineResult b = corpus_baselines(ds);
  EXPECT_EQ(b.orders.front().order, 3);
  EXPECT_LT(b.best_bits_per_token, b.unigram_heldout_bits - 0.5);
}

}  // namespace
}  // namespace attnlab::models::tinylm
