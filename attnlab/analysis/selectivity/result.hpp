// attnlab/analysis/selectivity/result.hpp — options and result of the selectivity study, and
// their JSON form (what `attnlab selectivity --json` writes and the report section reads).
//
// Every number the report shows is in SelectivityResult; the report never recomputes. Per-head
// quantities are vectors indexed by head ([H], in the source's head order): a head's value is the
// mean over its rows (queries) at that sweep point, as in the paper's per-head aggregation.
// Non-finite values (e.g. a slope that cannot be fitted) are written as JSON null and read back
// as NaN; a critical N that was not reached is -1 in C++ and null in JSON.
//
// JSON layout (schema "attnlab.selectivity", version 1):
//   { "schema", "version", "options": {...}, "source": {...}, "temperature": T,
//     "normalizers": [ { "name", "summary": {...}, "length_sweep": [point...],
//                        "count_sweep": [point...], "critical": [...], "separability": [...],
//                        "sensitivity": [...], "band": [...] } ],
//     "spread_sweep": [...], "timings_s": {...}, "seconds": s }
//
// Usage:
//   nlohmann::json j = to_json(result);
//   SelectivityResult back = selectivity_from_json(j);   // FormatError on a malformed document
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/analysis/selectivity/selection_distance.hpp"
#include "attnlab/attention/spec.hpp"
#include "attnlab/core/tensor.hpp"

namespace attnlab::analysis::selectivity {

inline constexpr int kSelectivitySchemaVersion = 1;
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// What one KS sample element is: one value per head (mean over its rows; the paper's Algorithm 3)
// or one value per row (query).
enum class KsUnit { head, query };
std::string_view to_string(KsUnit unit);
KsUnit parse_ks_unit(std::string_view name);  // "head" | "query"; UsageError otherwise

struct SelectivityOptions {
  std::vector<attention::Normalizer> normalizers{
      attention::Normalizer::softmax, attention::Normalizer::sparsemax,
      attention::Normalizer::entmax15, attention::Normalizer::ssmax};
  double temperature = 0.0;               // T of ℓ = q·k / T; 0 selects √dk
  double ssmax_s = 1.0;                   // s of scalable-softmax (ℓ × s·log L)
  DistanceForm form = DistanceForm::sum;  // the d̃ used by the critical-N test

  std::vector<Index> lengths{32, 64, 128, 256, 512, 1024};  // L sweep (distance, band)
  Index length_sweep_count = 5;                             // N of the L sweep
  std::vector<Index> counts{1, 5, 10, 20, 50, 100};         // N sweep at the reference length
  Index reference_length = 0;  // L of the N, separability and sensitivity sweeps; 0 = max length
  std::vector<Index> separability_counts{1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128};
  std::vector<Index> critical_lengths;  // empty = `lengths`
  // N scanned for the critical N at length L: the values below L − 1, then L − 1 itself.
  std::vector<Index> critical_grid{1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768};
  bool critical_refine = true;  // bisect (to ~5% of N) between the last rejecting and first
                                // accepting grid N
  double ks_level = 0.05;
  KsUnit ks_unit = KsUnit::head;
  Index draws = 200;              // random subsets per row for the distance sweeps
  Index ks_draws = 8;             // random subsets per row for the critical-N scan (a head averages
                                  // max_queries · ks_draws of them)
  Index max_queries = 8;          // rows per head and length (evenly spaced eligible queries)
  Index sensitivity_queries = 4;  // rows per head for the sensitivity sweep
  std::vector<double> temperatures;  // sensitivity T grid; empty = 13 points log-spaced 1e-3..10
  std::vector<double> fd_eps{1e-3, 1e-1, 10.0};

  bool sweep_length = true, sweep_count = true, sweep_critical = true, sweep_separability = true,
       sweep_sensitivity = true;
  std::uint64_t seed = 0;
  bool progress = false;  // draw a progress bar on stderr (when it is a terminal)

  // The sizes `attnlab report --quick` uses (lengths up to 256, fewer rows and draws).
  static SelectivityOptions quick();
  // 13 temperatures log-spaced from 1e-3 to 10 (3 per decade).
  static std::vector<double> default_temperatures();

  nlohmann::json to_json() const;
  static SelectivityOptions from_json(const nlohmann::json& j);
};

struct DistancePoint {
  Index length = 0, count = 0;                    // L, N
  Index rows = 0;                                 // rows measured over all heads
  std::vector<double> top_sum, random_sum;        // [H] d̃ sum form: top-N, random-subset mean
  std::vector<double> top_norm, random_norm;      // [H] d̃ norm form
  std::vector<double> mass;                       // [H] ᾱ_N
  std::vector<double> max_weight;                 // [H] max α
  std::vector<double> separable;                  // [H] N_s / N
  double ks_statistic = kNaN, ks_p_value = kNaN;  // top vs random (study form, head means)
};

struct KsPoint {
  Index count = 0;  // N
  double statistic = kNaN, p_value = kNaN;
  Index n = 0, m = 0;
};

struct CriticalPoint {
  Index length = 0;
  Index critical = -1;  // smallest N accepted (p >= level); -1 = not even N = L − 1
  Index bracket_low = 0, bracket_high = 0;  // last rejecting N and the critical N (grid bracket)
  std::vector<KsPoint> scan;                // every grid N < L
  std::vector<KsPoint> refine;              // bisection steps inside the bracket
};

struct SeparabilityPoint {
  Index count = 0;
  std::vector<double> ratio;   // [H] N_s / N
  std::vector<double> radius;  // [H] r
};

// One sensitivity metric over rows: mean over all rows, max over heads of the head means (the
// paper's Fig. 4 statistic) and max over rows.
struct Aggregate {
  double mean = kNaN, max_head = kNaN, max_row = kNaN;
};

struct FdPoint {
  double eps = 0.0;
  Aggregate random;    // forward difference along a random unit direction (paper, Alg. 5)
  Aggregate top;       // central difference along J's top eigenvector (→ ‖J‖₂)
  Aggregate entry;     // central differences of the two top columns (→ max |J_ij|)
  Aggregate tied_top;  // central difference along the top eigenvector of the tied rows
};

struct SensitivityPoint {
  double temperature = 0.0;
  double scale = 0.0;           // c = ∂ℓ/∂z at the reference length
  double bound_spectral = 0.0;  // softmax 1/(2T); ssmax c/2; sparsemax, entmax15 c
  double bound_entry = 0.0;     // softmax 1/(4T); ssmax c/4; sparsemax, entmax15 c
  Index rows = 0;
  Aggregate spectral, entry;            // ‖J‖₂, max |J_ij| on the rows as they are
  Aggregate tied_spectral, tied_entry;  // same with the second score raised to tie the first
  std::vector<FdPoint> fd;              // one per ε
};

struct BandPoint {
  Index length = 0, rows = 0;
  double inside_share = kNaN;    // rows inside e^(∓2cΔ)/L
  double upper_use_mean = kNaN;  // mean log(L·max α)/(2cΔ)
  double upper_use_max = kNaN;
  double lower_use_mean = kNaN;  // mean −log(L·min α)/(2cΔ) over rows without exact zeros
  double zero_share = kNaN;      // rows with an exact zero weight
  double exponent_mean = kNaN;   // mean 2cΔ
  double max_weight_times_length = kNaN;  // mean L·max α
};

struct NormalizerSummary {
  double critical_ratio = kNaN;  // least-squares slope of critical N vs L (through 0), found L
  Index critical_found = 0, critical_tested = 0;
  double ns_plateau = kNaN;  // mean N_s/N over heads and over N >= 16
  double ns_minimum = kNaN;  // minimum over N of the head-mean N_s/N
  Index ns_minimum_count = 0;
  double distance_slope = kNaN;    // log-log slope of mean top-N d̃ (study form) vs L
  double random_slope = kNaN;      // same for the random baseline
  double max_weight_slope = kNaN;  // log-log slope of mean max α vs L (−1: vanishes as 1/L)
  double spectral_slope_small_t = kNaN;  // log-log slope of max-over-heads ‖J‖₂, T <= 0.1
  double spectral_slope_large_t = kNaN;  // same, T >= 1
  double tied_slope_small_t = kNaN;      // tied rows, T <= 0.1
  double fd_slope_small_t = kNaN;        // paper's FD (smallest ε, max over heads), T <= 0.1
  double tied_spectral_times_t = kNaN;   // T·‖J‖₂ of the tied rows at the smallest T
  double band_inside_share = kNaN;       // rows inside the Lemma 1 band, all lengths
};

struct NormalizerResult {
  std::string name;
  NormalizerSummary summary;
  std::vector<DistancePoint> length_sweep;  // N = length_sweep_count, L = lengths
  std::vector<DistancePoint> count_sweep;   // L = reference length, N = counts
  std::vector<CriticalPoint> critical;
  std::vector<SeparabilityPoint> separability;
  std::vector<SensitivityPoint> sensitivity;
  std::vector<BandPoint> band;
};

// Critical N of a synthetic population as its heterogeneity grows (run_spread_sweep).
struct SpreadPoint {
  double spread = 0.0;  // σ_gain = σ_value
  Index length = 0;
  std::vector<std::string> normalizers;
  std::vector<Index> critical;  // [normalizers], -1 = not reached
};

struct SelectivityResult {
  SelectivityOptions options;
  nlohmann::json source;     // SelectivitySource::describe_json() (+ "synthetic" options)
  double temperature = 0.0;  // T actually used
  Index reference_length = 0;
  std::vector<NormalizerResult> normalizers;
  std::vector<SpreadPoint> spread_sweep;
  std::map<std::string, double> timings;  // seconds per phase
  double seconds = 0.0;

  const NormalizerResult* find(const std::string& name) const;
};

nlohmann::json to_json(const SelectivityResult& result);

// The result as CSV tables (file name, text), one per sweep, long format with a header row:
//   length_sweep.csv, count_sweep.csv   normalizer,L,N,head,top_sum,random_sum,top_norm,
//                                       random_norm,mass,max_weight,separable
//   critical.csv                        normalizer,L,N,phase(scan|refine),D,p,n,m,critical_N
//   separability.csv                    normalizer,N,head,ratio,radius
//   sensitivity.csv                     normalizer,T,metric,eps,mean,max_head,max_row,bound
//   band.csv                            normalizer,L,rows,inside_share,upper_use_mean,...
// Empty sweeps give a header-only table; NaN is written as an empty field.
std::vector<std::pair<std::string, std::string>> to_csv_tables(const SelectivityResult& result);
// FormatError naming the member when the document does not have the shape to_json writes.
SelectivityResult selectivity_from_json(const nlohmann::json& j);

}  // namespace attnlab::analysis::selectivity
