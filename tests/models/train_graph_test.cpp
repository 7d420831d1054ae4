// Tests of models/gpt2/train_graph: whole-model gradients against finite differences (fp64) for
// every trainable attention and position mode, fp32 against fp64, and the training forward
// against inference (Gpt2Model) and against the independent fp64 reference forward.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <string>
#include <vector>

#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/models/gpt2/data_parallel_graph.hpp"
#include "attnlab/models/gpt2/model.hpp"
#include "attnlab/models/gpt2/train_graph.hpp"
#include "attnlab/models/gpt2/weights.hpp"
#include "tests/models/gpt2_reference.hpp"

namespace attnlab::models::gpt2 {
namespace {

struct Variant {
  std::string name;
  PositionMode positions = PositionMode::learned;
  ModelAttention attention;
};

void PrintTo(const Variant& v, std::ostream* os) {
  *os << v.name;
}

Variant make(const std::string& name, PositionMode p, auto&& edit) {
  Variant v{name, p, {}};
  edit(v.attention);
  return v;
}

std::vector<Variant> variants() {
  using attention::Normalizer;
  const auto none = [](ModelAttention&) {};
  return {
      make("full_learned", PositionMode::learned, none),
      make("full_nope", PositionMode::none, none),
      make("full_sinusoidal", PositionMode::sinusoidal, none),
      make("full_rope", PositionMode::rope, none),
      make("full_alibi", PositionMode::alibi, none),
      make("window3", PositionMode::learned, [](ModelAttention& a) { a.spec.window = 3; }),
      make("sinks1_window3", PositionMode::rope,
           [](ModelAttention& a) {
             a.spec.window = 3;
             a.spec.sinks = 1;
           }),
      make("decay_per_head", PositionMode::none,
           [](ModelAttention& a) {
             a.spec.decay = {0.05, 0.4};
           }),
      make("ssmax", PositionMode::learned,
           [](ModelAttention& a) { a.spec.normalizer = Normalizer::ssmax; }),
      make("topk3", PositionMode::learned, [](ModelAttention& a) { a.spec.topk = 3; }),
      make("sparsemax", PositionMode::learned,
           [](ModelAttention& a) { a.spec.normalizer = Normalizer::sparsemax; }),
      make("entmax15", PositionMode::learned,
           [](ModelAttention& a) { a.spec.normalizer = Normalizer::entmax15; }),
      make("linear_elu1", PositionMode::none, [](ModelAttention& a) { a.linear = true; }),
      make("learned_decay", PositionMode::none, [](ModelAttention& a) { a.learned_decay = true; }),
      make("learned_decay_alibi", PositionMode::alibi,
           [](ModelAttention& a) { a.learned_decay = true; }),
      make("learnable_sink", PositionMode::rope,
           [](ModelAttention& a) { a.learnable_sink = true; }),
      make("learnable_sink_window3", PositionMode::learned,
           [](ModelAttention& a) {
             a.learnable_sink = true;
             a.spec.window = 3;
           }),
  };
}

Gpt2Config tiny_config(const Variant& v) {
  Gpt2Config c;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 8;
  c.n_inner = 12;
  c.n_positions = 8;
  c.vocab_size = 13;
  c.position_mode = v.positions;
  c.attention = v.attention;
  c.validate();
  return c;
}

// Weights with every parameter perturbed and Q/K scaled up so the maps are not uniform.
Gpt2Weights tiny_weights(const Gpt2Config& c, std::uint64_t seed) {
  Gpt2Weights w = random_gpt2_weights(c, seed, 0.1);
  Rng rng(seed + 1);
  for (auto& p : w.params) p += static_cast<float>(0.05 * rng.normal());
  const Index C = c.n_embd;
  for (Index l = 0; l < c.n_layer; ++l) {
    auto L = w.layer(l);
    for (Index i = 0; i < C; ++i)
      for (Index j = 0; j < 2 * C; ++j) L.qkv_w[i * 3 * C + j] *= 20.0f;
    for (Index i = 0; i < C * C; ++i) L.proj_w[i] *= 10.0f;
    for (Index i = 0; i < C * c.ffn_dim(); ++i) L.fcproj_w[i] *= 10.0f;
    if (L.decay_rate)
      for (Index h = 0; h < c.n_head; ++h) L.decay_rate[h] = 0.1f + 0.3f * static_cast<float>(h);
  }
  return w;
}

struct Batch {
  std::vector<std::int32_t> tokens, targets;
};

Batch tiny_batch(Index B, Index T, Index V, std::uint64_t seed) {
  Batch b;
  Rng rng(seed);
  for (Index i = 0; i < B * T; ++i) {
    b.tokens.push_back(static_cast<std::int32_t>(rng.uniform_int(V)));
    b.targets.push_back(static_cast<std::int32_t>(rng.uniform_int(V)));
  }
  b.targets[1] = -1;  // an unscored position
  return b;
}

// Named parameter ranges [offset, offset + size) of the layout.
std::vector<std::pair<std::string, std::pair<std::size_t, std::size_t>>> tensors(
    const Gpt2Config& c) {
  const Gpt2Layout g(c);
  const auto C = static_cast<std::size_t>(c.n_embd), F = static_cast<std::size_t>(c.ffn_dim());
  const auto V = static_cast<std::size_t>(c.vocab_size),
             P = static_cast<std::size_t>(c.n_positions), H = static_cast<std::size_t>(c.n_head);
  std::vector<std::pair<std::string, std::pair<std::size_t, std::size_t>>> t = {
      {"wte", {g.wte, V * C}}, {"lnf_w", {g.lnf_w, C}}, {"lnf_b", {g.lnf_b, C}}};
  if (c.position_mode == PositionMode::learned) t.push_back({"wpe", {g.wpe, P * C}});
  for (Index l = 0; l < c.n_layer; ++l) {
    const std::size_t b = g.layer_base(l);
    const std::string p = "h" + std::to_string(l) + ".";
    t.push_back({p + "ln1_w", {b + g.ln1_w, C}});
    t.push_back({p + "ln1_b", {b + g.ln1_b, C}});
    t.push_back({p + "qkv_w", {b + g.qkv_w, C * 3 * C}});
    t.push_back({p + "qkv_b", {b + g.qkv_b, 3 * C}});
    t.push_back({p + "proj_w", {b + g.proj_w, C * C}});
    t.push_back({p + "proj_b", {b + g.proj_b, C}});
    t.push_back({p + "ln2_w", {b + g.ln2_w, C}});
    t.push_back({p + "ln2_b", {b + g.ln2_b, C}});
    t.push_back({p + "fc_w", {b + g.fc_w, C * F}});
    t.push_back({p + "fc_b", {b + g.fc_b, F}});
    t.push_back({p + "fcproj_w", {b + g.fcproj_w, F * C}});
    t.push_back({p + "fcproj_b", {b + g.fcproj_b, C}});
    if (g.decay_rate != Gpt2Layout::kAbsent) t.push_back({p + "decay_rate", {b + g.decay_rate, H}});
    if (g.sink_k != Gpt2Layout::kAbsent) {
      t.push_back({p + "sink_k", {b + g.sink_k, C}});
      t.push_back({p + "sink_v", {b + g.sink_v, C}});
    }
  }
  return t;
}

class TrainGraphVariants : public ::testing::TestWithParam<Variant> {};

// For every parameter tensor, the directional derivative along a random direction inside it
// equals the central finite difference of the fp64 loss; unused parameters get exactly 0.
TEST_P(TrainGraphVariants, Fp64GradientMatchesFiniteDifferences) {
  const Gpt2Config c = tiny_config(GetParam());
  const Gpt2Weights w = tiny_weights(c, 3);
  std::vector<double> params(w.params.begin(), w.params.end());
  const Index B = 2, T = 6;
  const Batch batch = tiny_batch(B, T, c.vocab_size, 5);
  GptTrainGraph<double> graph(c, B, T);
  std::vector<double> grads(params.size());
  const double loss0 =
      graph.forward_backward(params.data(), batch.tokens.data(), batch.targets.data(), grads.data())
          .mean();
  EXPECT_TRUE(std::isfinite(loss0));
  EXPECT_NEAR(graph.forward(params.data(), batch.tokens.data(), batch.targets.data()).mean(), loss0,
              1e-12);
  auto loss = [&]() {
    return graph.forward(params.data(), batch.tokens.data(), batch.targets.data()).mean();
  };
  Rng rng(17);
  const double eps = 1e-6;
  double covered = 0;
  for (const auto& [name, range] : tensors(c)) {
    const auto [off, size] = range;
    std::vector<double> u(size);
    rng.fill_normal(u.data(), static_cast<Index>(size));
    double analytic = 0;
    for (std::size_t i = 0; i < size; ++i) analytic += grads[off + i] * u[i];
    for (std::size_t i = 0; i < size; ++i) params[off + i] += eps * u[i];
    const double up = loss();
    for (std::size_t i = 0; i < size; ++i) params[off + i] -= 2 * eps * u[i];
    const double down = loss();
    for (std::size_t i = 0; i < size; ++i) params[off + i] += eps * u[i];
    const double fd = (up - down) / (2 * eps);
    EXPECT_NEAR(analytic, fd, 1e-6 * std::max(1.0, std::abs(fd))) << name;
    covered += std::abs(analytic);
  }
  EXPECT_GT(covered, 0.0);
  if (c.position_mode != PositionMode::learned) {
    const Gpt2Layout g(c);
    for (std::size_t i = 0; i < static_cast<std::size_t>(c.n_positions * c.n_embd); ++i)
      ASSERT_EQ(grads[g.wpe + i], 0.0)
          << "wpe is not trained in mode " << to_string(c.position_mode);
  }
}

// The float graph (fused kernels for the softmax family) agrees with the fp64 graph.
TEST_P(TrainGraphVariants, Fp32AgreesWithFp64) {
  const Gpt2Config c = tiny_config(GetParam());
  const Gpt2Weights w = tiny_weights(c, 4);
  std::vector<double> pd(w.params.begin(), w.params.end());
  const Index B = 3, T = 8;
  const Batch batch = tiny_batch(B, T, c.vocab_size, 6);
  GptTrainGraph<double> gd(c, B, T);
  GptTrainGraph<float> gf(c, B, T);
  std::vector<double> g64(pd.size());
  std::vector<float> g32(pd.size());
  const double l64 =
      gd.forward_backward(pd.data(), batch.tokens.data(), batch.targets.data(), g64.data()).mean();
  const double l32 =
      gf.forward_backward(w.params.data(), batch.tokens.data(), batch.targets.data(), g32.data())
          .mean();
  EXPECT_NEAR(l32, l64, 2e-5 * std::abs(l64));
  double num = 0, den = 0;
  for (std::size_t i = 0; i < pd.size(); ++i) {
    num += (g32[i] - g64[i]) * (g32[i] - g64[i]);
    den += g64[i] * g64[i];
  }
  EXPECT_LT(std::sqrt(num / den), 2e-4);
}

// Training forward == inference forward: the mean NLL of Gpt2Model over each sequence equals
// the graph's loss (same weights, same attention, same positions).
TEST_P(TrainGraphVariants, LossEqualsInferenceNll) {
  const Gpt2Config c = tiny_config(GetParam());
  const Gpt2Weights w = tiny_weights(c, 8);
  const Index B = 2, T = 8;
  Batch batch = tiny_batch(B, T, c.vocab_size, 9);
  batch.targets[1] = 4;  // score every row (inference scores contiguous rows)
  GptTrainGraph<float> g(c, B, T);
  const GraphLoss loss = g.forward(w.params.data(), batch.tokens.data(), batch.targets.data());
  const Gpt2Model model(w);
  double sum = 0;
  for (Index b = 0; b < B; ++b) {
    ForwardOptions o;
    o.logits = LogitsMode::none;
    o.targets = std::span<const std::int32_t>(batch.targets.data() + b * T, T);
    const std::span<const std::int32_t> toks(batch.tokens.data() + b * T, T);
    for (double v : model.forward(toks, o).nll) sum += v;
    // Also token by token with the KV cache (decode path, row kernel).
    KvCache cache = model.make_cache(T);
    double step_sum = 0;
    for (Index t = 0; t < T; ++t) {
      ForwardOptions s;
      s.logits = LogitsMode::none;
      const std::int32_t target[1] = {batch.targets[b * T + t]};
      s.targets = target;
      step_sum += model.forward(toks.subspan(t, 1), cache, s).nll[0];
    }
    ForwardOptions o2 = o;
    double full = 0;
    for (double v : model.forward(toks, o2).nll) full += v;
    EXPECT_NEAR(step_sum, full, 1e-4 * std::abs(full)) << "decode vs prefill, sequence " << b;
  }
  EXPECT_NEAR(loss.sum_nll, sum, 1e-5 * std::abs(sum));
  EXPECT_EQ(loss.scored, B * T);
}

INSTANTIATE_TEST_SUITE_P(Variants, TrainGraphVariants, ::testing::ValuesIn(variants()),
                         [](const auto& info) { return info.param.name; });

// The training forward of GPT-2's own attention agrees with the test suite's independent fp64
// reference forward (tests/models/gpt2_reference.hpp).
TEST(TrainGraph, LossMatchesIndependentReferenceForward) {
  for (PositionMode p :
       {PositionMode::learned, PositionMode::none, PositionMode::rope, PositionMode::alibi}) {
    Variant v{"x", p, {}};
    const Gpt2Config c = tiny_config(v);
    const Gpt2Weights w = tiny_weights(c, 12);
    const Index T = 8;
    const Batch batch = tiny_batch(1, T, c.vocab_size, 13);
    GptTrainGraph<double> g(c, 1, T);
    std::vector<double> pd(w.params.begin(), w.params.end());
    const GraphLoss loss = g.forward(pd.data(), batch.tokens.data(), batch.targets.data());
    ForwardOptions o;
    o.positions = p;
    o.logits = LogitsMode::all;
    const auto ref = testing::reference_forward(w, batch.tokens, o);
    double sum = 0;
    for (Index t = 0; t < T; ++t) {
      if (batch.targets[t] < 0) continue;
      const auto row = ref.logits.row(t);
      const double mx = row.maxCoeff();
      sum += mx + std::log((row.array() - mx).exp().sum()) - row(batch.targets[t]);
    }
    EXPECT_NEAR(loss.sum_nll, sum, 1e-9 * std::abs(sum)) << to_string(p);
  }
}

TEST(TrainGraph, BitIdenticalAcrossRunsAndRejectsBadInput) {
  Variant v{"x", PositionMode::learned, {}};
  const Gpt2Config c = tiny_config(v);
  const Gpt2Weights w = tiny_weights(c, 21);
  const Index B = 4, T = 8;
  Batch batch = tiny_batch(B, T, c.vocab_size, 22);
  GptTrainGraph<float> g(c, B, T);
  std::vector<float> g1(w.params.size()), g2(w.params.size());
  const double l1 =
      g.forward_backward(w.params.data(), batch.tokens.data(), batch.targets.data(), g1.data())
          .sum_nll;
  const double l2 =
      g.forward_backward(w.params.data(), batch.tokens.data(), batch.targets.data(), g2.data())
          .sum_nll;
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(g1, g2);
  batch.tokens[5] = 13;
  EXPECT_THROW(g.forward(w.params.data(), batch.tokens.data(), batch.targets.data()), InputError);
  batch.tokens[5] = 0;
  batch.targets[7] = 99;
  EXPECT_THROW(g.forward(w.params.data(), batch.tokens.data(), batch.targets.data()), InputError);
  EXPECT_THROW(GptTrainGraph<float>(c, 1, 9), UsageError);
  EXPECT_THROW(GptTrainGraph<float>(c, 0, 4), UsageError);
  ModelAttention bad;
  bad.linear = true;
  bad.spec.window = 4;
  EXPECT_THROW(bad.validate(), UsageError);
  ModelAttention bad2;
  bad2.learnable_sink = true;
  bad2.spec.decay = {0.1};
  EXPECT_THROW(bad2.validate(), UsageError);
}

// The data-parallel graph is the single graph with the batch split by sequences: same mean loss
// and gradient (fp64: to rounding) for 1, 2 and 3 replicas on an uneven split, with unscored
// targets only in the first replica's rows (so the whole-batch normalizer matters), trainable
// sink and decay tensors (summed across replicas), bit-identical repeats, and the caller's
// OpenMP thread count left as it was.
TEST(DataParallelTrainGraph, EqualsTheSingleGraphForEveryReplicaCount) {
  for (const Variant& v : {make("learnable_sink", PositionMode::rope,
                                [](ModelAttention& a) { a.learnable_sink = true; }),
                           make("learned_decay", PositionMode::learned,
                                [](ModelAttention& a) { a.learned_decay = true; })}) {
    SCOPED_TRACE(v.name);
    const Gpt2Config c = tiny_config(v);
    const Gpt2Weights w = tiny_weights(c, 31);
    const std::vector<double> p(w.params.begin(), w.params.end());
    const Index B = 5, T = 8;
    Batch batch = tiny_batch(B, T, c.vocab_size, 32);
    for (Index i = 0; i < 6; ++i) batch.targets[static_cast<std::size_t>(i)] = -1;
    GptTrainGraph<double> single(c, B, T);
    std::vector<double> g_ref(p.size());
    const GraphLoss ref =
        single.forward_backward(p.data(), batch.tokens.data(), batch.targets.data(), g_ref.data());
    double g_norm = 0;
    for (double x : g_ref) g_norm = std::max(g_norm, std::abs(x));
    for (int R : {1, 2, 3}) {
      SCOPED_TRACE(R);
      const int outer = omp_get_max_threads();
      DataParallelTrainGraph<double> dp(c, B, T, R);
      EXPECT_EQ(dp.replicas(), R);
      std::vector<double> g(p.size()), g2(p.size());
      const GraphLoss l =
          dp.forward_backward(p.data(), batch.tokens.data(), batch.targets.data(), g.data());
      EXPECT_EQ(omp_get_max_threads(), outer);
      EXPECT_EQ(l.scored, ref.scored);
      EXPECT_NEAR(l.mean(), ref.mean(), 1e-12 * ref.mean());
      double worst = 0;
      for (std::size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::abs(g[i] - g_ref[i]));
      EXPECT_LT(worst, 1e-12 * g_norm);
      const GraphLoss f = dp.forward(p.data(), batch.tokens.data(), batch.targets.data());
      EXPECT_NEAR(f.sum_nll, ref.sum_nll, 1e-12 * ref.sum_nll);
      dp.forward_backward(p.data(), batch.tokens.data(), batch.targets.data(), g2.data());
      EXPECT_EQ(g, g2);
    }
    // More replicas than sequences: capped at the batch.
    EXPECT_EQ(DataParallelTrainGraph<double>(c, 2, T, 8).replicas(), 2);
    // A bad token in the last replica's rows is still the graph's InputError.
    batch.tokens.back() = 99;
    DataParallelTrainGraph<float> dpf(c, B, T, 2);
    EXPECT_THROW(dpf.forward(w.params.data(), batch.tokens.data(), batch.targets.data()),
                 InputError);
  }
}

}  // namespace
}  // namespace attnlab::models::gpt2
