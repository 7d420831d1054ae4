// attnlab/attention/row_diagnostics.hpp — per-row statistics of an attention map.
//
// For every (head h, query i) row of weights α_i· over the n_i visible keys:
//   entropy         H = −Σ α log α (nats)
//   norm_entropy    H / log n_i  in [0, 1]; NaN when n_i < 2 (spread is undefined)
//   sink_mass       α on key 0 (0 when key 0 is not visible)
//   max_weight      max_j α_ij
//   below_1pct_max  share of visible entries with α < 0.01 · max α          ("sparsity")
//   wasted_share    share of visible entries with α < 0.01                  (work spent on
//   wasted_mass     total α carried by those entries                          entries that each
//                                                                             carry < 1% of mass)
//   top8_mass       Σ of the 8 largest α
//   visible         n_i
// Softmax rows only (weights > 0 on every visible key). The fused kernel streams all of these in
// its single pass without storing the row (fused_attention.hpp); compute_row_diagnostics is the
// fp64 oracle over a materialized row.
//
// Usage:
//   RowDiagnostics diag(H, N);
//   fill_row_diagnostics_reference(fwd, spec, diag);   // from attention_forward_reference
//   double h = diag.entropy(h, i);
#pragma once

#include <span>
#include <vector>

#include "attnlab/attention/reference_attention.hpp"
#include "attnlab/core/tensor.hpp"

namespace attnlab::attention {

struct RowStats {
  double entropy = 0, norm_entropy = 0, sink_mass = 0, max_weight = 0, below_1pct_max = 0,
         wasted_share = 0, wasted_mass = 0, top8_mass = 0;
  Index visible = 0;
};

// Per-row statistics for H × N rows, stored as [H, N] matrices.
struct RowDiagnostics {
  RowDiagnostics() = default;
  RowDiagnostics(Index H, Index N);
  MatrixD entropy, norm_entropy, sink_mass, max_weight, below_1pct_max, wasted_share, wasted_mass,
      top8_mass;          // each [H, N]
  Matrix<Index> visible;  // [H, N]
  void set(Index h, Index i, const RowStats& s);
  RowStats get(Index h, Index i) const;
  Index heads() const { return entropy.rows(); }
  Index rows() const { return entropy.cols(); }
};

// Statistics of one row of weights α [M] whose visible keys are those with finite logits.
RowStats compute_row_stats(std::span<const double> weights, std::span<const double> logits);

// The oracle: row statistics from a reference forward (softmax-family specs).
RowDiagnostics row_diagnostics_reference(const ReferenceForward& fwd);

}  // namespace attnlab::attention
