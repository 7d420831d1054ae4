// attnlab/analysis/speed/fma_peak.cpp — FMA-throughput microbenchmark (see fma_peak.hpp).
#include "attnlab/analysis/speed/fma_peak.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "attnlab/attention/simd.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/timer.hpp"

namespace attnlab::analysis {
namespace {

#if defined(__AVX512F__)
using Best = attention::simd::Avx512;
#elif defined(__AVX2__) && defined(__FMA__)
using Best = attention::simd::Avx2;
#else
using Best = attention::simd::Scalar;
#endif

// Independent chains: enough to cover FMA latency × ports (4 cycles × 2 on current x86 = 8),
// and few enough to stay in registers with the two constants: 16 of the 32 AVX-512 registers;
// 12 of the 16 AVX2/SSE ones (16 chains there spill, which halved the measured peak on Zen 3).
constexpr int kChains = Best::kLanes == 16 ? 16 : 12;

// kChains independent chains x <- x*a + b, `iterations` steps each; returns the sum of all lanes.
template <class S>
double run_chains(long long iterations) {
  using V = typename S::V;
  const V a = S::set1(1.0f - 8.0f * 1.1920929e-7f), b = S::set1(1e-6f);
  V x[kChains];
  // Starts 1 + 0.02c: chains from c = 6 on start > 1.11, where one step x·a + b − x exceeds half
  // an ulp, so the values move from the first step (a test checks the work is not folded away).
  for (int c = 0; c < kChains; ++c) x[c] = S::set1(1.0f + 0.02f * static_cast<float>(c));
  for (long long i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) x[c] = S::fma(x[c], a, b);
  }
  double sum = 0;
  float lanes[S::kLanes];
  for (int c = 0; c < kChains; ++c) {
    S::store(lanes, x[c]);
    for (float v : lanes) sum += static_cast<double>(v);
  }
  return sum;
}

// Wall seconds of one parallel run of `iterations` steps per thread; `sink` keeps the results.
double timed_run(int threads, long long iterations, std::vector<double>& sink) {
  Timer t;
#pragma omp parallel num_threads(threads)
  { sink[static_cast<std::size_t>(omp_get_thread_num())] = run_chains<Best>(iterations); }
  return t.seconds();
}

}  // namespace

double fma_chains_checksum(long long iterations) {
  return run_chains<Best>(iterations);
}

FmaPeak measure_fma_peak(int threads, int repeats, double target_seconds) {
  if (threads < 1) throw UsageError(str_cat("fma peak: threads must be >= 1, got ", threads));
  if (repeats < 1) throw UsageError(str_cat("fma peak: repeats must be >= 1, got ", repeats));
  if (!(target_seconds > 0) || target_seconds > 10)
    throw UsageError(str_cat("fma peak: target seconds must be in (0, 10], got ", target_seconds));
  std::vector<double> sink(static_cast<std::size_t>(threads));
  // Calibrate: grow the iteration count until one run takes >= 1/4 of the target.
  long long iterations = 1 << 16;
  double s = timed_run(threads, iterations, sink);
  while (s < 0.25 * target_seconds && iterations < (1LL << 40)) {
    iterations *= 4;
    s = timed_run(threads, iterations, sink);
  }
  iterations = std::max<long long>(
      1, static_cast<long long>(static_cast<double>(iterations) * target_seconds / s));
  const double flop =
      2.0 * Best::kLanes * kChains * static_cast<double>(iterations) * static_cast<double>(threads);
  std::vector<double> rates, secs;
  for (int r = 0; r < repeats; ++r) {
    const double t = timed_run(threads, iterations, sink);
    secs.push_back(t);
    rates.push_back(flop / t / 1e9);
  }
  for (double v : sink)
    if (!std::isfinite(v)) throw Error("fma peak: the FMA chains produced a non-finite value");
  std::sort(rates.begin(), rates.end());
  std::sort(secs.begin(), secs.end());
  const std::size_t n = rates.size();
  FmaPeak p;
  p.best_gflops = rates.back();
  p.median_gflops = n % 2 ? rates[n / 2] : 0.5 * (rates[n / 2 - 1] + rates[n / 2]);
  p.threads = threads;
  p.lanes = Best::kLanes;
  p.chains = kChains;
  p.isa = Best::kName;
  p.seconds_per_run = secs[n / 2];
  return p;
}

std::string share_of_ceiling(double rate, double ceiling) {
  if (!(std::isfinite(rate) && rate > 0 && std::isfinite(ceiling) && ceiling > 0)) return "-";
  if (rate > ceiling) return "above";
  return str_cat(static_cast<long long>(std::lround(100.0 * rate / ceiling)), "%");
}

}  // namespace attnlab::analysis
