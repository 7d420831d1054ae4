// attnlab/analysis/speed/fma_peak.hpp — the machine's fp32 FMA peak, measured, as a true ceiling.
//
// OpenBLAS sgemm is a practical ceiling only when the library runs the right kernel family
// (core/blas_core.hpp); the hardware bound is the fused multiply-add throughput of the cores. This
// microbenchmark measures it: every thread runs `chains` independent FMA dependency chains on full
// vector registers (the widest SIMD policy of attention/simd.hpp this build runs), enough chains to
// cover FMA latency × FMA ports on any current x86 core (latency 4 × 2 ports = 8; 16 are used
// with AVX-512, 12 with AVX2, so that chains and constants stay in registers),
// with values that stay near 1 (x ← x·a + b, a = 1 − 2⁻²³·8, no denormals, nothing folds away: no
// fast-math, so the compiler cannot reassociate the chains).
//
// FLOPs counted: 2 per lane per FMA. GFLOP/s = 2 · lanes · chains · iterations · threads / wall.
// The peak is the best of `repeats` timed runs after a warm-up (a ceiling is the fastest the
// hardware went, not a typical run); the median is kept beside it to show the noise.
//
// Usage:
//   FmaPeak p = measure_fma_peak(num_threads(), 5);
//   p.best_gflops, p.median_gflops, p.isa, p.lanes
//   std::string cell = share_of_ceiling(rate, p.best_gflops);   // "93%" or "above" (never > 100%)
#pragma once

#include <string>

namespace attnlab::analysis {

struct FmaPeak {
  double best_gflops = 0;    // fastest of the timed runs (the ceiling)
  double median_gflops = 0;  // median of the timed runs
  int threads = 1;
  int lanes = 1;               // fp32 lanes per vector register
  int chains = 0;              // independent FMA chains per thread
  std::string isa;             // "avx512", "avx2" or "scalar"
  double seconds_per_run = 0;  // wall time of one timed run
};

// Runs the microbenchmark on `threads` threads (>= 1), `repeats` timed runs (>= 1) of about
// `target_seconds` each. Throws UsageError on out-of-range arguments.
FmaPeak measure_fma_peak(int threads, int repeats, double target_seconds = 0.05);

// The FMA-peak kernel itself for one thread, exposed for tests: runs `iterations` steps of
// `kChains` FMA chains of the best SIMD policy and returns the sum of all lanes (so the work
// cannot be dropped). With a, b as in the header the result is finite and near lanes · chains.
double fma_chains_checksum(long long iterations);

// "NN%" of `rate` against `ceiling`, or "above" when rate > ceiling (a ceiling that a kernel beats
// was under-measured: the table says so instead of printing more than 100 %), or "-" when either
// is not a positive finite number.
std::string share_of_ceiling(double rate, double ceiling);

}  // namespace attnlab::analysis
