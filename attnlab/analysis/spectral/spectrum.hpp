// attnlab/analysis/spectral/spectrum.hpp — the Gram spectrum and spectral-amplification STUDY
// (`attnlab spectrum`, SCIENCE.md §1).
//
// For each class set and subset size n: X [n, D] = unit rows of a class-balanced seeded subset,
// G = X Xᵀ, C = XᵀX, attention features F = X C (F Fᵀ = G³) and their unit-row version F̃. One
// table row reports, all eigenvalues from LAPACK dsyevd in fp64:
//   rank          numerical rank of G (tolerance max(n, D)·ε·λ_max)
//   κ(G)          λ_max/λ_min, or κ_D = λ_1/λ_D when n > D (G has rank ≤ D; equals κ(C),
//                 cross-checked as kappa_c)
//   κ(G³)         from the eigenvalues of G³ formed by two GEMMs — computed directly, not by
//                 cubing; κ_D when n > D
//   κ(G)³, ratio  κ(G³)/κ(G)³ (1 in exact arithmetic; its distance from 1 is rounding in G³)
//   κ(F̃F̃ᵀ)       the Gram of the normalized attention features (κ_D when n > D)
//   κ(Θ∞)         the ReLU NTK (arc-cosine) on raw unit rows and on F̃, and their ratio — the
//                 convergence-relevant amplification, measured rather than assumed to be κ⁶
//   widths        κ(G)⁶ (paper v1) and κ(G)⁶·n·ln n (paper v2), and the matrix-Bernstein width
//                 from the measured Θ∞ spectra (analysis/ntk/kernel_metrics.hpp). When κ_D is
//                 beyond fp64 (e.g. a pixel that is 0 in every sampled image makes λ_D = 0), the
//                 widths use κ_r = λ_1/λ_r over the numerical rank r, and say so (width_basis).
// Every κ carries `resolved` (λ_min above the rounding floor and κ ≤ 1e15) and its a-priori
// relative accuracy max(n, D)·ε·κ; unresolved values are flagged, never shown as measurements.
//
// Uses the analysis/ntk kernel LIBRARY (analytic Θ∞, Bernstein width), not the ntk study.
//
// Usage:
//   SpectrumOptions o;  o.sizes = {100, 500};  o.class_sets = {{}, {0, 6}};
//   SpectrumResult r = run_spectrum_study(base_data_options, o);
//   SpectrumRow one = spectrum_row(io::normalize_rows(x), 0.05);   // any unit-row matrix
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/core/linalg.hpp"
#include "attnlab/core/tensor.hpp"
#include "attnlab/io/dataset.hpp"

namespace attnlab {
class Progress;
}

namespace attnlab::analysis::spectral {

struct SpectrumOptions {
  std::vector<Index> sizes = {100, 200, 500, 1000, 2000};
  std::vector<std::vector<int>> class_sets = {{}, {0, 6}};  // {} = every class of the data
  double bernstein_delta = 0.05;
};

struct SpectrumRow {
  std::string class_set;     // "all" or "0,6"
  std::vector<int> classes;  // empty = all
  Index n = 0, dim = 0;
  SpectrumSummary gram;        // G (k = min(n, D))
  SpectrumSummary gram_cubed;  // G³, formed explicitly
  SpectrumSummary features;    // F̃ F̃ᵀ
  SpectrumSummary ntk_raw;     // Θ∞ on X
  SpectrumSummary ntk_attn;    // Θ∞ on F̃
  double kappa_c = 0;          // κ(C) = λ_max(C)/λ_min(C), C [D, D] (NaN when D > 4096)
  bool kappa_c_resolved = false;
  double kappa_g = 0;  // κ(G), or κ_D when n > D
  bool kappa_g_resolved = false;
  double kappa_g_rank = 0;        // κ_r = λ_1/λ_r over the numerical rank r of G
  double kappa_g_rank_error = 0;  // its a-priori relative accuracy
  double kappa_g3 = 0;            // κ(G³) direct (κ_D when n > D)
  bool kappa_g3_resolved = false;
  double kappa_g_cubed = 0;   // kappa_g³
  double cube_ratio = 0;      // kappa_g3 / kappa_g_cubed
  double kappa_features = 0;  // κ(F̃F̃ᵀ) (κ_D when n > D)
  bool kappa_features_resolved = false;
  double ntk_ratio = 0;           // κ(Θ∞ attn) / κ(Θ∞ raw)
  std::string width_basis;        // "κ", "κ_D", "κ_r" (the κ the widths use) or "none"
  double width_kappa = 0;         // that κ: kappa_g if resolved, else κ_r if accurate
  double width_kappa6 = 0;        // width_kappa⁶ (NaN when width_basis is "none")
  double width_kappa6_nlogn = 0;  // width_kappa⁶ · n ln n
  double bernstein_raw = 0, bernstein_attn = 0;
  double seconds = 0;
};

struct SpectrumResult {
  SpectrumOptions options;
  std::string source;
  Index dim = 0;
  std::uint64_t seed = 0;
  std::vector<SpectrumRow> rows;
  double seconds = 0;
};

// One row for unit rows x [n, D] (the class set fields are left for the caller).
SpectrumRow spectrum_row(const MatrixD& x_unit, double bernstein_delta);

// Loads each (class set, n) subset with `base` (seed, data dir or user --x/--y) and computes
// its row. UsageError for empty sizes/sets or n < 2; InputError from the loader.
SpectrumResult run_spectrum_study(const io::DataOptions& base, const SpectrumOptions& options,
                                  Progress* progress = nullptr);
// Σ n³ over the table: work units for a Progress bar.
std::int64_t spectrum_work_units(const SpectrumOptions& options);
// Estimated peak bytes of the largest size: 8·7·n² (G, G³, F̃F̃ᵀ, both Θ∞ and the eigensolver's
// copy) + 8·3·n·D. Calibrated against peak RSS on Fashion-MNIST (n 2000–4000: within +5%).
double spectrum_memory_bytes(const SpectrumOptions& options, Index dim);

nlohmann::json to_json(const SpectrumResult& result);
// One row as it appears in to_json(SpectrumResult)'s "rows".
nlohmann::json to_json(const SpectrumRow& row);
// FormatError when the JSON does not have the shape to_json writes.
SpectrumResult spectrum_from_json(const nlohmann::json& j);

std::string class_set_label(const std::vector<int>& classes);

// Draws many class-balanced subsets from one data source, reading Fashion-MNIST once (the
// draws equal io::load_study_data's for the same options). User NPY data goes through
// io::load_study_data on every draw.
class SubsetSource {
 public:
  explicit SubsetSource(const io::DataOptions& base);
  // Rows [n, D] (raw, not normalized) of `classes` ({} = all), seeded by base.seed.
  io::StudyData draw(const std::vector<int>& classes, Index n) const;

 private:
  io::DataOptions base_;
  io::ImageSet images_;  // Fashion-MNIST split (empty for user data)
};

}  // namespace attnlab::analysis::spectral
