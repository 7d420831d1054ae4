// attnlab/analysis/selectivity/selection_distance.hpp — the top-N selection distance d̃, its
// random-subset baseline, and the geometric separability N_s of one attention row.
//
// Definitions (SCIENCE.md §4). A row has weights α [L] over L keys with token vectors x_j [dx].
// For a selected set I of N keys, s = Σ_{i∈I} α_i x_i (the context of the selection) and
//   sum form  (default):  d̃ = Σ_{j∉I} ‖α_j x_j − s‖₂
//   norm form (flag):     d̃ = ‖Σ_{j∉I} α_j x_j − s‖₂  = ‖o − 2s‖₂,  o = Σ_j α_j x_j
//   separability:         r = min_{j∉I} ‖s − α_j x_j‖₂,  N_s = #{i ∈ I : ‖α_i x_i − s‖₂ < r}
// I_N = the N largest weights (the row's `order`, row_weights.hpp: ties by score, then index).
// The random baseline replaces I_N by a uniformly random N-subset (Monte Carlo over `draws`).
//
// How it is computed (no per-subset allocation; everything lives in a SelectionWorkspace):
//   ‖α_j x_j − s‖² = α_j²‖x_j‖² − 2 α_j (x_j·s) + ‖s‖², and the products x_j·s for all j and a
//   block of sets at once are one GEMM  P = S Xᵀ  ([sets, dx] × [dx, L], core/blas.hpp). The
//   expansion loses relative precision only for distances far below ‖s‖ (absolute error
//   ~1e-8·‖s‖), which moves d̃ by < 1e-8 relative; the minimum r and every distance of a selected
//   token are recomputed directly in dx dimensions, so N_s is exact.
//   Random subsets: a partial Fisher–Yates shuffle of a permutation buffer draws N distinct keys
//   (for N > L/2 the complement, L − N keys, whose distances are then the ones summed). Sets go
//   through blocks of 64: the contexts s are summed key by key for small draws (<= L/8 keys) and
//   by a GEMM S = W X for larger ones, then P = S Xᵀ.
// Cost per row: top-N profile O((k + L)·dx + k·L) for k counts; random baseline
// O(draws · L · dx) at BLAS speed (+ O(draws · min(N, L − N)) bookkeeping).
//
// Invariants: 1 <= N <= L − 1 (at least one non-selected key), else UsageError naming N and L.
// The result of random_subset_distance depends only on the row, N, draws and the Rng state.
//
// Usage:
//   SelectionRow row{alpha, x_window, x_sq_norms, order};      // [L], [L, dx], [L], [L]
//   SelectionWorkspace ws;
//   std::vector<TopNPoint> pts(counts.size());
//   top_n_profile(row, counts, ws, pts);                         // d̃, ᾱ_N, r, N_s per N
//   RandomBaseline rb = random_subset_distance(row, 5, 200, true, rng, ws);
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attnlab/core/rng.hpp"
#include "attnlab/core/tensor.hpp"

namespace attnlab::analysis::selectivity {

enum class DistanceForm { sum, norm };
std::string_view to_string(DistanceForm form);
// "sum" | "norm"; UsageError otherwise.
DistanceForm parse_distance_form(std::string_view name);

// One attention row. Spans and the map must outlive the calls that use them.
struct SelectionRow {
  std::span<const double> weights;     // α [L]
  ConstMatrixMap<double> x;            // [L, dx] token vectors of the row's keys
  std::span<const double> x_sq_norms;  // [L] ‖x_j‖²
  std::span<const Index> order;        // [L] keys by decreasing α (descending_order of scores)

  Index length() const { return static_cast<Index>(weights.size()); }
};

// Scratch buffers, reused across rows and calls of one thread (sized on first use).
struct SelectionWorkspace {
  std::vector<Index> perm;     // [L] permutation buffer of the subset sampler
  std::vector<Index> rank;     // [L] rank of key j in `order`
  std::vector<Index> chosen;   // [block, N'] keys drawn per set of a block
  AlignedVector<double> a2n;   // [L] α_j² ‖x_j‖² (64-byte aligned: Eigen peels by address)
  AlignedVector<double> dist;  // [L] expanded distances of one set
  MatrixD sets;                // [block, dx] contexts s of a block of sets
  MatrixD weights_block;       // [block, L] α on the selected keys (dense mode), else 0
  MatrixD products;            // [block, L] P = S Xᵀ
  VectorD output;              // [dx] o = Σ_j α_j x_j
  VectorD tmp;                 // [dx]
};

// What the top-N set of a row measures for one N.
struct TopNPoint {
  Index count = 0;             // N
  double mass = 0.0;           // ᾱ_N = Σ_{i∈I_N} α_i
  double distance_sum = 0.0;   // sum form of d̃
  double distance_norm = 0.0;  // norm form of d̃
  double radius = 0.0;         // r = min_{j∉I_N} ‖s − α_j x_j‖
  Index separable = 0;         // N_s
};

// Top-N quantities for every N in `counts` (any order, each in [1, L − 1]); out[i] is counts[i].
void top_n_profile(const SelectionRow& row, std::span<const Index> counts, SelectionWorkspace& ws,
                   std::span<TopNPoint> out);

struct RandomBaseline {
  double distance_sum = 0.0;   // mean over draws of the sum form (0 when not requested)
  double distance_norm = 0.0;  // mean over draws of the norm form
  Index draws = 0;
};

// Monte Carlo mean of d̃ over `draws` uniformly random N-subsets (draws >= 1). With
// need_sum = false only the norm form is computed (O(draws · N · dx)).
RandomBaseline random_subset_distance(const SelectionRow& row, Index count, Index draws,
                                      bool need_sum, Rng& rng, SelectionWorkspace& ws);

// The same for several N at once: counts[c] uses rngs[c] (its own stream) and writes out[c], with
// exactly the draws random_subset_distance would make for it; the GEMMs of all counts share
// blocks of up to 64 sets (small N with few draws would otherwise make tiny GEMMs).
void random_subset_distances(const SelectionRow& row, std::span<const Index> counts, Index draws,
                             bool need_sum, std::span<Rng> rngs, SelectionWorkspace& ws,
                             std::span<RandomBaseline> out);

// Brute-force references (direct dx-dimensional norms, no expansion), for tests.
double subset_distance_reference(const SelectionRow& row, std::span<const Index> subset,
                                 DistanceForm form);
// r and N_s of an explicit selected set, by definition.
TopNPoint subset_separability_reference(const SelectionRow& row, std::span<const Index> subset);

}  // namespace attnlab::analysis::selectivity
