#include "attnlab/attention/fused_attention.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "attnlab/attention/fused_tiles.hpp"
#include "attnlab/attention/simd.hpp"
#include "attnlab/core/blas.hpp"
#include "attnlab/core/error.hpp"

namespace attnlab::attention {
namespace {

constexpr float kLog2e = static_cast<float>(std::numbers::log2e);
constexpr double kLn2 = std::numbers::ln2;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// log2(100): an entry below 1% of the row max sits more than this below the max (exp2 domain).
constexpr float kLog2Hundred = 6.64385618977472f;

Index round_up(Index x, Index m) {
  return (x + m - 1) / m * m;
}

// What every query row needs, precomputed once: its visible key band [lo, hi), the end of its
// visible sink keys [0, sink_hi), and its logit multiplier in the exp2 domain.
struct RowGeometry {
  std::vector<float> lo, hi, sink_hi;  // [N] as floats: compared against key indices in lanes
  std::vector<Index> lo_i, hi_i, sink_hi_i;
  std::vector<float> scale2;  // [N] c_i · log2 e
  std::vector<float> pos;     // [N] query positions
  Index offset = 0;
};

RowGeometry make_geometry(const ScoreMods& mods, const AttentionSpec& spec, Index N, Index M) {
  RowGeometry g;
  g.offset = M - N;
  const auto n = static_cast<std::size_t>(N);
  g.lo.resize(n), g.hi.resize(n), g.sink_hi.resize(n), g.scale2.resize(n), g.pos.resize(n);
  g.lo_i.resize(n), g.hi_i.resize(n), g.sink_hi_i.resize(n);
  for (Index i = 0; i < N; ++i) {
    const auto band = mods.band(i);
    Index sink_hi = 0;
    if (spec.window > 0 && spec.sinks > 0) {
      sink_hi = std::min(spec.sinks, M);
      if (spec.causal) sink_hi = std::min(sink_hi, std::max<Index>(0, mods.query_position(i) + 1));
    }
    g.lo_i[i] = band.lo, g.hi_i[i] = band.hi, g.sink_hi_i[i] = sink_hi;
    g.lo[i] = static_cast<float>(band.lo);
    g.hi[i] = static_cast<float>(band.hi);
    g.sink_hi[i] = static_cast<float>(sink_hi);
    g.scale2[i] = static_cast<float>(mods.logit_scale(i)) * kLog2e;
    g.pos[i] = static_cast<float>(mods.query_position(i));
  }
  return g;
}

// Additive per-key mask [Mp]: 0 for a usable key, −∞ for padded keys (j >= M) and masked keys;
// and per key block whether any such key lies in it.
struct KeyMask {
  std::vector<float> add;           // [Mp]
  std::vector<std::uint8_t> dirty;  // [number of key blocks]
};

KeyMask make_key_mask(const AttentionSpec& spec, Index M, Index Mp, Index Bc) {
  KeyMask km;
  km.add.assign(static_cast<std::size_t>(Mp), 0.0f);
  for (Index j = M; j < Mp; ++j) km.add[j] = kNegInf;
  for (Index j = 0; j < static_cast<Index>(spec.key_mask.size()); ++j)
    if (!spec.key_mask[j]) km.add[j] = kNegInf;
  const Index blocks = (M + Bc - 1) / Bc;
  km.dirty.assign(static_cast<std::size_t>(blocks), 0);
  for (Index b = 0; b < blocks; ++b) {
    const Index b0 = b * Bc, b1 = std::min(Mp, b0 + Bc);
    for (Index j = b0; j < b1; ++j)
      if (km.add[j] != 0.0f) km.dirty[b] = 1;
  }
  return km;
}

// True when key block [b0, b1) can hold a visible key for some query in [i0, i1).
bool block_visible(const RowGeometry& g, Index i0, Index i1, Index b0, Index b1) {
  const bool band = g.hi_i[i1 - 1] > b0 && g.lo_i[i0] < b1 && g.hi_i[i1 - 1] > g.lo_i[i0];
  const bool sinks = g.sink_hi_i[i1 - 1] > b0;
  return band || sinks;
}

// Columns [lo, hi) of key block [b0, b1) that rows [r0, r1) of a query block can see (band or
// sinks), rounded out to whole vectors of L lanes; lo == hi when none.
struct ColumnRange {
  Index lo = 0, hi = 0;
};

ColumnRange visible_columns(const RowGeometry& g, Index i0, Index r0, Index r1, Index b0, Index b1,
                            Index cols, Index L) {
  Index lo = cols, hi = 0;
  for (Index r = r0; r < r1; ++r) {
    const Index i = i0 + r;
    const Index blo = std::max(g.lo_i[i], b0), bhi = std::min(g.hi_i[i], b1);
    if (blo < bhi) {
      lo = std::min(lo, blo - b0);
      hi = std::max(hi, bhi - b0);
    }
    const Index shi = std::min(g.sink_hi_i[i], b1);
    if (shi > b0) {
      lo = 0;
      hi = std::max(hi, shi - b0);
    }
  }
  if (hi <= lo) return {0, 0};
  return {lo / L * L, std::min(cols, (hi + L - 1) / L * L)};
}

// Applies bias and masks to one score row s[0, cols) of key block [b0, b1), in the exp2 domain.
template <class S>
inline void apply_row_mods(float* s, Index cols, Index b0, Index b1, const RowGeometry& g, Index i,
                           float slope2, const KeyMask& km, bool block_dirty) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const V neg_inf = S::set1(kNegInf);
  if (slope2 != 0.0f) {
    const V pos = S::set1(g.pos[i]);
    const V neg_slope = S::set1(-slope2);
    for (Index c = 0; c < cols; c += L) {
      const V j = S::add(S::set1(static_cast<float>(b0 + c)), S::iota());
      S::store(s + c, S::fma(neg_slope, S::abs(S::sub(pos, j)), S::load(s + c)));
    }
  }
  const bool in_band = b0 >= g.lo_i[i] && b1 <= g.hi_i[i];
  const bool in_sinks = b1 <= g.sink_hi_i[i];
  if (!(in_band || in_sinks)) {
    const V lo = S::set1(g.lo[i]), hi = S::set1(g.hi[i]), zero = S::zero();
    const V sink_hi = S::set1(g.sink_hi[i]);
    for (Index c = 0; c < cols; c += L) {
      const V j = S::add(S::set1(static_cast<float>(b0 + c)), S::iota());
      const V x = S::load(s + c);
      V y = S::select_in_range(j, lo, hi, x, neg_inf);
      y = S::select_in_range(j, zero, sink_hi, x, y);
      S::store(s + c, y);
    }
  }
  if (block_dirty) {
    const float* add = km.add.data() + b0;
    for (Index c = 0; c < cols; c += L) S::store(s + c, S::add(S::load(s + c), S::load(add + c)));
  }
}

// Streaming per-row diagnostics state (exp2 domain).
struct RowDiagState {
  double entropy_acc = 0.0;  // Σ p̃ (s − m), p̃ = 2^(s − m)
  float sink_logit = kNegInf;
  // Per-lane top 8: lane_top[k·L + l] is the k-th largest value seen in lane l (k = 0 largest).
  // The row's top 8 is among these 8·L values.
  AlignedVector<float> lane_top;
  std::vector<float> candidates;  // logits within log2(100) of the running max when seen
  std::size_t count = 0;          // used entries of `candidates` (its size is the capacity)
  static constexpr std::size_t kFirstPrune = 8192;
  std::size_t prune_at = kFirstPrune;
  void reset(int lanes) {
    entropy_acc = 0.0;
    sink_logit = kNegInf;
    lane_top.assign(static_cast<std::size_t>(8 * lanes), kNegInf);
    count = 0;
    prune_at = kFirstPrune;
  }
};

template <class S>
void collect_diagnostics(const float* s, Index cols, Index key0, float m_new, float block_max,
                         RowDiagState& st) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  if (key0 == 0) st.sink_logit = s[0];  // s[c] is the logit of key key0 + c
  // Candidates: compress-store every lane within log2(100) of the running max.
  if (st.candidates.size() < st.count + static_cast<std::size_t>(cols) + L)
    st.candidates.resize(2 * (st.count + static_cast<std::size_t>(cols) + L));
  float* dst = st.candidates.data() + st.count;
  const V thr = S::set1(m_new - kLog2Hundred);
  for (Index c = 0; c < cols; c += L) dst += S::compress_ge(dst, S::load(s + c), thr);
  st.count = static_cast<std::size_t>(dst - st.candidates.data());
  // Per-lane top 8 by a compare-exchange insertion network; chunks that cannot enter any lane's
  // list are skipped with one compare.
  (void)block_max;
  V top[8];
  for (int t = 0; t < 8; ++t) top[t] = S::load(st.lane_top.data() + t * L);
  for (Index c = 0; c < cols; c += L) {
    V x = S::load(s + c);
    if (S::count_gt(x, top[7]) == 0) continue;
    for (int t = 0; t < 8; ++t) {
      const V hi = S::max(top[t], x);
      x = S::min(top[t], x);
      top[t] = hi;
    }
  }
  for (int t = 0; t < 8; ++t) S::store(st.lane_top.data() + t * L, top[t]);
  if (st.count > st.prune_at) {
    // In-place compaction, a vector at a time (the write cursor never passes the read cursor).
    float* base = st.candidates.data();
    float* w = base;
    std::size_t t = 0;
    for (; t + L <= st.count; t += L) w += S::compress_ge(w, S::load(base + t), thr);
    for (; t < st.count; ++t)
      if (base[t] >= m_new - kLog2Hundred) *w++ = base[t];
    st.count = static_cast<std::size_t>(w - base);
    st.prune_at = std::max<std::size_t>(st.prune_at, 2 * st.count);
  }
}

template <class S>
RowStats finish_diagnostics(RowDiagState& st, float m, double l, Index visible) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  RowStats r;
  r.visible = visible;
  if (visible == 0 || !(l > 0)) {
    r.norm_entropy = std::numeric_limits<double>::quiet_NaN();
    return r;
  }
  const double log2l = std::log2(l);
  r.entropy = kLn2 * (log2l - st.entropy_acc / l);
  if (r.entropy < 0) r.entropy = 0;  // rounding at a one-hot row
  r.norm_entropy = visible >= 2 ? r.entropy / std::log(static_cast<double>(visible))
                                : std::numeric_limits<double>::quiet_NaN();
  r.max_weight = 1.0 / l;
  r.sink_mass =
      st.sink_logit > kNegInf ? std::exp2(static_cast<double>(st.sink_logit) - m) / l : 0.0;
  // Count candidates at or above the two thresholds a vector at a time; the buffer's padded tail
  // is filled with −∞ so it never counts.
  const float near_thr = m - kLog2Hundred;
  const float big_thr = static_cast<float>(static_cast<double>(near_thr) + log2l);
  const std::size_t padded = (st.count + L - 1) / L * L;
  if (st.candidates.size() < padded) st.candidates.resize(padded);
  std::fill(st.candidates.begin() + static_cast<std::ptrdiff_t>(st.count),
            st.candidates.begin() + static_cast<std::ptrdiff_t>(padded), kNegInf);
  Index near = 0, big = 0;
  V vmass = S::zero();
  const V vnear = S::set1(near_thr), vbig = S::set1(big_thr), vm = S::set1(m);
  for (std::size_t t = 0; t < padded; t += L) {
    const V x = S::load(st.candidates.data() + t);
    near += S::count_ge(x, vnear);
    const int nb = S::count_ge(x, vbig);
    if (nb > 0) {
      big += nb;
      vmass = S::add(vmass, S::select_ge(x, vbig, S::exp2(S::sub(x, vm)), S::zero()));
    }
  }
  const double n = static_cast<double>(visible);
  r.below_1pct_max = static_cast<double>(visible - near) / n;
  r.wasted_share = static_cast<double>(visible - big) / n;
  r.wasted_mass = std::max(0.0, 1.0 - static_cast<double>(S::reduce_add(vmass)) / l);
  std::vector<float> tops(st.lane_top.begin(), st.lane_top.end());
  const std::size_t k = std::min<std::size_t>(8, tops.size());
  std::partial_sort(tops.begin(), tops.begin() + static_cast<std::ptrdiff_t>(k), tops.end(),
                    std::greater<float>());
  for (std::size_t t = 0; t < k; ++t)
    if (tops[t] > kNegInf) r.top8_mass += std::exp2(static_cast<double>(tops[t]) - m) / l;
  r.top8_mass = std::min(1.0, r.top8_mass);  // fp32 rounding can overshoot 1 by an ulp
  return r;
}

void check_fused_shapes(const Tensor3f& q, const Tensor3f& k, const Tensor3f& v,
                        const AttentionSpec& spec) {
  if (q.dim0() != k.dim0() || q.dim0() != v.dim0() || q.dim2() != k.dim2() ||
      k.dim1() != v.dim1()) {
    throw UsageError(str_cat("fused attention: inconsistent shapes q [", q.dim0(), ", ", q.dim1(),
                             ", ", q.dim2(), "], k [", k.dim0(), ", ", k.dim1(), ", ", k.dim2(),
                             "], v [", v.dim0(), ", ", v.dim1(), ", ", v.dim2(), "]"));
  }
  std::string why;
  if (!fused_supports(spec, &why)) throw UsageError("fused attention: " + why);
  const Index limit = Index{1} << 24;
  if (q.dim1() >= limit || k.dim1() >= limit) {
    throw UsageError(
        str_cat("fused attention: N and M must be below 2^24, got N=", q.dim1(), " M=", k.dim1()));
  }
}

template <class S>
FusedForward forward_impl(const Tensor3f& q, const Tensor3f& k, const Tensor3f& v,
                          const AttentionSpec& spec, const FusedOptions& opt) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const Index H = q.dim0(), N = q.dim1(), M = k.dim1(), d = q.dim2(), dv = v.dim2();
  const ScoreMods mods(spec, H, N, M, d);
  const Index Br = std::max<Index>(1, opt.block_q),
              Bc = round_up(std::max<Index>(1, opt.block_k), L);
  const Index Mp = round_up(std::max<Index>(M, 1), L), dvp = round_up(dv, L);
  const RowGeometry geo = make_geometry(mods, spec, N, M);
  const KeyMask km = make_key_mask(spec, M, Mp, Bc);

  // Packed operands, zero-padded: Kᵀ as one contiguous [d, Bc] panel per key block,
  // [H, n_kblocks, d, Bc], and V [H, Mp, dvp]. A block's panel is one run of memory: its depth
  // steps are Bc floats apart instead of M, so no strided pages or aliasing sets (measured 3–4%
  // faster than one [d, M] panel per head at N = 4096; see bench attention).
  const Index n_kblocks = (M + Bc - 1) / Bc;
  AlignedVector<float> kt(static_cast<std::size_t>(H * n_kblocks * d * Bc), 0.0f);
  AlignedVector<float> vp(static_cast<std::size_t>(H * Mp * dvp), 0.0f);
#pragma omp parallel for schedule(static)
  for (Index h = 0; h < H; ++h) {
    for (Index j = 0; j < M; ++j) {
      float* panel = kt.data() + (h * n_kblocks + j / Bc) * d * Bc + j % Bc;  // Kᵀ[:, j]
      for (Index t = 0; t < d; ++t) panel[t * Bc] = k(h, j, t);
      for (Index t = 0; t < dv; ++t) vp[(h * Mp + j) * dvp + t] = v(h, j, t);
    }
  }

  FusedForward result;
  result.out = Tensor3f(H, N, dv);
  result.lse = MatrixF::Constant(H, N, kNegInf);
  if (opt.diagnostics) result.diagnostics = RowDiagnostics(H, N);
  const Index n_qblocks = (N + Br - 1) / Br;
  const Index tasks = H * n_qblocks;
  const bool use_blas = opt.microkernel == MicroKernel::blas;

#pragma omp parallel
  {
    AlignedVector<float> qs(static_cast<std::size_t>(Br * d));
    AlignedVector<float> tile(static_cast<std::size_t>(Br * Bc));
    AlignedVector<float> oacc(static_cast<std::size_t>(Br * dvp));
    std::vector<float> row_max(static_cast<std::size_t>(Br));
    std::vector<double> row_sum(static_cast<std::size_t>(Br));
    std::vector<RowDiagState> diag(opt.diagnostics ? static_cast<std::size_t>(Br) : 0);

#pragma omp for schedule(dynamic, 1)
    for (Index task = 0; task < tasks; ++task) {
      const Index h = task / n_qblocks, i0 = (task % n_qblocks) * Br;
      const Index i1 = std::min(N, i0 + Br), rows = i1 - i0;
      const float slope2 = static_cast<float>(mods.linear_slope(h)) * kLog2e;
      for (Index r = 0; r < rows; ++r) {
        const float c = geo.scale2[i0 + r];
        for (Index t = 0; t < d; ++t) qs[r * d + t] = q(h, i0 + r, t) * c;
        row_max[r] = kNegInf;
        row_sum[r] = 0.0;
        if (opt.diagnostics) diag[r].reset(L);
      }
      std::fill(oacc.begin(), oacc.begin() + rows * dvp, 0.0f);

      for (Index kb = 0; kb < n_kblocks; ++kb) {
        const Index b0 = kb * Bc, b1 = std::min(M, b0 + Bc);
        if (!block_visible(geo, i0, i1, b0, b1)) continue;
        const Index cols = round_up(b1 - b0, L);
        const float* kpanel = kt.data() + (h * n_kblocks + kb) * d * Bc;  // Kᵀ [d, Bc]
        // Each group of register-tile rows computes only the columns its rows can see: causal
        // diagonal blocks and window edges cost about what they keep.
        // (With BLAS the whole query block is one group: one sgemm per product and tile.)
        const Index group = use_blas ? rows : tiles::kMaxRows;
        for (Index g0 = 0; g0 < rows; g0 += group) {
          const Index g1 = std::min(rows, g0 + group);
          const ColumnRange cr = visible_columns(geo, i0, g0, g1, b0, b1, cols, L);
          if (cr.hi <= cr.lo) continue;
          const Index ncols = cr.hi - cr.lo, key0 = b0 + cr.lo;
          if (use_blas) {
            gemm(Trans::no, Trans::no, g1 - g0, ncols, d, 1.0f, qs.data() + g0 * d, d,
                 kpanel + cr.lo, Bc, 0.0f, tile.data() + g0 * Bc + cr.lo, Bc);
          } else {
            tiles::gemm_abt<S>(g1 - g0, ncols, d, qs.data() + g0 * d, d, kpanel + cr.lo, Bc,
                               tile.data() + g0 * Bc + cr.lo, Bc);
          }
          for (Index r = g0; r < g1; ++r) {
            float* s = tile.data() + r * Bc + cr.lo;
            const Index i = i0 + r;
            apply_row_mods<S>(s, ncols, key0, std::min(b1, b0 + cr.hi), geo, i, slope2, km,
                              km.dirty[kb]);
            V vmax = S::set1(kNegInf);
            for (Index c = 0; c < ncols; c += L) vmax = S::max(vmax, S::load(s + c));
            const float m_old = row_max[r];
            const float m_new = std::max(m_old, S::reduce_max(vmax));
            if (m_new == kNegInf) {  // nothing visible yet: P = 0 for this block
              std::fill(s, s + ncols, 0.0f);
              continue;
            }
            if (opt.diagnostics) {
              collect_diagnostics<S>(s, ncols, key0, m_new, S::reduce_max(vmax), diag[r]);
            }
            const float alpha = std::exp2(m_old - m_new);  // 0 when m_old = −∞
            const V mv = S::set1(m_new);
            V vsum = S::zero(), vent = S::zero();
            const V floor = S::set1(-200.0f);
            for (Index c = 0; c < ncols; c += L) {
              const V x = S::sub(S::load(s + c), mv);
              const V p = S::exp2(x);
              vsum = S::add(vsum, p);
              if (opt.diagnostics) vent = S::fma(p, S::max(x, floor), vent);
              S::store(s + c, p);
            }
            const double l_old = row_sum[r];
            row_sum[r] = l_old * alpha + S::reduce_add(vsum);
            if (opt.diagnostics) {
              auto& st = diag[r];
              const double shifted =
                  l_old > 0 ? alpha * (st.entropy_acc - static_cast<double>(m_new - m_old) * l_old)
                            : 0.0;
              st.entropy_acc = shifted + S::reduce_add(vent);
            }
            if (alpha != 1.0f) {
              float* o = oacc.data() + r * dvp;
              const V av = S::set1(alpha);
              for (Index c = 0; c < dvp; c += L) S::store(o + c, S::mul(av, S::load(o + c)));
            }
            row_max[r] = m_new;
          }
          if (use_blas) {
            gemm(Trans::no, Trans::no, g1 - g0, dvp, ncols, 1.0f, tile.data() + g0 * Bc + cr.lo, Bc,
                 vp.data() + (h * Mp + key0) * dvp, dvp, 1.0f, oacc.data() + g0 * dvp, dvp);
          } else {
            tiles::gemm_ab_acc<S>(g1 - g0, dvp, ncols, tile.data() + g0 * Bc + cr.lo, Bc,
                                  vp.data() + (h * Mp + key0) * dvp, dvp, oacc.data() + g0 * dvp,
                                  dvp);
          }
        }
      }

      for (Index r = 0; r < rows; ++r) {
        const Index i = i0 + r;
        const double l = row_sum[r];
        float* out = &result.out(h, i, 0);
        if (l > 0) {
          const float inv = static_cast<float>(1.0 / l);
          for (Index t = 0; t < dv; ++t) out[t] = oacc[r * dvp + t] * inv;
          result.lse(h, i) = static_cast<float>((row_max[r] + std::log2(l)) * kLn2);
        } else {
          std::fill(out, out + dv, 0.0f);
        }
        if (opt.diagnostics) {
          result.diagnostics.set(
              h, i, finish_diagnostics<S>(diag[r], row_max[r], l, mods.visible_count(i)));
        }
      }
    }
  }
  return result;
}

template <class S>
FusedGrads backward_impl(const Tensor3f& q, const Tensor3f& k, const Tensor3f& v,
                         const AttentionSpec& spec, const Tensor3f& out, const MatrixF& lse,
                         const Tensor3f& dout, const FusedOptions& opt) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const Index H = q.dim0(), N = q.dim1(), M = k.dim1(), d = q.dim2(), dv = v.dim2();
  const ScoreMods mods(spec, H, N, M, d);
  const Index Br = std::max<Index>(1, opt.block_q),
              Bc = round_up(std::max<Index>(1, opt.block_k), L);
  const Index Mp = round_up(std::max<Index>(M, 1), L), dp = round_up(d, L), dvp = round_up(dv, L);
  const RowGeometry geo = make_geometry(mods, spec, N, M);
  const KeyMask km = make_key_mask(spec, M, Mp, Bc);
  const Index n_qblocks = (N + Br - 1) / Br, n_kblocks = (M + Bc - 1) / Bc;
  const int threads = omp_get_max_threads();

  FusedGrads g{Tensor3f(H, N, d), Tensor3f(H, M, d), Tensor3f(H, M, dv),
               std::vector<double>(static_cast<std::size_t>(H), 0.0)};
  // Per-head packed operands, reused across heads.
  // Kᵀ [n_kblocks, d, Bc] and Vᵀ [n_kblocks, dv, Bc]: one contiguous panel per key block.
  AlignedVector<float> kt(static_cast<std::size_t>(n_kblocks * d * Bc)),
      vt(static_cast<std::size_t>(n_kblocks * dv * Bc));
  AlignedVector<float> kp(static_cast<std::size_t>(Mp * dp)), qs(static_cast<std::size_t>(N * d));
  AlignedVector<float> qp(static_cast<std::size_t>(N * dp)), dop(static_cast<std::size_t>(N * dvp));
  std::vector<float> dsum(static_cast<std::size_t>(N)), lse2(static_cast<std::size_t>(N));
  std::vector<AlignedVector<float>> dq_local(static_cast<std::size_t>(threads));
  std::vector<double> dslope_local(static_cast<std::size_t>(threads));

  for (Index h = 0; h < H; ++h) {
    std::fill(kt.begin(), kt.end(), 0.0f);
    std::fill(vt.begin(), vt.end(), 0.0f);
    std::fill(kp.begin(), kp.end(), 0.0f);
    std::fill(qp.begin(), qp.end(), 0.0f);
    std::fill(dop.begin(), dop.end(), 0.0f);
    for (Index j = 0; j < M; ++j) {
      float* kcol = kt.data() + (j / Bc) * d * Bc + j % Bc;  // Kᵀ[:, j] of its block
      float* vcol = vt.data() + (j / Bc) * dv * Bc + j % Bc;
      for (Index t = 0; t < d; ++t) kcol[t * Bc] = kp[j * dp + t] = k(h, j, t);
      for (Index t = 0; t < dv; ++t) vcol[t * Bc] = v(h, j, t);
    }
    for (Index i = 0; i < N; ++i) {
      double acc = 0.0;
      for (Index t = 0; t < dv; ++t) {
        dop[i * dvp + t] = dout(h, i, t);
        acc += static_cast<double>(dout(h, i, t)) * out(h, i, t);
      }
      dsum[i] = static_cast<float>(acc);
      lse2[i] = lse(h, i) * kLog2e;
      for (Index t = 0; t < d; ++t) {
        qp[i * dp + t] = q(h, i, t);
        qs[i * d + t] = q(h, i, t) * geo.scale2[i];
      }
    }
    const float slope2 = static_cast<float>(mods.linear_slope(h)) * kLog2e;

#pragma omp parallel
    {
      const int tid = omp_get_thread_num();
      auto& dq = dq_local[tid];
      dq.assign(static_cast<std::size_t>(N * dp), 0.0f);
      double dslope = 0.0;
      AlignedVector<float> st(static_cast<std::size_t>(Br * Bc)),
          dpt(static_cast<std::size_t>(Br * Bc));
      AlignedVector<float> dk_acc(static_cast<std::size_t>(Bc * dp)),
          dv_acc(static_cast<std::size_t>(Bc * dvp));

#pragma omp for schedule(static, 1)
      for (Index kb = 0; kb < n_kblocks; ++kb) {
        const Index b0 = kb * Bc, b1 = std::min(M, b0 + Bc), cols = round_up(b1 - b0, L);
        std::fill(dk_acc.begin(), dk_acc.end(), 0.0f);
        std::fill(dv_acc.begin(), dv_acc.end(), 0.0f);
        for (Index qb = 0; qb < n_qblocks; ++qb) {
          const Index i0 = qb * Br, i1 = std::min(N, i0 + Br), rows = i1 - i0;
          if (!block_visible(geo, i0, i1, b0, b1)) continue;
          // Columns any row of this query block can see; each register group computes S and dP
          // only on its own visible range and leaves zeros (P = dS = 0) elsewhere.
          const ColumnRange u = visible_columns(geo, i0, 0, rows, b0, b1, cols, L);
          if (u.hi <= u.lo) continue;
          const Index nc = u.hi - u.lo, key0 = b0 + u.lo;
          for (Index g0 = 0; g0 < rows; g0 += tiles::kMaxRows) {
            const Index g1 = std::min(rows, g0 + tiles::kMaxRows);
            ColumnRange gr = visible_columns(geo, i0, g0, g1, b0, b1, cols, L);
            if (gr.hi <= gr.lo) gr = {u.lo, u.lo};
            for (Index r = g0; r < g1; ++r) {
              std::fill(st.data() + r * Bc + u.lo, st.data() + r * Bc + gr.lo, 0.0f);
              std::fill(dpt.data() + r * Bc + u.lo, dpt.data() + r * Bc + gr.lo, 0.0f);
              std::fill(st.data() + r * Bc + gr.hi, st.data() + r * Bc + u.hi, 0.0f);
              std::fill(dpt.data() + r * Bc + gr.hi, dpt.data() + r * Bc + u.hi, 0.0f);
            }
            if (gr.hi <= gr.lo) continue;
            const Index gc = gr.hi - gr.lo, gkey0 = b0 + gr.lo;
            tiles::gemm_abt<S>(g1 - g0, gc, d, qs.data() + (i0 + g0) * d, d,
                               kt.data() + kb * d * Bc + gr.lo, Bc, st.data() + g0 * Bc + gr.lo,
                               Bc);
            tiles::gemm_abt<S>(g1 - g0, gc, dv, dop.data() + (i0 + g0) * dvp, dvp,
                               vt.data() + kb * dv * Bc + gr.lo, Bc, dpt.data() + g0 * Bc + gr.lo,
                               Bc);
            for (Index r = g0; r < g1; ++r) {
              const Index i = i0 + r;
              float* s = st.data() + r * Bc + gr.lo;
              float* dpr = dpt.data() + r * Bc + gr.lo;
              apply_row_mods<S>(s, gc, gkey0, std::min(b1, b0 + gr.hi), geo, i, slope2, km,
                                km.dirty[kb]);
              const float l2 = lse2[i];
              const V lv = S::set1(l2 == kNegInf ? std::numeric_limits<float>::max() : l2);
              const V dsv = S::set1(dsum[i]);
              const V cv = S::set1(geo.scale2[i] / kLog2e);
              V vslope = S::zero();
              const V pos = S::set1(geo.pos[i]);
              for (Index c = 0; c < gc; c += L) {
                // P ≤ 1: clamped, because at |ℓ| beyond ~2^24 the fp32 lse is coarser than the
                // recomputed score and s − lse can round above 0 (exp2 would overflow to inf).
                const V p = S::exp2(S::min(S::sub(S::load(s + c), lv), S::zero()));
                const V ds = S::mul(p, S::sub(S::load(dpr + c), dsv));  // dℓ (natural logits)
                // ∂loss/∂slope is defined (and useful for learning decay) even at slope 0.
                const V j = S::add(S::set1(static_cast<float>(gkey0 + c)), S::iota());
                vslope = S::fma(ds, S::abs(S::sub(pos, j)), vslope);
                S::store(s + c, p);
                S::store(dpr + c, S::mul(ds, cv));  // gradient w.r.t. q·k
              }
              dslope -= S::reduce_add(vslope);
            }
          }
          // Key-side products read P and dS transposed in place (strided broadcasts).
          tiles::gemm_atb_acc<S>(nc, dvp, rows, st.data() + u.lo, Bc, dop.data() + i0 * dvp, dvp,
                                 dv_acc.data() + u.lo * dvp, dvp);
          tiles::gemm_atb_acc<S>(nc, dp, rows, dpt.data() + u.lo, Bc, qp.data() + i0 * dp, dp,
                                 dk_acc.data() + u.lo * dp, dp);
          tiles::gemm_ab_acc<S>(rows, dp, nc, dpt.data() + u.lo, Bc, kp.data() + key0 * dp, dp,
                                dq.data() + i0 * dp, dp);
        }
        for (Index j = b0; j < b1; ++j) {
          for (Index t = 0; t < d; ++t) g.dk(h, j, t) = dk_acc[(j - b0) * dp + t];
          for (Index t = 0; t < dv; ++t) g.dv(h, j, t) = dv_acc[(j - b0) * dvp + t];
        }
      }
      dslope_local[tid] = dslope;
    }
    // Deterministic reduction in thread order.
    for (Index i = 0; i < N; ++i)
      for (Index t = 0; t < d; ++t) {
        float acc = 0.0f;
        for (int th = 0; th < threads; ++th)
          if (!dq_local[th].empty()) acc += dq_local[th][i * dp + t];
        g.dq(h, i, t) = acc;
      }
    for (int th = 0; th < threads; ++th) g.dslope[h] += dslope_local[th];
    for (auto& buf : dq_local) buf.clear();
    std::fill(dslope_local.begin(), dslope_local.end(), 0.0);
  }
  return g;
}

template <class R, class Fn>
R dispatch_simd(SimdLevel level, Fn&& fn) {
  switch (level) {
#if defined(__AVX512F__)
    case SimdLevel::avx512:
      return fn(simd::Avx512{});
#endif
#if defined(__AVX2__) && defined(__FMA__)
    case SimdLevel::avx2:
      return fn(simd::Avx2{});
#endif
    case SimdLevel::scalar:
      return fn(simd::Scalar{});
    default:
      break;
  }
  throw UsageError(str_cat("fused attention: SIMD level '", to_string(level),
                           "' is not available in this build/CPU"));
}

SimdLevel pick_level(const FusedOptions& opt) {
  const SimdLevel level = opt.simd.value_or(best_simd_level());
  const auto avail = available_simd_levels();
  if (std::find(avail.begin(), avail.end(), level) == avail.end()) {
    throw UsageError(str_cat("fused attention: SIMD level '", to_string(level),
                             "' is not available in this build/CPU"));
  }
  return level;
}

}  // namespace

const char* to_string(SimdLevel level) {
  switch (level) {
    case SimdLevel::scalar:
      return "scalar";
    case SimdLevel::avx2:
      return "avx2";
    case SimdLevel::avx512:
      return "avx512";
  }
  return "unknown";
}

std::vector<SimdLevel> available_simd_levels() {
  std::vector<SimdLevel> levels{SimdLevel::scalar};
#if defined(__AVX2__) && defined(__FMA__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    levels.push_back(SimdLevel::avx2);
#endif
#if defined(__AVX512F__)
  if (__builtin_cpu_supports("avx512f")) levels.push_back(SimdLevel::avx512);
#endif
  return levels;
}

SimdLevel best_simd_level() {
  return available_simd_levels().back();
}

bool fused_supports(const AttentionSpec& spec, std::string* why) {
  auto fail = [why](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
  if (!spec.is_softmax_family()) {
    return fail(str_cat("normalizer '", to_string(spec.normalizer),
                        "' is not fused (softmax and ssmax are); use the reference kernel"));
  }
  if (spec.topk > 0)
    return fail("top-k is not fused (it needs whole rows); use the reference kernel");
  return true;
}

FusedForward attention_forward_fused(const Tensor3f& q, const Tensor3f& k, const Tensor3f& v,
                                     const AttentionSpec& spec, const FusedOptions& options) {
  check_fused_shapes(q, k, v, spec);
  const SimdLevel level = pick_level(options);
  FusedForward f = dispatch_simd<FusedForward>(
      level, [&](auto s) { return forward_impl<decltype(s)>(q, k, v, spec, options); });
  f.simd = level;
  return f;
}

FusedGrads attention_backward_fused(const Tensor3f& q, const Tensor3f& k, const Tensor3f& v,
                                    const AttentionSpec& spec, const Tensor3f& out,
                                    const MatrixF& lse, const Tensor3f& dout,
                                    const FusedOptions& options) {
  check_fused_shapes(q, k, v, spec);
  const Index H = q.dim0(), N = q.dim1(), dv = v.dim2();
  if (out.dim0() != H || out.dim1() != N || out.dim2() != dv || !out.same_shape(dout) ||
      lse.rows() != H || lse.cols() != N) {
    throw UsageError(str_cat("fused attention backward: out/dout must be [", H, ", ", N, ", ", dv,
                             "] and lse [", H, ", ", N, "]"));
  }
  const SimdLevel level = pick_level(options);
  return dispatch_simd<FusedGrads>(level, [&](auto s) {
    return backward_impl<decltype(s)>(q, k, v, spec, out, lse, dout, options);
  });
}

}  // namespace attnlab::attention
