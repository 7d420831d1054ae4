#include "attnlab/analysis/selectivity/selection_distance.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "attnlab/core/blas.hpp"
#include "attnlab/core/error.hpp"

namespace attnlab::analysis::selectivity {
namespace {

constexpr Index kDrawBlock = 64;

void check_row(const char* fn, const SelectionRow& row) {
  const Index L = row.length();
  if (row.x.rows() != L || static_cast<Index>(row.x_sq_norms.size()) != L ||
      static_cast<Index>(row.order.size()) != L) {
    throw Error(str_cat(fn, ": row pieces disagree: ", L, " weights, x [", row.x.rows(), ", ",
                        row.x.cols(), "], ", row.x_sq_norms.size(), " norms, ", row.order.size(),
                        " order entries"));
  }
}

void check_count(const char* fn, Index count, Index length) {
  if (count < 1 || count >= length) {
    throw UsageError(str_cat(fn, ": N must be in [1, L − 1] = [1, ", length - 1, "], got N=", count,
                             " (L=", length, ")"));
  }
}

void ensure_rows(MatrixD& m, Index rows, Index cols) {
  if (m.rows() < rows || m.cols() != cols) m.resize(std::max(rows, m.rows()), cols);
}

// o = Σ_j α_j x_j and α_j²‖x_j‖² for every key; returns max_j α_j²‖x_j‖².
double prepare_row(const SelectionRow& row, SelectionWorkspace& ws) {
  const Index L = row.length();
  const Eigen::Map<const VectorD> alpha(row.weights.data(), L);
  ws.output.noalias() = row.x.transpose() * alpha;  // [dx]
  ws.a2n.resize(static_cast<std::size_t>(L));
  double max_a2n = 0.0;
  for (Index j = 0; j < L; ++j) {
    const double a = row.weights[static_cast<std::size_t>(j)];
    ws.a2n[static_cast<std::size_t>(j)] = a * a * row.x_sq_norms[static_cast<std::size_t>(j)];
    max_a2n = std::max(max_a2n, ws.a2n[static_cast<std::size_t>(j)]);
  }
  return max_a2n;
}

// ‖α_j x_j − s‖² computed directly in dx dimensions.
double direct_sq_distance(const SelectionRow& row, Index j, const double* s) {
  const double a = row.weights[static_cast<std::size_t>(j)];
  const double* xj = row.x.data() + j * row.x.cols();
  double acc = 0.0;
  for (Index c = 0; c < row.x.cols(); ++c) {
    const double diff = a * xj[c] - s[c];
    acc += diff * diff;
  }
  return acc;
}

// Σ x in a summation order fixed by n alone (8 interleaved lanes, then pairwise): unlike Eigen's
// .sum(), whose peeling depends on the address alignment, the result never depends on where the
// buffer happens to live — part of the bit-identical-for-a-seed contract.
double fixed_order_sum(const double* x, Index n) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  Index i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) lane[l] += x[i + l];
  for (int l = 0; i < n; ++i, ++l) lane[l] += x[i];
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

// dist[j] = sqrt(max(0, α_j²‖x_j‖² − 2 α_j p_j + ss)) for every key, with Eigen's SIMD sqrt (the
// scalar std::sqrt keeps errno semantics and would not vectorize without -fno-math-errno).
void expanded_distances(const AlignedVector<double>& a2n, std::span<const double> alpha,
                        const double* p, double ss, Index L, AlignedVector<double>& dist) {
  dist.resize(static_cast<std::size_t>(L));
  const Eigen::Map<const Eigen::ArrayXd> A2N(a2n.data(), L), AL(alpha.data(), L), P(p, L);
  Eigen::Map<Eigen::ArrayXd> D(dist.data(), L);
  D = (A2N - 2.0 * AL * P + ss).max(0.0).sqrt();
}

}  // namespace

std::string_view to_string(DistanceForm form) {
  return form == DistanceForm::sum ? "sum" : "norm";
}

DistanceForm parse_distance_form(std::string_view name) {
  if (name == "sum") return DistanceForm::sum;
  if (name == "norm") return DistanceForm::norm;
  throw UsageError(str_cat("selectivity: distance form must be 'sum' or 'norm', got '", name, "'"));
}

void top_n_profile(const SelectionRow& row, std::span<const Index> counts, SelectionWorkspace& ws,
                   std::span<TopNPoint> out) {
  check_row("top_n_profile", row);
  const Index L = row.length(), dx = row.x.cols();
  const auto k = static_cast<Index>(counts.size());
  if (out.size() != counts.size()) {
    throw Error(str_cat("top_n_profile: ", counts.size(), " counts but ", out.size(), " outputs"));
  }
  if (k == 0) return;
  for (Index c : counts) check_count("top_n_profile", c, L);
  const double max_a2n = prepare_row(row, ws);
  ws.rank.resize(static_cast<std::size_t>(L));
  for (Index t = 0; t < L; ++t) ws.rank[static_cast<std::size_t>(row.order[t])] = t;

  // Contexts s_N for every requested N, accumulated along the order (ascending N).
  std::vector<Index> by_count(static_cast<std::size_t>(k));
  std::iota(by_count.begin(), by_count.end(), Index{0});
  std::sort(by_count.begin(), by_count.end(),
            [&](Index a, Index b) { return counts[a] < counts[b]; });
  ensure_rows(ws.sets, k, dx);
  ws.tmp.setZero(dx);
  double mass = 0.0;
  Index t = 0;
  for (Index pos : by_count) {
    const Index n = counts[pos];
    for (; t < n; ++t) {
      const Index i = row.order[t];
      const double a = row.weights[static_cast<std::size_t>(i)];
      ws.tmp.noalias() += a * row.x.row(i).transpose();
      mass += a;
    }
    ws.sets.row(pos) = ws.tmp.transpose();
    out[pos].count = n;
    out[pos].mass = mass;
  }
  // P = S Xᵀ: [k, L].
  ensure_rows(ws.products, k, L);
  gemm(Trans::no, Trans::yes, k, L, dx, 1.0, ws.sets.data(), dx, row.x.data(), dx, 0.0,
       ws.products.data(), L);

  for (Index pos = 0; pos < k; ++pos) {
    const Index n = counts[pos];
    const double* s = ws.sets.row(pos).data();
    const double* p = ws.products.row(pos).data();
    const double ss = ws.sets.row(pos).squaredNorm();
    expanded_distances(ws.a2n, row.weights, p, ss, L, ws.dist);
    double sum = 0.0, min_d = std::numeric_limits<double>::infinity();
    for (Index j = 0; j < L; ++j) {
      if (ws.rank[static_cast<std::size_t>(j)] < n) continue;
      const double d = ws.dist[static_cast<std::size_t>(j)];
      sum += d;
      min_d = std::min(min_d, d);
    }
    const double min2 = min_d * min_d;
    // Exact r: recompute directly every key whose expanded value could be the minimum.
    const double tol = 1e-14 * static_cast<double>(dx + 16) * (max_a2n + ss);
    double r2 = std::numeric_limits<double>::infinity();
    for (Index j = 0; j < L; ++j) {
      if (ws.rank[static_cast<std::size_t>(j)] < n) continue;
      const double d2 = ws.a2n[static_cast<std::size_t>(j)] -
                        2.0 * row.weights[static_cast<std::size_t>(j)] * p[j] + ss;
      if (d2 <= min2 + 2.0 * tol) r2 = std::min(r2, direct_sq_distance(row, j, s));
    }
    Index separable = 0;
    for (Index q = 0; q < n; ++q) {
      if (direct_sq_distance(row, row.order[q], s) < r2) ++separable;
    }
    out[pos].distance_sum = sum;
    out[pos].distance_norm = (ws.output - 2.0 * ws.sets.row(pos).transpose()).norm();
    out[pos].radius = std::sqrt(r2);
    out[pos].separable = separable;
  }
}

void random_subset_distances(const SelectionRow& row, std::span<const Index> counts, Index draws,
                             bool need_sum, std::span<Rng> rngs, SelectionWorkspace& ws,
                             std::span<RandomBaseline> out) {
  check_row("random_subset_distances", row);
  const Index L = row.length(), dx = row.x.cols();
  if (rngs.size() != counts.size() || out.size() != counts.size()) {
    throw Error(str_cat("random_subset_distances: ", counts.size(), " counts, ", rngs.size(),
                        " generators, ", out.size(), " outputs"));
  }
  for (Index c : counts) check_count("random_subset_distances", c, L);
  if (draws < 1) {
    throw UsageError(str_cat("random_subset_distances: draws must be >= 1, got ", draws));
  }
  if (counts.empty()) return;
  prepare_row(row, ws);
  // Each set draws the smaller of itself and its complement (both are uniform when the other is).
  Index max_k = 1;
  for (Index c : counts) max_k = std::max(max_k, std::min(c, L - c));
  ensure_rows(ws.sets, kDrawBlock, dx);
  ws.chosen.resize(static_cast<std::size_t>(kDrawBlock * max_k));
  ws.perm.resize(static_cast<std::size_t>(L));
  std::vector<double> sum_total(counts.size(), 0.0), norm_total(counts.size(), 0.0);
  // Sets wait in a block of up to kDrawBlock rows (across counts) and are finished together:
  //   sparse mode (k <= L/8): s accumulated row by row (k·dx), one GEMM P = S Xᵀ;
  //   dense mode  (k >  L/8): s = W X with W [block, L] holding α on the selected keys, then P —
  //                           two GEMMs of L·dx per set at BLAS speed instead of k·dx scalar work.
  // Then d̃ = Σ_j dist_j − Σ_{j drawn} dist_j (set drawn) or Σ_{j drawn} dist_j (complement drawn).
  struct Pending {
    std::size_t count;
    Index k;
    bool complement;
  };
  Pending pending[kDrawBlock];
  Index np = 0;
  bool dense_block = false;
  auto flush = [&] {
    if (np == 0) return;
    if (dense_block) {
      gemm(Trans::no, Trans::no, np, dx, L, 1.0, ws.weights_block.data(), L, row.x.data(), dx, 0.0,
           ws.sets.data(), dx);
      for (Index b = 0; b < np; ++b) {  // back to all-zero rows
        const Index* chosen = ws.chosen.data() + b * max_k;
        double* w = ws.weights_block.row(b).data();
        if (pending[b].complement) {
          std::fill(w, w + L, 0.0);
        } else {
          for (Index t = 0; t < pending[b].k; ++t) w[chosen[t]] = 0.0;
        }
      }
    }
    for (Index b = 0; b < np; ++b) {
      ws.tmp = ws.output - 2.0 * ws.sets.row(b).transpose();
      norm_total[pending[b].count] += ws.tmp.norm();
    }
    if (need_sum) {
      ensure_rows(ws.products, np, L);
      gemm(Trans::no, Trans::yes, np, L, dx, 1.0, ws.sets.data(), dx, row.x.data(), dx, 0.0,
           ws.products.data(), L);
      for (Index b = 0; b < np; ++b) {
        const double ss = ws.sets.row(b).squaredNorm();
        expanded_distances(ws.a2n, row.weights, ws.products.row(b).data(), ss, L, ws.dist);
        const Index* chosen = ws.chosen.data() + b * max_k;
        double drawn = 0.0;
        for (Index t = 0; t < pending[b].k; ++t)
          drawn += ws.dist[static_cast<std::size_t>(chosen[t])];
        sum_total[pending[b].count] +=
            pending[b].complement ? drawn : fixed_order_sum(ws.dist.data(), L) - drawn;
      }
    }
    np = 0;
  };
  for (std::size_t c = 0; c < counts.size(); ++c) {
    const Index count = counts[c];
    const bool complement = L - count < count;
    const Index k = complement ? L - count : count;
    const bool dense = 8 * k > L;
    if (dense && (ws.weights_block.rows() < kDrawBlock || ws.weights_block.cols() != L)) {
      ws.weights_block.setZero(kDrawBlock, L);
    }
    if (np > 0 && dense != dense_block) flush();
    dense_block = dense;
    Rng& rng = rngs[c];
    std::iota(ws.perm.begin(), ws.perm.end(), Index{0});  // each count starts from the identity
    for (Index d = 0; d < draws; ++d) {
      Index* chosen = ws.chosen.data() + np * max_k;
      for (Index t = 0; t < k; ++t) {
        const Index r = t + static_cast<Index>(rng.uniform_int(static_cast<std::uint64_t>(L - t)));
        std::swap(ws.perm[static_cast<std::size_t>(t)], ws.perm[static_cast<std::size_t>(r)]);
        chosen[t] = ws.perm[static_cast<std::size_t>(t)];
      }
      if (dense) {
        double* w = ws.weights_block.row(np).data();
        if (complement) {
          std::copy(row.weights.begin(), row.weights.end(), w);
          for (Index t = 0; t < k; ++t) w[chosen[t]] = 0.0;
        } else {
          for (Index t = 0; t < k; ++t)
            w[chosen[t]] = row.weights[static_cast<std::size_t>(chosen[t])];
        }
      } else {
        ws.tmp.setZero(dx);
        for (Index t = 0; t < k; ++t) {
          const Index j = chosen[t];
          ws.tmp.noalias() += row.weights[static_cast<std::size_t>(j)] * row.x.row(j).transpose();
        }
        if (complement) ws.tmp = ws.output - ws.tmp;  // s = o − Σ_{j∈C} α_j x_j
        ws.sets.row(np) = ws.tmp.transpose();
      }
      pending[np] = {c, k, complement};
      if (++np == kDrawBlock) flush();
    }
  }
  flush();
  for (std::size_t c = 0; c < counts.size(); ++c) {
    out[c].draws = draws;
    out[c].distance_norm = norm_total[c] / static_cast<double>(draws);
    out[c].distance_sum = need_sum ? sum_total[c] / static_cast<double>(draws) : 0.0;
  }
}

RandomBaseline random_subset_distance(const SelectionRow& row, Index count, Index draws,
                                      bool need_sum, Rng& rng, SelectionWorkspace& ws) {
  RandomBaseline rb;
  const Index counts[1] = {count};
  random_subset_distances(row, counts, draws, need_sum, std::span<Rng>(&rng, 1), ws,
                          std::span<RandomBaseline>(&rb, 1));
  return rb;
}

double subset_distance_reference(const SelectionRow& row, std::span<const Index> subset,
                                 DistanceForm form) {
  check_row("subset_distance_reference", row);
  const Index L = row.length(), dx = row.x.cols();
  std::vector<char> in(static_cast<std::size_t>(L), 0);
  VectorD s = VectorD::Zero(dx), rest = VectorD::Zero(dx);
  for (Index i : subset) {
    in[static_cast<std::size_t>(i)] = 1;
    s += row.weights[static_cast<std::size_t>(i)] * row.x.row(i).transpose();
  }
  double sum = 0.0;
  for (Index j = 0; j < L; ++j) {
    if (in[static_cast<std::size_t>(j)]) continue;
    const VectorD axj = row.weights[static_cast<std::size_t>(j)] * row.x.row(j).transpose();
    rest += axj;
    sum += (axj - s).norm();
  }
  return form == DistanceForm::sum ? sum : (rest - s).norm();
}

TopNPoint subset_separability_reference(const SelectionRow& row, std::span<const Index> subset) {
  check_row("subset_separability_reference", row);
  const Index L = row.length(), dx = row.x.cols();
  std::vector<char> in(static_cast<std::size_t>(L), 0);
  VectorD s = VectorD::Zero(dx);
  TopNPoint p;
  p.count = static_cast<Index>(subset.size());
  for (Index i : subset) {
    in[static_cast<std::size_t>(i)] = 1;
    s += row.weights[static_cast<std::size_t>(i)] * row.x.row(i).transpose();
    p.mass += row.weights[static_cast<std::size_t>(i)];
  }
  double r = std::numeric_limits<double>::infinity();
  for (Index j = 0; j < L; ++j) {
    if (in[static_cast<std::size_t>(j)]) continue;
    r = std::min(r,
                 (s - row.weights[static_cast<std::size_t>(j)] * row.x.row(j).transpose()).norm());
  }
  p.radius = r;
  for (Index i : subset) {
    if ((row.weights[static_cast<std::size_t>(i)] * row.x.row(i).transpose() - s).norm() < r) {
      ++p.separable;
    }
  }
  p.distance_sum = subset_distance_reference(row, subset, DistanceForm::sum);
  p.distance_norm = subset_distance_reference(row, subset, DistanceForm::norm);
  return p;
}

}  // namespace attnlab::analysis::selectivity
