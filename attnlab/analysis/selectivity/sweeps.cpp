#include "attnlab/analysis/selectivity/sweeps.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <set>

#include "attnlab/analysis/selectivity/ks_test.hpp"
#include "attnlab/analysis/selectivity/length_band.hpp"
#include "attnlab/analysis/selectivity/parallel_for.hpp"
#include "attnlab/analysis/selectivity/row_weights.hpp"
#include "attnlab/analysis/selectivity/selection_distance.hpp"
#include "attnlab/analysis/selectivity/sensitivity.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/progress.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/core/timer.hpp"

namespace attnlab::analysis::selectivity {
namespace {

using attention::Normalizer;

enum : std::uint64_t { kDistanceSweep = 1, kCriticalSweep = 2, kSensitivitySweep = 3 };
constexpr std::size_t kScanChunk = 4;  // grid points evaluated per pass of the critical scan

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  std::uint64_t z = h ^ (v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2));
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Stream id of one row's random draws: independent of the normalizer (common random numbers).
std::uint64_t stream_key(std::uint64_t sweep, Index L, Index N, Index head, Index query) {
  std::uint64_t h = mix(0x243F6A8885A308D3ull, sweep);
  h = mix(h, static_cast<std::uint64_t>(L));
  h = mix(h, static_cast<std::uint64_t>(N));
  h = mix(h, static_cast<std::uint64_t>(head));
  return mix(h, static_cast<std::uint64_t>(query));
}

// Per-head quantities reused by every length: key norms and squared token norms, [L] each.
struct HeadCache {
  std::vector<double> key_norm, x_sq;
};

HeadCache make_cache(const SelectivityHead& head) {
  HeadCache c;
  c.key_norm.resize(static_cast<std::size_t>(head.k.rows()));
  c.x_sq.resize(static_cast<std::size_t>(head.x.rows()));
  for (Index j = 0; j < head.k.rows(); ++j) c.key_norm[j] = head.k.row(j).norm();
  for (Index j = 0; j < head.x.rows(); ++j) c.x_sq[j] = head.x.row(j).squaredNorm();
  return c;
}

// The rows one head contributes at length L.
struct RowSet {
  Index length = 0;
  std::vector<Index> query, key_lo;   // [R] query index, first key of the row's window
  MatrixD scores;                     // [R, L] raw scores q·k
  std::vector<Index> order;           // [R, L] descending order of each row's scores
  std::vector<double> q_norm, k_max;  // [R] ‖q‖, max key norm in the window
  Index rows() const { return static_cast<Index>(query.size()); }
};

std::vector<Index> eligible_rows(const SelectivitySource& src, Index L, Index max_rows) {
  const Index Q = src.num_queries();
  Index first = 0;
  if (src.causal) first = std::max<Index>(0, L - 1 - (src.max_length() - Q));
  const Index E = Q - first;
  std::vector<Index> rows;
  if (E <= 0) return rows;
  const Index R = std::min(E, max_rows);
  for (Index t = 0; t < R; ++t) rows.push_back(first + (t * E) / R);
  return rows;
}

RowSet build_rows(const SelectivitySource& src, Index h, const HeadCache& cache, Index L,
                  Index max_rows) {
  const SelectivityHead& head = src.heads[static_cast<std::size_t>(h)];
  RowSet rs;
  rs.length = L;
  rs.query = eligible_rows(src, L, max_rows);
  const Index R = rs.rows();
  rs.key_lo.resize(static_cast<std::size_t>(R));
  rs.scores.resize(R, L);
  rs.order.resize(static_cast<std::size_t>(R * L));
  rs.q_norm.resize(static_cast<std::size_t>(R));
  rs.k_max.resize(static_cast<std::size_t>(R));
  for (Index r = 0; r < R; ++r) {
    const Index i = rs.query[r];
    const Index lo = src.causal ? src.query_position(i) - L + 1 : 0;
    rs.key_lo[r] = lo;
    rs.scores.row(r).noalias() = (head.k.middleRows(lo, L) * head.q.row(i).transpose()).transpose();
    for (Index j = 0; j < L; ++j) {
      if (!std::isfinite(rs.scores(r, j))) {
        throw NumericError(str_cat("selectivity: score q·k of head ", head.label, ", query ", i,
                                   ", key ", lo + j, " is not finite (", rs.scores(r, j),
                                   "); rescale the inputs"));
      }
    }
    descending_order(std::span<const double>(rs.scores.row(r).data(), L),
                     std::span<Index>(rs.order.data() + r * L, L));
    rs.q_norm[r] = head.q.row(i).norm();
    rs.k_max[r] = *std::max_element(cache.key_norm.begin() + lo, cache.key_norm.begin() + lo + L);
  }
  return rs;
}

SelectionRow make_row(const SelectivityHead& head, const HeadCache& cache, const RowSet& rs,
                      Index r, std::span<const double> alpha) {
  const Index L = rs.length, dx = head.x.cols(), lo = rs.key_lo[r];
  return SelectionRow{alpha, ConstMatrixMap<double>(head.x.data() + lo * dx, L, dx),
                      std::span<const double>(cache.x_sq.data() + lo, L),
                      std::span<const Index>(rs.order.data() + r * L, L)};
}

std::span<const double> row_span(const MatrixD& m, Index r) {
  return {m.row(r).data(), static_cast<std::size_t>(m.cols())};
}

double finite_mean(const std::vector<double>& v) {
  double s = 0.0;
  Index n = 0;
  for (double x : v)
    if (std::isfinite(x)) {
      s += x;
      ++n;
    }
  return n ? s / static_cast<double>(n) : kNaN;
}

// KS between per-unit values: head unit = mean over each head's rows; query unit = every row.
KsPoint ks_between(Index count, const std::vector<std::vector<double>>& top,
                   const std::vector<std::vector<double>>& rnd, KsUnit unit) {
  std::vector<double> a, b;
  for (std::size_t h = 0; h < top.size(); ++h) {
    if (top[h].empty()) continue;
    if (unit == KsUnit::head) {
      a.push_back(std::accumulate(top[h].begin(), top[h].end(), 0.0) /
                  static_cast<double>(top[h].size()));
      b.push_back(std::accumulate(rnd[h].begin(), rnd[h].end(), 0.0) /
                  static_cast<double>(rnd[h].size()));
    } else {
      a.insert(a.end(), top[h].begin(), top[h].end());
      b.insert(b.end(), rnd[h].begin(), rnd[h].end());
    }
  }
  const KsTest t = ks_two_sample(a, b);
  return {count, t.statistic, t.p_value, t.n, t.m};
}

std::vector<NormalizerSetting> make_settings(const SelectivityOptions& o, double T) {
  std::vector<NormalizerSetting> s;
  for (Normalizer n : o.normalizers) s.push_back({n, T, o.ssmax_s});
  return s;
}

double resolved_temperature(const SelectivityOptions& o, const SelectivitySource& src) {
  return o.temperature > 0.0 ? o.temperature : std::sqrt(static_cast<double>(src.key_dim()));
}

Index resolved_reference(const SelectivityOptions& o, const SelectivitySource& src) {
  if (o.reference_length > 0) return o.reference_length;
  Index L = 0;
  for (Index l : o.lengths) L = std::max(L, l);
  return L > 0 ? L : src.max_length();
}

std::vector<Index> sorted_unique(std::vector<Index> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// ---- distance, band and separability sweeps ----------------------------------------------------

struct BandAcc {
  Index rows = 0, inside = 0, zeros = 0, lower_n = 0;
  double upper_sum = 0, upper_max = 0, lower_sum = 0, exp_sum = 0, mwl_sum = 0;
};

void run_distance_sweeps(const SelectivitySource& src, const SelectivityOptions& o,
                         const std::vector<NormalizerSetting>& settings, Index L_ref,
                         const std::vector<HeadCache>& caches, std::vector<NormalizerResult>& out,
                         Progress* bar) {
  const Index H = src.num_heads();
  const auto nu = settings.size();
  const auto nan_h = std::vector<double>(static_cast<std::size_t>(H), kNaN);
  auto blank = [&](Index L, Index N) {
    DistancePoint p;
    p.length = L;
    p.count = N;
    p.top_sum = p.random_sum = p.top_norm = p.random_norm = p.mass = p.max_weight = p.separable =
        nan_h;
    return p;
  };
  const std::vector<Index> lengths = o.sweep_length ? o.lengths : std::vector<Index>{};
  for (auto& r : out) {
    for (Index L : lengths) r.length_sweep.push_back(blank(L, o.length_sweep_count));
    if (o.sweep_count)
      for (Index N : o.counts) r.count_sweep.push_back(blank(L_ref, N));
    if (o.sweep_separability)
      for (Index N : o.separability_counts) r.separability.push_back({N, nan_h, nan_h});
  }
  std::vector<std::vector<std::vector<BandAcc>>> band(
      nu, std::vector<std::vector<BandAcc>>(lengths.size(),
                                            std::vector<BandAcc>(static_cast<std::size_t>(H))));
  std::vector<Index> todo = lengths;
  if (o.sweep_count || o.sweep_separability) todo.push_back(L_ref);
  todo = sorted_unique(todo);
  std::vector<std::vector<Index>> rows_at(todo.size(),
                                          std::vector<Index>(static_cast<std::size_t>(H), 0));

  for (std::size_t li = 0; li < todo.size(); ++li) {
    const Index L = todo[li];
    const auto len_it = std::find(lengths.begin(), lengths.end(), L);
    const Index len_idx =
        len_it == lengths.end() ? -1 : static_cast<Index>(len_it - lengths.begin());
    const bool at_ref = L == L_ref;
    // Every N profiled at this length, and whether it needs the random baseline.
    std::vector<Index> pc;
    if (len_idx >= 0) pc.push_back(o.length_sweep_count);
    if (at_ref && o.sweep_count) pc.insert(pc.end(), o.counts.begin(), o.counts.end());
    if (at_ref && o.sweep_separability)
      pc.insert(pc.end(), o.separability_counts.begin(), o.separability_counts.end());
    pc = sorted_unique(pc);
    std::vector<char> needs_random(pc.size(), 0);
    auto pos_of = [&](Index N) {
      return static_cast<std::size_t>(std::lower_bound(pc.begin(), pc.end(), N) - pc.begin());
    };
    if (len_idx >= 0) needs_random[pos_of(o.length_sweep_count)] = 1;
    if (at_ref && o.sweep_count)
      for (Index N : o.counts) needs_random[pos_of(N)] = 1;

    parallel_for(H, [&](Index h) {
      const SelectivityHead& head = src.heads[static_cast<std::size_t>(h)];
      const RowSet rs = build_rows(src, h, caches[h], L, o.max_queries);
      const Index R = rs.rows();
      rows_at[li][h] = R;
      SelectionWorkspace ws;
      AlignedVector<double> alpha(static_cast<std::size_t>(L)), logits(static_cast<std::size_t>(L)),
          log_alpha(static_cast<std::size_t>(L));
      std::vector<TopNPoint> pts(pc.size());
      const std::size_t K = pc.size();
      std::vector<Index> random_counts;
      for (std::size_t k = 0; k < K; ++k)
        if (needs_random[k]) random_counts.push_back(pc[k]);
      std::vector<Rng> rngs;
      std::vector<RandomBaseline> rbs(random_counts.size());
      for (std::size_t v = 0; v < nu; ++v) {
        std::vector<double> top_sum(K, 0), top_norm(K, 0), rnd_sum(K, 0), rnd_norm(K, 0),
            mass(K, 0), sep(K, 0), radius(K, 0);
        double maxw = 0.0;
        BandAcc* bacc = len_idx >= 0 ? &band[v][static_cast<std::size_t>(len_idx)][h] : nullptr;
        for (Index r = 0; r < R; ++r) {
          row_weights(settings[v], row_span(rs.scores, r), logits, alpha);
          const double mx = *std::max_element(alpha.begin(), alpha.end());
          maxw += mx;
          if (bacc) {
            const double c = logit_scale(settings[v], L);
            row_log_weights(settings[v].normalizer, logits, alpha, log_alpha);
            const BandCheck b = check_length_band(log_alpha, c * rs.q_norm[r] * rs.k_max[r]);
            ++bacc->rows;
            bacc->inside += b.inside ? 1 : 0;
            bacc->upper_sum += b.upper_use;
            bacc->upper_max = std::max(bacc->upper_max, b.upper_use);
            if (std::isfinite(b.lower_use)) {
              bacc->lower_sum += b.lower_use;
              ++bacc->lower_n;
            } else {
              ++bacc->zeros;
            }
            bacc->exp_sum += b.exponent;
            bacc->mwl_sum += mx * static_cast<double>(L);
          }
          const SelectionRow row = make_row(head, caches[h], rs, r, alpha);
          top_n_profile(row, pc, ws, pts);
          rngs.clear();
          for (Index N : random_counts) {
            rngs.push_back(Rng::stream(o.seed, stream_key(kDistanceSweep, L, N, h, rs.query[r])));
          }
          random_subset_distances(row, random_counts, o.draws, true, rngs, ws, rbs);
          for (std::size_t k = 0, rk = 0; k < K; ++k) {
            top_sum[k] += pts[k].distance_sum;
            top_norm[k] += pts[k].distance_norm;
            mass[k] += pts[k].mass;
            sep[k] += static_cast<double>(pts[k].separable) / static_cast<double>(pc[k]);
            radius[k] += pts[k].radius;
            if (needs_random[k]) {
              rnd_sum[k] += rbs[rk].distance_sum;
              rnd_norm[k] += rbs[rk].distance_norm;
              ++rk;
            }
          }
        }
        const double inv = R > 0 ? 1.0 / static_cast<double>(R) : kNaN;
        auto fill = [&](DistancePoint& p, std::size_t k) {
          p.top_sum[h] = top_sum[k] * inv;
          p.top_norm[h] = top_norm[k] * inv;
          p.random_sum[h] = rnd_sum[k] * inv;
          p.random_norm[h] = rnd_norm[k] * inv;
          p.mass[h] = mass[k] * inv;
          p.max_weight[h] = maxw * inv;
          p.separable[h] = sep[k] * inv;
        };
        NormalizerResult& res = out[v];
        if (len_idx >= 0)
          fill(res.length_sweep[static_cast<std::size_t>(len_idx)], pos_of(o.length_sweep_count));
        if (at_ref && o.sweep_count)
          for (std::size_t c = 0; c < o.counts.size(); ++c)
            fill(res.count_sweep[c], pos_of(o.counts[c]));
        if (at_ref && o.sweep_separability) {
          for (std::size_t s = 0; s < o.separability_counts.size(); ++s) {
            const std::size_t k = pos_of(o.separability_counts[s]);
            res.separability[s].ratio[h] = sep[k] * inv;
            res.separability[s].radius[h] = radius[k] * inv;
          }
        }
      }
      if (bar) bar->advance();
    });
  }
  // Row counts, KS of top vs random head means, band aggregates.
  auto rows_for = [&](Index L) {
    const auto li = static_cast<std::size_t>(std::find(todo.begin(), todo.end(), L) - todo.begin());
    return std::accumulate(rows_at[li].begin(), rows_at[li].end(), Index{0});
  };
  for (std::size_t v = 0; v < nu; ++v) {
    auto finish = [&](DistancePoint& p) {
      p.rows = rows_for(p.length);
      const auto& a = o.form == DistanceForm::sum ? p.top_sum : p.top_norm;
      const auto& b = o.form == DistanceForm::sum ? p.random_sum : p.random_norm;
      std::vector<double> fa, fb;
      for (std::size_t h = 0; h < a.size(); ++h)
        if (std::isfinite(a[h]) && std::isfinite(b[h])) {
          fa.push_back(a[h]);
          fb.push_back(b[h]);
        }
      if (!fa.empty()) {
        const KsTest t = ks_two_sample(fa, fb);
        p.ks_statistic = t.statistic;
        p.ks_p_value = t.p_value;
      }
    };
    for (auto& p : out[v].length_sweep) finish(p);
    for (auto& p : out[v].count_sweep) finish(p);
    for (std::size_t li = 0; li < lengths.size(); ++li) {
      BandAcc tot;
      double upper_max = 0.0;
      for (const auto& a : band[v][li]) {
        tot.rows += a.rows;
        tot.inside += a.inside;
        tot.zeros += a.zeros;
        tot.lower_n += a.lower_n;
        tot.upper_sum += a.upper_sum;
        tot.lower_sum += a.lower_sum;
        tot.exp_sum += a.exp_sum;
        tot.mwl_sum += a.mwl_sum;
        upper_max = std::max(upper_max, a.upper_max);
      }
      BandPoint bp;
      bp.length = lengths[li];
      bp.rows = tot.rows;
      if (tot.rows > 0) {
        const double n = static_cast<double>(tot.rows);
        bp.inside_share = static_cast<double>(tot.inside) / n;
        bp.upper_use_mean = tot.upper_sum / n;
        bp.upper_use_max = upper_max;
        bp.lower_use_mean = tot.lower_n ? tot.lower_sum / static_cast<double>(tot.lower_n) : kNaN;
        bp.zero_share = static_cast<double>(tot.zeros) / n;
        bp.exponent_mean = tot.exp_sum / n;
        bp.max_weight_times_length = tot.mwl_sum / n;
      }
      out[v].band.push_back(bp);
    }
  }
}

// ---- critical N --------------------------------------------------------------------------------

// Top-N and random-subset d̃ (study form) per [count][head][row] for the given counts.
struct CountValues {
  std::vector<std::vector<std::vector<double>>> top, rnd;  // [K][H][R]
};

CountValues evaluate_counts(const SelectivitySource& src, const SelectivityOptions& o,
                            const std::vector<HeadCache>& caches,
                            const std::vector<RowSet>& rowsets, const std::vector<MatrixD>& alphas,
                            const std::vector<Index>& counts) {
  const Index H = src.num_heads();
  const std::size_t K = counts.size();
  CountValues cv;
  cv.top.assign(K, std::vector<std::vector<double>>(static_cast<std::size_t>(H)));
  cv.rnd = cv.top;
  const bool sum = o.form == DistanceForm::sum;
  parallel_for(H, [&](Index h) {
    const RowSet& rs = rowsets[h];
    const Index R = rs.rows(), L = rs.length;
    SelectionWorkspace ws;
    std::vector<TopNPoint> pts(K);
    std::vector<Rng> rngs;
    std::vector<RandomBaseline> rbs(K);
    for (std::size_t k = 0; k < K; ++k) {
      cv.top[k][h].resize(static_cast<std::size_t>(R));
      cv.rnd[k][h].resize(static_cast<std::size_t>(R));
    }
    for (Index r = 0; r < R; ++r) {
      const SelectionRow row = make_row(src.heads[static_cast<std::size_t>(h)], caches[h], rs, r,
                                        row_span(alphas[h], r));
      top_n_profile(row, counts, ws, pts);
      rngs.clear();
      for (std::size_t k = 0; k < K; ++k) {
        rngs.push_back(
            Rng::stream(o.seed, stream_key(kCriticalSweep, L, counts[k], h, rs.query[r])));
      }
      random_subset_distances(row, counts, o.ks_draws, sum, rngs, ws, rbs);
      for (std::size_t k = 0; k < K; ++k) {
        cv.top[k][h][r] = sum ? pts[k].distance_sum : pts[k].distance_norm;
        cv.rnd[k][h][r] = sum ? rbs[k].distance_sum : rbs[k].distance_norm;
      }
    }
  });
  return cv;
}

// Critical N of every normalizer at length L.
std::vector<CriticalPoint> critical_at_length(const SelectivitySource& src,
                                              const SelectivityOptions& o,
                                              const std::vector<NormalizerSetting>& settings,
                                              const std::vector<HeadCache>& caches, Index L,
                                              Progress* bar) {
  const Index H = src.num_heads();
  std::vector<CriticalPoint> out(settings.size());
  std::vector<Index> grid;
  for (Index g : o.critical_grid)
    if (g < L - 1) grid.push_back(g);
  grid.push_back(L - 1);  // the largest N with a non-selected key closes every grid
  std::vector<RowSet> rowsets(static_cast<std::size_t>(H));
  parallel_for(H, [&](Index h) { rowsets[h] = build_rows(src, h, caches[h], L, o.max_queries); });
  for (std::size_t v = 0; v < settings.size(); ++v) {
    CriticalPoint& cp = out[v];
    cp.length = L;
    std::vector<MatrixD> alphas(static_cast<std::size_t>(H));
    parallel_for(H, [&](Index h) {
      const RowSet& rs = rowsets[h];
      alphas[h].resize(rs.rows(), L);
      std::vector<double> logits(static_cast<std::size_t>(L));
      for (Index r = 0; r < rs.rows(); ++r) {
        row_weights(settings[v], row_span(rs.scores, r), logits,
                    std::span<double>(alphas[h].row(r).data(), static_cast<std::size_t>(L)));
      }
    });
    if (grid.empty()) {
      if (bar) bar->advance(H);
      continue;
    }
    // Scan the grid upwards in chunks (one pass per chunk shares the rows' top-N GEMM) and stop
    // at the first chunk holding an accepting N: points above the critical N are not needed.
    std::size_t first = grid.size();
    for (std::size_t start = 0; start < grid.size() && first == grid.size(); start += kScanChunk) {
      const std::vector<Index> chunk(
          grid.begin() + static_cast<std::ptrdiff_t>(start),
          grid.begin() + static_cast<std::ptrdiff_t>(std::min(grid.size(), start + kScanChunk)));
      const CountValues cv = evaluate_counts(src, o, caches, rowsets, alphas, chunk);
      for (std::size_t k = 0; k < chunk.size(); ++k) {
        cp.scan.push_back(ks_between(chunk[k], cv.top[k], cv.rnd[k], o.ks_unit));
        if (first == grid.size() && cp.scan.back().p_value >= o.ks_level) first = start + k;
      }
    }
    if (first == grid.size()) {
      cp.critical = -1;
      cp.bracket_low = grid.back();
      cp.bracket_high = L;
    } else {
      Index lo = first > 0 ? grid[first - 1] : 0, hi = grid[first];
      if (o.critical_refine && first > 0) {
        // Bisection to ~5% of N (finer is below the Monte Carlo resolution of the test).
        while (hi - lo > std::max<Index>(1, hi / 20)) {
          const Index mid = lo + (hi - lo) / 2;
          const CountValues mv = evaluate_counts(src, o, caches, rowsets, alphas, {mid});
          const KsPoint kp = ks_between(mid, mv.top[0], mv.rnd[0], o.ks_unit);
          cp.refine.push_back(kp);
          if (kp.p_value >= o.ks_level)
            hi = mid;
          else
            lo = mid;
        }
      }
      cp.critical = hi;
      cp.bracket_low = lo;
      cp.bracket_high = hi;
    }
    if (bar) bar->advance(H);
  }
  return out;
}

// ---- sensitivity -------------------------------------------------------------------------------

void run_sensitivity(const SelectivitySource& src, const SelectivityOptions& o,
                     const std::vector<NormalizerSetting>& settings, Index L_ref,
                     const std::vector<HeadCache>& caches, std::vector<NormalizerResult>& out,
                     Progress* bar) {
  const Index H = src.num_heads();
  const auto& temps =
      o.temperatures.empty() ? SelectivityOptions::default_temperatures() : o.temperatures;
  const std::size_t nu = settings.size(), nT = temps.size(), nE = o.fd_eps.size();
  const std::size_t n_metrics =
      4 + 4 * nE;  // spectral, entry, tied spectral, tied entry, 4 FD per ε
  const Index Rmax = o.sensitivity_queries;
  // values[((v·nT + t)·n_metrics + m)·H·Rmax + h·Rmax + r]
  std::vector<double> values(nu * nT * n_metrics * static_cast<std::size_t>(H * Rmax), kNaN);
  std::vector<Index> rows(static_cast<std::size_t>(H), 0);
  auto at = [&](std::size_t v, std::size_t t, std::size_t m, Index h, Index r) -> double& {
    return values[((v * nT + t) * n_metrics + m) * static_cast<std::size_t>(H * Rmax) +
                  static_cast<std::size_t>(h * Rmax + r)];
  };
  parallel_for(H, [&](Index h) {
    const RowSet rs = build_rows(src, h, caches[h], L_ref, Rmax);
    rows[h] = rs.rows();
    const auto L = static_cast<std::size_t>(L_ref);
    std::vector<double> tied(L), dir(L), top(L), top_tied(L);
    FdWorkspace fws;
    for (Index r = 0; r < rs.rows(); ++r) {
      const std::span<const double> z = row_span(rs.scores, r);
      const auto [i1, i2] = top_two(z);
      tied.assign(z.begin(), z.end());
      tied[static_cast<std::size_t>(i2)] = z[static_cast<std::size_t>(i1)];
      Rng rng = Rng::stream(o.seed, stream_key(kSensitivitySweep, L_ref, 0, h, rs.query[r]));
      double n2 = 0.0;
      for (auto& d : dir) {
        d = rng.normal();
        n2 += d * d;
      }
      for (auto& d : dir) d /= std::sqrt(n2);
      const Index cols[2] = {i1, i2};
      for (std::size_t v = 0; v < nu; ++v) {
        for (std::size_t t = 0; t < nT; ++t) {
          NormalizerSetting s = settings[v];
          s.temperature = temps[t];
          const JacobianStructure js = jacobian_structure(s, z);
          at(v, t, 0, h, r) = spectral_norm(js, top);
          at(v, t, 1, h, r) = max_abs_entry(js);
          const JacobianStructure jt = jacobian_structure(s, tied);
          at(v, t, 2, h, r) = spectral_norm(jt, top_tied);
          at(v, t, 3, h, r) = max_abs_entry(jt);
          for (std::size_t e = 0; e < nE; ++e) {
            const double eps = o.fd_eps[e];
            at(v, t, 4 + 4 * e, h, r) = fd_forward(s, z, dir, eps, fws);
            at(v, t, 5 + 4 * e, h, r) = fd_central(s, z, top, eps, fws);
            at(v, t, 6 + 4 * e, h, r) = fd_max_entry(s, z, cols, eps, fws);
            at(v, t, 7 + 4 * e, h, r) = fd_central(s, tied, top_tied, eps, fws);
          }
        }
      }
    }
    if (bar) bar->advance();
  });
  auto aggregate = [&](std::size_t v, std::size_t t, std::size_t m) {
    Aggregate a;
    double sum = 0.0, max_head = 0.0, max_row = 0.0;
    Index n = 0;
    for (Index h = 0; h < H; ++h) {
      if (rows[h] == 0) continue;
      double hs = 0.0;
      for (Index r = 0; r < rows[h]; ++r) {
        const double x = at(v, t, m, h, r);
        hs += x;
        max_row = std::max(max_row, x);
      }
      sum += hs;
      n += rows[h];
      max_head = std::max(max_head, hs / static_cast<double>(rows[h]));
    }
    if (n > 0) {
      a.mean = sum / static_cast<double>(n);
      a.max_head = max_head;
      a.max_row = max_row;
    }
    return a;
  };
  const Index total_rows = std::accumulate(rows.begin(), rows.end(), Index{0});
  for (std::size_t v = 0; v < nu; ++v) {
    for (std::size_t t = 0; t < nT; ++t) {
      SensitivityPoint p;
      NormalizerSetting s = settings[v];
      s.temperature = temps[t];
      p.temperature = temps[t];
      p.scale = logit_scale(s, L_ref);
      const bool softmax_like =
          s.normalizer == Normalizer::softmax || s.normalizer == Normalizer::ssmax;
      p.bound_spectral = softmax_like ? p.scale / 2.0 : p.scale;
      p.bound_entry = softmax_like ? p.scale / 4.0 : p.scale;
      p.rows = total_rows;
      p.spectral = aggregate(v, t, 0);
      p.entry = aggregate(v, t, 1);
      p.tied_spectral = aggregate(v, t, 2);
      p.tied_entry = aggregate(v, t, 3);
      for (std::size_t e = 0; e < nE; ++e) {
        p.fd.push_back({o.fd_eps[e], aggregate(v, t, 4 + 4 * e), aggregate(v, t, 5 + 4 * e),
                        aggregate(v, t, 6 + 4 * e), aggregate(v, t, 7 + 4 * e)});
      }
      out[v].sensitivity.push_back(std::move(p));
    }
  }
}

// ---- summaries ---------------------------------------------------------------------------------

void summarize(NormalizerResult& r, const SelectivityOptions& o) {
  NormalizerSummary& s = r.summary;
  double num = 0.0, den = 0.0;
  s.critical_tested = static_cast<Index>(r.critical.size());
  for (const auto& c : r.critical) {
    if (c.critical < 0) continue;
    ++s.critical_found;
    num += static_cast<double>(c.critical) * static_cast<double>(c.length);
    den += static_cast<double>(c.length) * static_cast<double>(c.length);
  }
  if (s.critical_found > 0) s.critical_ratio = num / den;

  double plateau = 0.0;
  Index plateau_n = 0;
  for (const auto& p : r.separability) {
    const double m = finite_mean(p.ratio);
    if (!std::isfinite(m)) continue;
    if (p.count >= 16) {
      plateau += m;
      ++plateau_n;
    }
    if (!std::isfinite(s.ns_minimum) || m < s.ns_minimum) {
      s.ns_minimum = m;
      s.ns_minimum_count = p.count;
    }
  }
  if (plateau_n > 0) s.ns_plateau = plateau / static_cast<double>(plateau_n);

  std::vector<double> Ls, top, rnd, mw;
  for (const auto& p : r.length_sweep) {
    Ls.push_back(static_cast<double>(p.length));
    top.push_back(finite_mean(o.form == DistanceForm::sum ? p.top_sum : p.top_norm));
    rnd.push_back(finite_mean(o.form == DistanceForm::sum ? p.random_sum : p.random_norm));
    mw.push_back(finite_mean(p.max_weight));
  }
  s.distance_slope = log_log_slope(Ls, top);
  s.random_slope = log_log_slope(Ls, rnd);
  s.max_weight_slope = log_log_slope(Ls, mw);

  std::vector<double> ts, tl, spec_s, spec_l, tied_s, fd_s;
  std::size_t eps_idx = 0;
  if (!r.sensitivity.empty()) {
    const auto& fd = r.sensitivity.front().fd;
    for (std::size_t e = 0; e < fd.size(); ++e)
      if (fd[e].eps < fd[eps_idx].eps) eps_idx = e;
  }
  for (const auto& p : r.sensitivity) {
    if (p.temperature <= 0.1 * (1 + 1e-9)) {
      ts.push_back(p.temperature);
      spec_s.push_back(p.spectral.max_head);
      tied_s.push_back(p.tied_spectral.max_head);
      fd_s.push_back(p.fd.empty() ? kNaN : p.fd[eps_idx].random.max_head);
    }
    if (p.temperature >= 1.0 * (1 - 1e-9)) {
      tl.push_back(p.temperature);
      spec_l.push_back(p.spectral.max_head);
    }
  }
  s.spectral_slope_small_t = log_log_slope(ts, spec_s);
  s.spectral_slope_large_t = log_log_slope(tl, spec_l);
  s.tied_slope_small_t = log_log_slope(ts, tied_s);
  s.fd_slope_small_t = log_log_slope(ts, fd_s);
  if (!r.sensitivity.empty()) {
    const auto& p = *std::min_element(
        r.sensitivity.begin(), r.sensitivity.end(),
        [](const auto& a, const auto& b) { return a.temperature < b.temperature; });
    s.tied_spectral_times_t = p.temperature * p.tied_spectral.mean;
  }
  double inside = 0.0, rows = 0.0;
  for (const auto& b : r.band) {
    if (b.rows == 0) continue;
    inside += b.inside_share * static_cast<double>(b.rows);
    rows += static_cast<double>(b.rows);
  }
  if (rows > 0) s.band_inside_share = inside / rows;
}

Index progress_steps(const SelectivitySource& src, const SelectivityOptions& o) {
  const Index H = src.num_heads();
  std::set<Index> lengths;
  if (o.sweep_length) lengths.insert(o.lengths.begin(), o.lengths.end());
  if (o.sweep_count || o.sweep_separability) lengths.insert(resolved_reference(o, src));
  Index steps = static_cast<Index>(lengths.size()) * H;
  if (o.sweep_critical) {
    const auto& cl = o.critical_lengths.empty() ? o.lengths : o.critical_lengths;
    steps += static_cast<Index>(cl.size() * o.normalizers.size()) * H;
  }
  if (o.sweep_sensitivity) steps += H;
  return steps;
}

}  // namespace

double log_log_slope(std::span<const double> x, std::span<const double> y) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  Index n = 0;
  for (std::size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
    if (!(x[i] > 0) || !(y[i] > 0) || !std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
    const double lx = std::log(x[i]), ly = std::log(y[i]);
    sx += lx;
    sy += ly;
    sxx += lx * lx;
    sxy += lx * ly;
    ++n;
  }
  if (n < 2) return kNaN;
  const double dn = static_cast<double>(n);
  const double var = sxx - sx * sx / dn;
  if (!(var > 0)) return kNaN;
  return (sxy - sx * sy / dn) / var;
}

void validate_options(const SelectivityOptions& o, const SelectivitySource& src) {
  src.validate();
  const Index Lmax = src.max_length();
  if (o.normalizers.empty()) throw UsageError("selectivity: no normalizer selected");
  for (std::size_t i = 0; i < o.normalizers.size(); ++i) {
    NormalizerSetting{o.normalizers[i], 1.0, o.ssmax_s}.validate();
    for (std::size_t j = 0; j < i; ++j)
      if (o.normalizers[i] == o.normalizers[j]) {
        throw UsageError(str_cat("selectivity: normalizer '",
                                 attention::to_string(o.normalizers[i]), "' listed twice"));
      }
  }
  if (!(o.temperature >= 0.0) || !std::isfinite(o.temperature)) {
    throw UsageError(
        str_cat("selectivity: temperature must be > 0 (or 0 for √d), got ", o.temperature));
  }
  auto check_lengths = [&](const char* what, const std::vector<Index>& ls) {
    for (Index L : ls)
      if (L < 2 || L > Lmax) {
        throw UsageError(str_cat("selectivity: ", what, " ", L, " outside [2, ", Lmax,
                                 "] (the source has L=", Lmax, " keys)"));
      }
  };
  if (o.sweep_length && o.lengths.empty()) throw UsageError("selectivity: no lengths to sweep");
  check_lengths("length", o.lengths);
  check_lengths("critical length", o.critical_lengths);
  const Index L_ref = resolved_reference(o, src);
  check_lengths("reference length", {L_ref});
  if (o.sweep_length) {
    const Index Lmin = *std::min_element(o.lengths.begin(), o.lengths.end());
    if (o.length_sweep_count < 1 || o.length_sweep_count >= Lmin) {
      throw UsageError(str_cat("selectivity: N of the length sweep must be in [1, ", Lmin - 1,
                               "] (shortest length ", Lmin, "), got ", o.length_sweep_count));
    }
  }
  auto check_counts = [&](const char* what, const std::vector<Index>& ns, bool needed) {
    if (!needed) return;  // a sweep that does not run ignores its counts
    if (ns.empty()) throw UsageError(str_cat("selectivity: no ", what, " given"));
    for (Index N : ns)
      if (N < 1 || N >= L_ref) {
        throw UsageError(str_cat("selectivity: ", what, " N=", N, " outside [1, ", L_ref - 1,
                                 "] (reference length L=", L_ref, ")"));
      }
  };
  check_counts("counts", o.counts, o.sweep_count);
  check_counts("separability counts", o.separability_counts, o.sweep_separability);
  if (o.sweep_critical) {
    if (o.critical_grid.empty()) throw UsageError("selectivity: empty critical-N grid");
    for (std::size_t i = 0; i < o.critical_grid.size(); ++i) {
      if (o.critical_grid[i] < 1 || (i > 0 && o.critical_grid[i] <= o.critical_grid[i - 1])) {
        throw UsageError("selectivity: the critical-N grid must be increasing positive integers");
      }
    }
  }
  if (!(o.ks_level > 0.0 && o.ks_level < 1.0)) {
    throw UsageError(str_cat("selectivity: KS level must be in (0, 1), got ", o.ks_level));
  }
  if (o.sweep_critical && o.ks_unit == KsUnit::head) {
    // Smallest attainable p for n = m = H is 2 / C(2H, H).
    const Index H = src.num_heads();
    const double min_p = 2.0 * std::exp(2.0 * std::lgamma(static_cast<double>(H) + 1.0) -
                                        std::lgamma(2.0 * static_cast<double>(H) + 1.0));
    if (!(min_p < o.ks_level)) {
      throw UsageError(str_cat(
          "selectivity: with ", H, " head(s) the head-level KS test can never ", "reach p < ",
          o.ks_level, " (smallest p = ", min_p, "); use --ks-unit query or more heads"));
    }
  }
  if (o.draws < 1 || o.ks_draws < 1 || o.draws > 1000000 || o.ks_draws > 1000000) {
    throw UsageError(
        str_cat("selectivity: draws must be in [1, 1e6], got ", o.draws, " and ", o.ks_draws));
  }
  if (o.max_queries < 1 || o.sensitivity_queries < 1) {
    throw UsageError(str_cat("selectivity: queries per head must be >= 1, got ", o.max_queries,
                             " and ", o.sensitivity_queries));
  }
  for (double t : o.temperatures)
    if (!(t > 0.0) || !std::isfinite(t)) {
      throw UsageError(str_cat("selectivity: sensitivity temperatures must be > 0, got ", t));
    }
  for (double e : o.fd_eps)
    if (!(e > 0.0) || !std::isfinite(e)) {
      throw UsageError(str_cat("selectivity: finite-difference eps must be > 0, got ", e));
    }
  if (!(o.ssmax_s > 0.0))
    throw UsageError(str_cat("selectivity: ssmax s must be > 0, got ", o.ssmax_s));
  // Causal sources: every length needs at least one query with that many visible keys.
  std::set<Index> all(o.lengths.begin(), o.lengths.end());
  all.insert(o.critical_lengths.begin(), o.critical_lengths.end());
  all.insert(L_ref);
  for (Index L : all) {
    if (eligible_rows(src, L, 1).empty()) {
      throw InputError(str_cat("selectivity: no query of the causal source sees L=", L,
                               " keys (queries at positions ", src.query_position(0), "..",
                               src.query_position(src.num_queries() - 1), ")"));
    }
  }
}

SelectivityResult run_selectivity(const SelectivitySource& src, const SelectivityOptions& o) {
  validate_options(o, src);
  Timer total;
  SelectivityResult res;
  res.options = o;
  if (res.options.temperatures.empty() && o.sweep_sensitivity) {
    res.options.temperatures = SelectivityOptions::default_temperatures();
  }
  res.source = src.describe_json();
  res.temperature = resolved_temperature(o, src);
  res.reference_length = resolved_reference(o, src);
  const auto settings = make_settings(o, res.temperature);
  for (Normalizer n : o.normalizers) {
    NormalizerResult r;
    r.name = std::string(attention::to_string(n));
    res.normalizers.push_back(std::move(r));
  }
  std::vector<HeadCache> caches(static_cast<std::size_t>(src.num_heads()));
  parallel_for(src.num_heads(), [&](Index h) { caches[h] = make_cache(src.heads[h]); });

  std::unique_ptr<Progress> bar;
  if (o.progress) bar = std::make_unique<Progress>("selectivity", progress_steps(src, o));
  if (o.sweep_length || o.sweep_count || o.sweep_separability) {
    Timer t;
    run_distance_sweeps(src, res.options, settings, res.reference_length, caches, res.normalizers,
                        bar.get());
    res.timings["distance"] = t.seconds();
  }
  if (o.sweep_critical) {
    Timer t;
    const auto& cl = o.critical_lengths.empty() ? o.lengths : o.critical_lengths;
    for (Index L : cl) {
      auto pts = critical_at_length(src, res.options, settings, caches, L, bar.get());
      for (std::size_t v = 0; v < pts.size(); ++v)
        res.normalizers[v].critical.push_back(std::move(pts[v]));
    }
    res.timings["critical"] = t.seconds();
  }
  if (o.sweep_sensitivity) {
    Timer t;
    run_sensitivity(src, res.options, settings, res.reference_length, caches, res.normalizers,
                    bar.get());
    res.timings["sensitivity"] = t.seconds();
  }
  if (bar) bar->finish();
  for (auto& r : res.normalizers) summarize(r, res.options);
  res.seconds = total.seconds();
  return res;
}

std::vector<SpreadPoint> run_spread_sweep(const SyntheticOptions& base,
                                          const SelectivityOptions& options,
                                          std::span<const double> spreads, Index length) {
  std::vector<SpreadPoint> out;
  for (double spread : spreads) {
    SyntheticOptions so = base;
    so.gain_spread = so.value_spread = spread;
    so.length = std::max(length, Index{2});
    so.seed = options.seed;
    const SelectivitySource src = make_synthetic_source(so);
    SelectivityOptions o = options;
    o.lengths = {length};
    o.critical_lengths = {length};
    o.reference_length = length;
    o.sweep_length = o.sweep_count = o.sweep_separability = o.sweep_sensitivity = false;
    o.sweep_critical = true;
    validate_options(o, src);
    std::vector<HeadCache> caches(static_cast<std::size_t>(src.num_heads()));
    parallel_for(src.num_heads(), [&](Index h) { caches[h] = make_cache(src.heads[h]); });
    const auto pts = critical_at_length(src, o, make_settings(o, resolved_temperature(o, src)),
                                        caches, length, nullptr);
    SpreadPoint sp;
    sp.spread = spread;
    sp.length = length;
    for (std::size_t v = 0; v < pts.size(); ++v) {
      sp.normalizers.push_back(std::string(attention::to_string(o.normalizers[v])));
      sp.critical.push_back(pts[v].critical);
    }
    out.push_back(std::move(sp));
  }
  return out;
}

}  // namespace attnlab::analysis::selectivity
