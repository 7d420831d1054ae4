#include "attnlab/models/gpt2/model.hpp"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "attnlab/attention/normalizers.hpp"
#include "attnlab/attention/positional.hpp"
#include "attnlab/attention/reference_attention.hpp"
#include "attnlab/core/blas.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/nn/layers/gelu.hpp"
#include "attnlab/nn/layers/layernorm.hpp"
#include "attnlab/nn/layers/linear.hpp"

namespace attnlab::models::gpt2 {
namespace {

using attention::AttentionSpec;
using attention::Kernel;
using attention::Normalizer;
using attention::ScoreMods;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kNegInf = -std::numeric_limits<double>::infinity();
// Chunks of at most this many rows use the weight-streaming kernel instead of GEMM.
constexpr Index kSmallRows = 8;
// Loops over fewer elements than this run on one thread: a parallel region costs more than the
// work (and far more when the machine is oversubscribed). Results do not depend on it: every
// loop writes disjoint rows/columns in a fixed order.
constexpr Index kParallelWork = Index{1} << 16;

// ---- dense layers -----------------------------------------------------------------------------

// y [n, out] (+)= x [n, in] · W [in, out] + b [out]. Small n streams W once for all rows
// (bandwidth-bound decode); larger n goes to OpenBLAS sgemm.
void linear(const float* x, Index n, Index in, const float* W, const float* b, Index out, float* y,
            bool accumulate) {
  if (n > kSmallRows) {
    nn::linear_forward(x, n, in, W, b, out, y, accumulate);
    return;
  }
#pragma omp parallel if (in * out >= kParallelWork)
  {
    const Index nt = omp_get_num_threads(), t = omp_get_thread_num();
    Index chunk = (out + nt - 1) / nt;
    chunk = (chunk + 15) / 16 * 16;
    const Index c0 = std::min(out, t * chunk), c1 = std::min(out, c0 + chunk), w = c1 - c0;
    if (w > 0) {
      for (Index r = 0; r < n; ++r) {
        float* yr = y + r * out + c0;
        const float* br = b + c0;
        if (accumulate) {
#pragma omp simd
          for (Index c = 0; c < w; ++c) yr[c] += br[c];
        } else {
#pragma omp simd
          for (Index c = 0; c < w; ++c) yr[c] = br[c];
        }
      }
      Index i = 0;
      for (; i + 4 <= in; i += 4) {
        const float* w0 = W + i * out + c0;
        const float* w1 = w0 + out;
        const float* w2 = w1 + out;
        const float* w3 = w2 + out;
        for (Index r = 0; r < n; ++r) {
          const float* xr = x + r * in + i;
          const float x0 = xr[0], x1 = xr[1], x2 = xr[2], x3 = xr[3];
          float* yr = y + r * out + c0;
#pragma omp simd
          for (Index c = 0; c < w; ++c) yr[c] += x0 * w0[c] + x1 * w1[c] + x2 * w2[c] + x3 * w3[c];
        }
      }
      for (; i < in; ++i) {
        const float* w0 = W + i * out + c0;
        for (Index r = 0; r < n; ++r) {
          const float xi = x[r * in + i];
          float* yr = y + r * out + c0;
#pragma omp simd
          for (Index c = 0; c < w; ++c) yr[c] += xi * w0[c];
        }
      }
    }
  }
}

void layernorm(const float* x, Index n, Index C, const float* w, const float* b, double eps,
               float* y) {
  nn::layernorm_forward(x, n, C, w, b, eps, y, static_cast<float*>(nullptr),
                        static_cast<float*>(nullptr));
}

// In-place GELU on [n, F].
void gelu(float* x, Index n, Index F, Activation act) {
  nn::gelu_forward(act == Activation::gelu_tanh ? nn::GeluKind::tanh : nn::GeluKind::erf, x, n * F,
                   x);
}

// logits [n, V] = h [n, C] · E [V, C]ᵀ.
void project_vocab(const float* h, Index n, Index C, const float* E, Index V, float* logits) {
  if (n > kSmallRows) {
    gemm(Trans::no, Trans::yes, n, V, C, 1.0f, h, C, E, C, 0.0f, logits, V);
    return;
  }
#pragma omp parallel for schedule(static) if (V * C >= kParallelWork)
  for (Index v = 0; v < V; ++v) {
    const float* e = E + v * C;
    for (Index r = 0; r < n; ++r) {
      const float* hr = h + r * C;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (Index c = 0; c < C; ++c) s += hr[c] * e[c];
      logits[r * V + v] = s;
    }
  }
}

double dot_f(const float* a, const float* b, Index d) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (Index c = 0; c < d; ++c) s += a[c] * b[c];
  return static_cast<double>(s);
}

// ---- the row kernel ---------------------------------------------------------------------------

// Everything one layer's attention needs, shared by both kernels.
struct AttentionJob {
  const AttentionSpec* spec;
  const ScoreMods* mods;
  const KvCache* cache;
  Index layer, H, n, M, d, p0;  // p0: cache row of new row 0 (the learnable-sink slot counts)
  const float* q;               // [H, n, d]
  bool linear = false;          // elu+1 linear attention weights instead of the spec's
  Index prefix = 0;             // non-token cache rows before token 0
};

double elu1(double x) {
  return x > 0.0 ? x + 1.0 : std::exp(x);
}

// Linear (elu+1) attention weights of one row: α_j ∝ φ(q)·φ(k_j) over visible keys; `logits`
// gets log of the unnormalized kernel (−∞ where invisible) so row statistics see visibility.
void linear_row_weights(const AttentionJob& job, Index h, Index i, std::span<double> logits,
                        std::span<double> weights) {
  const ScoreMods& mods = *job.mods;
  const float* qi = job.q + (h * job.n + i) * job.d;
  const float* K = job.cache->keys(job.layer, h);
  std::vector<double> phi_q(static_cast<std::size_t>(job.d));
  for (Index c = 0; c < job.d; ++c) phi_q[static_cast<std::size_t>(c)] = elu1(qi[c]);
  double total = 0.0;
  for (Index j = 0; j < job.M; ++j) {
    if (!mods.visible(i, j)) {
      logits[static_cast<std::size_t>(j)] = kNegInf;
      weights[static_cast<std::size_t>(j)] = 0.0;
      continue;
    }
    double a = 0.0;
    const float* kj = K + j * job.d;
    for (Index c = 0; c < job.d; ++c) a += phi_q[static_cast<std::size_t>(c)] * elu1(kj[c]);
    weights[static_cast<std::size_t>(j)] = a;
    logits[static_cast<std::size_t>(j)] = std::log(a);
    total += a;
  }
  for (Index j = 0; j < job.M; ++j)
    weights[static_cast<std::size_t>(j)] =
        total > 0.0 ? weights[static_cast<std::size_t>(j)] / total : 0.0;
}

// Logits of row i of head h into `logits` [M] (−∞ where invisible or dropped by top-k), then
// weights into `weights` [M]. Returns nothing; both spans are filled.
void row_weights(const AttentionJob& job, Index h, Index i, std::span<double> logits,
                 std::span<double> weights) {
  if (job.linear) {
    linear_row_weights(job, h, i, logits, weights);
    return;
  }
  const ScoreMods& mods = *job.mods;
  const float* qi = job.q + (h * job.n + i) * job.d;
  const float* K = job.cache->keys(job.layer, h);
  const double scale = mods.logit_scale(i);
  const auto band = mods.band(i);
  const Index sinks = mods.sinks();
  for (Index j = 0; j < job.M; ++j) {
    const bool in_band = j >= band.lo && j < band.hi;
    if ((!in_band && j >= sinks) || !mods.visible(i, j)) {
      logits[static_cast<std::size_t>(j)] = kNegInf;
      continue;
    }
    double l = scale * dot_f(qi, K + j * job.d, job.d);
    if (mods.has_bias()) l += mods.bias(h, i, j);
    logits[static_cast<std::size_t>(j)] = l;
  }
  if (mods.topk() > 0) attention::apply_topk_row(logits, mods.topk());
  attention::normalize_row<double>(job.spec->normalizer, std::span<const double>(logits), weights);
}

// Attention of all new rows with the row kernel: out [n, C] merged heads, plus capture.
void attend_rows(const AttentionJob& job, float* out, LayerCapture* capture) {
  const Index H = job.H, n = job.n, M = job.M, d = job.d, C = H * d;
  const bool diag = capture != nullptr;
#pragma omp parallel if (H * n * M * d >= kParallelWork)
  {
    std::vector<double> logits(static_cast<std::size_t>(M)), weights(static_cast<std::size_t>(M));
    std::vector<double> acc(static_cast<std::size_t>(d));
#pragma omp for schedule(static)
    for (Index task = 0; task < H * n; ++task) {
      const Index h = task / n, i = task % n;
      row_weights(job, h, i, logits, weights);
      const float* V = job.cache->values(job.layer, h);
      std::fill(acc.begin(), acc.end(), 0.0);
      for (Index j = 0; j < M; ++j) {
        const double a = weights[static_cast<std::size_t>(j)];
        if (a == 0.0) continue;
        const float* vj = V + j * d;
        for (Index c = 0; c < d; ++c) acc[static_cast<std::size_t>(c)] += a * vj[c];
      }
      float* o = out + i * C + h * d;
      for (Index c = 0; c < d; ++c) o[c] = static_cast<float>(acc[static_cast<std::size_t>(c)]);
      if (diag) {
        capture->rows.set(h, i, attention::compute_row_stats(weights, logits));
        const Index p = job.p0 + i;
        capture->self_weight(h, i) = weights[static_cast<std::size_t>(p)];
        capture->prev_weight(h, i) =
            p >= 1 + job.prefix ? weights[static_cast<std::size_t>(p - 1)] : kNaN;
      }
    }
  }
}

// Attention through attention::attend() (fused for softmax specs): copies K/V out of the cache.
Kernel attend_fused(const AttentionJob& job, Kernel kernel, float* out, LayerCapture* capture) {
  const Index H = job.H, n = job.n, M = job.M, d = job.d, C = H * d;
  Tensor3f q(H, n, d), K(H, M, d), V(H, M, d);
  std::copy(job.q, job.q + H * n * d, q.data());
  for (Index h = 0; h < H; ++h) {
    std::copy(job.cache->keys(job.layer, h), job.cache->keys(job.layer, h) + M * d,
              K.slice_data(h));
    std::copy(job.cache->values(job.layer, h), job.cache->values(job.layer, h) + M * d,
              V.slice_data(h));
  }
  attention::AttendOptions ao;
  ao.kernel = kernel;
  ao.diagnostics = capture != nullptr;
  attention::AttendResult r = attention::attend(q, K, V, *job.spec, ao);
  for (Index h = 0; h < H; ++h)
    for (Index i = 0; i < n; ++i)
      std::copy(&r.out(h, i, 0), &r.out(h, i, 0) + d, out + i * C + h * d);
  if (capture) {
    capture->rows = std::move(r.diagnostics);
    // Weight on a key j from the row's log-sum-exp: α = exp(ℓ_ij − lse_i).
    const ScoreMods& mods = *job.mods;
    auto weight = [&](Index h, Index i, Index j) -> double {
      if (j < 0) return kNaN;
      if (!mods.visible(i, j) || !std::isfinite(r.lse(h, i))) return 0.0;
      double l = mods.logit_scale(i) * dot_f(q.slice_data(h) + i * d, K.slice_data(h) + j * d, d);
      if (mods.has_bias()) l += mods.bias(h, i, j);
      return std::exp(l - static_cast<double>(r.lse(h, i)));
    };
    for (Index h = 0; h < H; ++h)
      for (Index i = 0; i < n; ++i) {
        const Index p = job.p0 + i;
        capture->self_weight(h, i) = weight(h, i, p);
        capture->prev_weight(h, i) = p >= 1 + job.prefix ? weight(h, i, p - 1) : kNaN;
      }
  }
  return r.kernel;
}

}  // namespace

// ---- cache ------------------------------------------------------------------------------------

KvCache::KvCache(Index layers, Index heads, Index head_dim, Index capacity, Index prefix)
    : L_(layers), H_(heads), d_(head_dim), capacity_(capacity), prefix_(prefix), length_(prefix) {
  const auto size = static_cast<std::size_t>(layers * heads * (capacity + prefix) * head_dim);
  k_.assign(size, 0.0f);
  v_.assign(size, 0.0f);
}

// ---- model ------------------------------------------------------------------------------------

Gpt2Model::Gpt2Model(Gpt2Weights weights) : weights_(std::move(weights)) {
  weights_.config.validate();
  if (weights_.params.size() != weights_.layout().total) {
    throw UsageError(str_cat("Gpt2Model: weights hold ", weights_.params.size(),
                             " floats, the config needs ", weights_.layout().total));
  }
  const Index P = config().n_positions, C = config().n_embd;
  const auto rms = [](const float* x, Index n) {
    double ss = 0.0;
    for (Index i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
    return std::sqrt(ss / static_cast<double>(n));
  };
  // No position table (a model trained with none/RoPE/ALiBi keeps wpe at zero): a sinusoidal
  // override is scaled to the token embeddings' RMS instead, so it is not a no-op.
  wpe_rms_ = rms(weights_.wpe(), P * C);
  if (wpe_rms_ == 0.0) wpe_rms_ = rms(weights_.wte(), config().vocab_size * C);
  const Index d = config().head_dim();
  if (d % 2 == 0) rope_ = nn::RopeTable(P, d);
}

KvCache Gpt2Model::make_cache(Index capacity) const {
  const Gpt2Config& c = config();
  if (capacity == 0) capacity = c.n_positions;
  if (capacity < 1 || capacity > c.n_positions) {
    throw UsageError(str_cat("make_cache: capacity ", capacity,
                             " outside [1, n_positions = ", c.n_positions, "]"));
  }
  const Index prefix = c.attention.learnable_sink ? 1 : 0;
  KvCache cache(c.n_layer, c.n_head, c.head_dim(), capacity, prefix);
  if (prefix) {
    const Index d = c.head_dim();
    for (Index l = 0; l < c.n_layer; ++l) {
      const auto P = weights_.layer(l);
      for (Index h = 0; h < c.n_head; ++h) {
        std::copy(P.sink_k + h * d, P.sink_k + (h + 1) * d, cache.keys(l, h));
        std::copy(P.sink_v + h * d, P.sink_v + (h + 1) * d, cache.values(l, h));
      }
    }
  }
  return cache;
}

attention::AttentionSpec Gpt2Model::layer_spec(const ForwardOptions& o, Index layer) const {
  const Gpt2Config& c = config();
  if (o.attention && !o.attention->key_mask.empty()) {
    throw UsageError("GPT-2 forward: a key padding mask is not supported (pass the tokens only)");
  }
  if (o.attention && c.attention.linear) {
    throw UsageError(
        str_cat("GPT-2 forward: this model was trained with linear (elu+1) "
                "attention; an attention override (",
                o.attention->describe(), ") does not apply to it"));
  }
  std::vector<double> rates;
  if (const float* r = weights_.layer(layer).decay_rate) rates.assign(r, r + c.n_head);
  AttentionSpec s = layer_attention_spec(c, o.attention.value_or(c.attention.spec), layer,
                                         o.positions.value_or(c.position_mode), rates);
  s.causal = !o.bidirectional;
  return s;
}

std::string Gpt2Model::describe_attention(const ForwardOptions& o) const {
  if (!o.attention) return config().attention.describe();
  return o.attention->describe();
}

ForwardResult Gpt2Model::forward(std::span<const std::int32_t> tokens,
                                 const ForwardOptions& options) const {
  KvCache cache = make_cache(std::max<Index>(1, static_cast<Index>(tokens.size())));
  return forward(tokens, cache, options);
}

ForwardResult Gpt2Model::forward(std::span<const std::int32_t> tokens, KvCache& cache,
                                 const ForwardOptions& o) const {
  const Gpt2Config& cfg = config();
  const Index n = static_cast<Index>(tokens.size()), C = cfg.n_embd, H = cfg.n_head;
  const Index d = cfg.head_dim(), F = cfg.ffn_dim(), V = cfg.vocab_size, L = cfg.n_layer;
  // Cache rows: `prefix` non-token rows (the learnable sink), then tokens. p0 is the position of
  // the first new token, s0 its cache row; M keys in all after this call.
  const Index prefix = cache.prefix(), s0 = cache.length(), p0 = s0 - prefix, M = s0 + n;
  const PositionMode positions = o.positions.value_or(cfg.position_mode);
  const AttentionSpec base_spec = o.attention.value_or(cfg.attention.spec);
  if (n < 1) throw UsageError("GPT-2 forward: no tokens");
  if (cache.layers() != L || cache.heads() != H || cache.head_dim() != d ||
      cache.prefix() != (cfg.attention.learnable_sink ? 1 : 0)) {
    throw UsageError(
        "GPT-2 forward: the KV cache was made for a different model (use Gpt2Model::make_cache)");
  }
  if (p0 + n > cache.capacity()) {
    throw InputError(str_cat("GPT-2 forward: ", p0, " cached + ", n, " new tokens exceed the ",
                             "context of ", cache.capacity(),
                             " positions (n_positions = ", cfg.n_positions, ")"));
  }
  for (Index t = 0; t < n; ++t) {
    if (tokens[t] < 0 || tokens[t] >= V) {
      throw InputError(str_cat("GPT-2 forward: token id ", tokens[t], " at position ", p0 + t,
                               " is outside the vocabulary [0, ", V, ")"));
    }
  }
  if (positions == PositionMode::rope && d % 2 != 0) {
    throw UsageError(str_cat("GPT-2 forward: RoPE needs an even head dim, got ", d));
  }
  if (o.diagnostics && base_spec.normalizer == Normalizer::none && !cfg.attention.linear) {
    throw UsageError(
        "GPT-2 forward: diagnostics need a normalizer (weights of 'none' are not a "
        "distribution)");
  }
  Index map_entries = 0;
  for (const auto& m : o.maps) {
    if (m.layer < 0 || m.layer >= L || m.head < 0 || m.head >= H) {
      throw UsageError(str_cat("GPT-2 forward: map request layer ", m.layer, " head ", m.head,
                               " outside L=", L, " H=", H));
    }
    map_entries += n * M;
  }
  if (map_entries > o.max_map_entries) {
    throw UsageError(str_cat("GPT-2 forward: ", o.maps.size(), " maps of ", n, " x ", M,
                             " entries exceed the capture bound of ", o.max_map_entries,
                             " (request fewer maps or fewer tokens)"));
  }
  for (const Index l : o.projection_layers) {
    if (l < 0 || l >= L) {
      throw UsageError(
          str_cat("GPT-2 forward: projection capture of layer ", l, " outside [0, ", L, ")"));
    }
  }
  const bool scoring = !o.targets.empty();
  const Index score_to = o.score_to > 0 ? o.score_to : n;
  if (scoring) {
    if (static_cast<Index>(o.targets.size()) != n || o.score_from < 0 || o.score_from >= score_to ||
        score_to > n) {
      throw UsageError(str_cat("GPT-2 forward: targets must have one entry per token (", n,
                               ", got ", o.targets.size(),
                               ") and 0 <= score_from < score_to <= n"));
    }
    for (Index t = o.score_from; t < score_to; ++t) {
      if (o.targets[t] < 0 || o.targets[t] >= V) {
        throw InputError(str_cat("GPT-2 forward: target id ", o.targets[t], " at row ", t,
                                 " is outside the vocabulary [0, ", V, ")"));
      }
    }
  }

  ForwardResult result;
  // x [n, C]: token embeddings + positions.
  MatrixF x(n, C);
  const float* wte = weights_.wte();
  const float* wpe = weights_.wpe();
  // A model trained with sinusoidal positions stores its table in wpe: add wpe as for learned
  // ones. An explicit sinusoidal override adds the table scaled to wpe's RMS instead (wte's
  // RMS when wpe is all zero).
  const bool add_wpe =
      positions == PositionMode::learned || (!o.positions && positions == PositionMode::sinusoidal);
  const bool add_sinus = o.positions && positions == PositionMode::sinusoidal;
  MatrixD sinus;
  if (add_sinus) {
    // sin/cos entries have RMS 1/√2; scale them to wpe's RMS.
    sinus = attention::sinusoidal_table(n, C, p0) * (wpe_rms_ * std::numbers::sqrt2);
  }
  for (Index t = 0; t < n; ++t) {
    const float* e = wte + static_cast<Index>(tokens[t]) * C;
    for (Index c = 0; c < C; ++c) {
      float v = e[c];
      if (add_wpe) v += wpe[(p0 + t) * C + c];
      if (add_sinus) v += static_cast<float>(sinus(t, c));
      x(t, c) = v;
    }
  }

  // With only the last token's logits wanted and nothing captured, the last layer computes its
  // attention output and MLP for the last row only (what generation needs).
  const bool last_row_only = o.logits == LogitsMode::last && !o.hidden_states && !o.diagnostics &&
                             o.maps.empty() && o.projection_layers.empty() && !scoring &&
                             o.kernel == Kernel::automatic && n > 1;
  result.projections.resize(o.projection_layers.size());
  MatrixF a(n, C), qkv(n, 3 * C), att(n, C), f(n, F);
  AlignedVector<float> q(static_cast<std::size_t>(H * n * d));  // [H, n, d]
  if (o.diagnostics) result.layers.resize(static_cast<std::size_t>(L));
  result.maps.resize(o.maps.size());
  const double eps = cfg.layer_norm_epsilon;
  for (Index l = 0; l < L; ++l) {
    const auto P = weights_.layer(l);
    layernorm(x.data(), n, C, P.ln1_w, P.ln1_b, eps, a.data());
    linear(a.data(), n, C, P.qkv_w, P.qkv_b, 3 * C, qkv.data(), false);
    // Split heads; new keys/values go straight into the cache.
    for (Index h = 0; h < H; ++h) {
      float* K = cache.keys(l, h);
      float* Vv = cache.values(l, h);
      for (Index t = 0; t < n; ++t) {
        const float* row = qkv.data() + t * 3 * C;
        std::copy(row + h * d, row + h * d + d, q.data() + (h * n + t) * d);
        std::copy(row + C + h * d, row + C + h * d + d, K + (s0 + t) * d);
        std::copy(row + 2 * C + h * d, row + 2 * C + h * d + d, Vv + (s0 + t) * d);
      }
      if (positions == PositionMode::rope) {
        rope_.rotate(q.data() + h * n * d, n, p0);
        rope_.rotate(K + s0 * d, n, p0);
      }
    }
    for (std::size_t k = 0; k < o.projection_layers.size(); ++k) {
      if (o.projection_layers[k] != l) continue;
      LayerProjections& lp = result.projections[k];
      lp.layer = l;
      lp.first_position = p0;
      lp.input = x;
      lp.q = Tensor3<float>(H, n, d);
      lp.k = Tensor3<float>(H, n, d);
      lp.v = Tensor3<float>(H, n, d);
      std::copy(q.data(), q.data() + H * n * d, lp.q.data());
      for (Index h = 0; h < H; ++h) {
        std::copy(cache.keys(l, h) + s0 * d, cache.keys(l, h) + (s0 + n) * d, lp.k.slice_data(h));
        std::copy(cache.values(l, h) + s0 * d, cache.values(l, h) + (s0 + n) * d,
                  lp.v.slice_data(h));
      }
    }
    const AttentionSpec spec = layer_spec(o, l);
    const bool linear_attn = cfg.attention.linear;
    if (last_row_only && l == L - 1) {
      // Only the last row of the last layer reaches the output (the last token's logits); the
      // other rows' keys and values are in the cache already. Attention of that one query over
      // all M keys (row kernel, query position M − 1), then the rest of the block on one row.
      AlignedVector<float> q1(static_cast<std::size_t>(H * d));  // [H, 1, d]
      for (Index h = 0; h < H; ++h)
        std::copy(q.data() + (h * n + n - 1) * d, q.data() + (h * n + n) * d, q1.data() + h * d);
      const ScoreMods mods1(spec, H, 1, M, d);
      const AttentionJob job1{&spec, &mods1, &cache, l,         H,           1,
                              M,     d,      M - 1,  q1.data(), linear_attn, prefix};
      const Index r = n - 1;
      attend_rows(job1, att.data() + r * C, nullptr);
      linear(att.data() + r * C, 1, C, P.proj_w, P.proj_b, C, x.data() + r * C, true);
      layernorm(x.data() + r * C, 1, C, P.ln2_w, P.ln2_b, eps, a.data() + r * C);
      linear(a.data() + r * C, 1, C, P.fc_w, P.fc_b, F, f.data() + r * F, false);
      gelu(f.data() + r * F, 1, F, cfg.activation);
      linear(f.data() + r * F, 1, F, P.fcproj_w, P.fcproj_b, C, x.data() + r * C, true);
      continue;
    }
    const ScoreMods mods(spec, H, n, M, d);
    AttentionJob job{&spec, &mods, &cache, l, H, n, M, d, s0, q.data(), linear_attn, prefix};
    LayerCapture* capture = nullptr;
    if (o.diagnostics) {
      capture = &result.layers[static_cast<std::size_t>(l)];
      capture->rows = attention::RowDiagnostics(H, n);
      capture->self_weight = MatrixD::Zero(H, n);
      capture->prev_weight = MatrixD::Zero(H, n);
    }
    Kernel kernel = o.kernel;
    if (kernel == Kernel::automatic) {
      kernel =
          !linear_attn && spec.is_softmax_family() && spec.topk == 0 && n > o.row_kernel_max_rows
              ? Kernel::fused
              : Kernel::reference;
    }
    if (kernel == Kernel::fused && linear_attn) {
      throw UsageError("GPT-2 forward: the fused kernel does not run linear (elu+1) attention");
    }
    if (kernel == Kernel::fused) {
      result.kernel = attend_fused(job, Kernel::fused, att.data(), capture);
    } else {
      attend_rows(job, att.data(), capture);
      result.kernel = Kernel::reference;
    }
    for (std::size_t k = 0; k < o.maps.size(); ++k) {
      const MapRequest& m = o.maps[k];
      if (m.layer != l) continue;
      CapturedMap& cm = result.maps[k];
      cm.layer = l;
      cm.head = m.head;
      cm.first_position = p0;
      cm.weights = MatrixD(n, M);
      std::vector<double> logits(static_cast<std::size_t>(M)), weights(static_cast<std::size_t>(M));
      for (Index i = 0; i < n; ++i) {
        row_weights(job, m.head, i, logits, weights);
        for (Index j = 0; j < M; ++j)
          cm.weights(i, j) = mods.visible(i, j) ? weights[static_cast<std::size_t>(j)] : kNaN;
      }
    }
    linear(att.data(), n, C, P.proj_w, P.proj_b, C, x.data(), true);
    layernorm(x.data(), n, C, P.ln2_w, P.ln2_b, eps, a.data());
    linear(a.data(), n, C, P.fc_w, P.fc_b, F, f.data(), false);
    gelu(f.data(), n, F, cfg.activation);
    linear(f.data(), n, F, P.fcproj_w, P.fcproj_b, C, x.data(), true);
    if (o.hidden_states) result.hidden.push_back(x);
  }
  cache.set_length(M);

  // Final LayerNorm on the rows that need it, then logits / scores.
  const float* E = weights_.lm_head();
  if (o.hidden_states || o.logits == LogitsMode::all || scoring) {
    layernorm(x.data(), n, C, weights_.lnf_w(), weights_.lnf_b(), eps, a.data());
    if (o.hidden_states) result.final_hidden = a;
  } else if (o.logits == LogitsMode::last) {
    layernorm(x.data() + (n - 1) * C, 1, C, weights_.lnf_w(), weights_.lnf_b(), eps,
              a.data() + (n - 1) * C);
  }
  if (o.logits == LogitsMode::all) {
    result.logits = MatrixF(n, V);
    project_vocab(a.data(), n, C, E, V, result.logits.data());
  } else if (o.logits == LogitsMode::last) {
    result.logits = MatrixF(1, V);
    project_vocab(a.data() + (n - 1) * C, 1, C, E, V, result.logits.data());
  }
  if (scoring) {
    constexpr Index kChunk = 64;
    MatrixF chunk(kChunk, V);
    for (Index r0 = o.score_from; r0 < score_to; r0 += kChunk) {
      const Index rows = std::min(kChunk, score_to - r0);
      project_vocab(a.data() + r0 * C, rows, C, E, V, chunk.data());
      std::vector<double> nll(static_cast<std::size_t>(rows));
#pragma omp parallel for schedule(static) if (rows * V >= kParallelWork)
      for (Index r = 0; r < rows; ++r) {
        const float* row = chunk.data() + r * V;
        double mx = kNegInf;
        for (Index v = 0; v < V; ++v) mx = std::max(mx, static_cast<double>(row[v]));
        double sum = 0.0;
        for (Index v = 0; v < V; ++v) sum += std::exp(static_cast<double>(row[v]) - mx);
        nll[static_cast<std::size_t>(r)] = mx + std::log(sum) - row[o.targets[r0 + r]];
      }
      result.nll.insert(result.nll.end(), nll.begin(), nll.end());
    }
  }
  for (Index i = 0; i < result.logits.size(); ++i) {
    if (!std::isfinite(result.logits.data()[i])) {
      throw NumericError(str_cat("GPT-2 forward: non-finite logit at flat index ", i,
                                 " (attention: ", describe_attention(o), ")"));
    }
  }
  return result;
}

std::vector<std::int32_t> Gpt2Model::generate_greedy(
    std::span<const std::int32_t> prompt, Index steps, KvCache& cache,
    const ForwardOptions& options, std::vector<std::vector<float>>* step_logits) const {
  ForwardOptions o = options;
  o.logits = LogitsMode::last;
  o.targets = {};
  std::vector<std::int32_t> out;
  ForwardResult r = forward(prompt, cache, o);
  for (Index s = 0; s < steps; ++s) {
    const float* row = r.logits.data();
    const Index V = r.logits.cols();
    if (step_logits) step_logits->emplace_back(row, row + V);
    const auto next = static_cast<std::int32_t>(std::max_element(row, row + V) - row);
    out.push_back(next);
    if (s + 1 == steps) break;
    const std::int32_t tok[1] = {next};
    r = forward(tok, cache, o);
  }
  return out;
}

}  // namespace attnlab::models::gpt2
