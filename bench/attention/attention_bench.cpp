// bench/attention/attention_bench.cpp — Google Benchmark of the fused attention kernel, with the
// PyTorch peers (torch 2 flash SDPA, torch composite) and the ceilings (FMA peak, OpenBLAS sgemm)
// measured in the same run.
//
// Benchmarks: fused forward and forward+backward over N ∈ {512 … 16384}, d ∈ {64, 128}, H = 8,
// causal and not (counter GFLOP/s, FlashAttention FLOP convention), sgemm 2048³, and the memory
// probe at N = 65536 (counter extra_MiB = peak RSS beyond q, k, v, out). After the benchmarks the
// program measures the FMA peak (analysis/speed/fma_peak.hpp), runs bench/attention/peer_torch.py
// (embedded) for each peer on the same shapes and prints one table
// with the ratios (attnlab/analysis/speed). Extra flags: --no-peer, --max-length=N.
//
// Usage: build/release/bench/attention_bench [--no-peer] [--max-length=4096] [gbench flags]
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "attnlab/analysis/speed/attention_speed.hpp"
#include "attnlab/analysis/speed/fma_peak.hpp"
#include "attnlab/attention/fused_attention.hpp"
#include "attnlab/core/blas.hpp"
#include "attnlab/core/blas_core.hpp"
#include "attnlab/core/memory.hpp"
#include "attnlab/core/result_json.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/core/threads.hpp"

namespace {

using namespace attnlab;

Tensor3f random_tensor(Index a, Index b, Index c, std::uint64_t seed) {
  Tensor3f t(a, b, c);
  Rng rng(seed);
  rng.fill_normal(t.data(), t.size());
  return t;
}

void bm_attention(benchmark::State& state) {
  const analysis::SpeedCase c{8, state.range(0), state.range(1), state.range(2) != 0,
                              state.range(3) != 0};
  const Tensor3f q = random_tensor(c.heads, c.length, c.dim, 1);
  const Tensor3f k = random_tensor(c.heads, c.length, c.dim, 2);
  const Tensor3f v = random_tensor(c.heads, c.length, c.dim, 3);
  const Tensor3f dout = random_tensor(c.heads, c.length, c.dim, 4);
  attention::AttentionSpec spec;
  spec.causal = c.causal;
  for (auto _ : state) {
    auto f = attention::attention_forward_fused(q, k, v, spec);
    if (c.backward) {
      auto g = attention::attention_backward_fused(q, k, v, spec, f.out, f.lse, dout);
      benchmark::DoNotOptimize(g.dq.data());
    }
    benchmark::DoNotOptimize(f.out.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(analysis::speed_case_gflop(c) * 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void bm_sgemm(benchmark::State& state) {
  const Index n = state.range(0);
  AlignedVector<float> a(static_cast<std::size_t>(n * n), 0.5f), b(a.size(), 0.25f), c(a.size());
  for (auto _ : state) {
    gemm(Trans::no, Trans::no, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate);
}

void bm_memory_probe(benchmark::State& state) {
  const Index n = state.range(0);
  const Tensor3f q = random_tensor(1, n, 64, 1), k = random_tensor(1, n, 64, 2),
                 v = random_tensor(1, n, 64, 3);
  double extra = std::nan("");
  for (auto _ : state) {
    release_free_memory();
    const auto before = current_rss_bytes();
    const bool peak = reset_peak_rss();
    auto f = attention::attention_forward_fused(q, k, v, attention::AttentionSpec{});
    if (peak)
      extra = static_cast<double>(peak_rss_bytes() - before) / (1 << 20) -
              static_cast<double>(n * 64 * 4) / (1 << 20);  // minus out
    benchmark::DoNotOptimize(f.out.data());
  }
  state.counters["io_MiB"] = static_cast<double>(4 * n * 64 * 4) / (1 << 20);
  state.counters["extra_MiB"] = extra;
}

// Captures every run so the table can be printed after the console report.
class CapturingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      captured[r.run_name.function_name + "/" + r.run_name.args] = r;
    }
  }
  std::map<std::string, Run> captured;
};

}  // namespace

int main(int argc, char** argv) {
  attnlab::reexec_with_best_blas_core(argv);  // see core/blas_core.hpp
  bool run_peer = true;
  long max_length = 16384;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-peer") == 0)
      run_peer = false;
    else if (std::strncmp(argv[i], "--max-length=", 13) == 0)
      max_length = std::atol(argv[i] + 13);
    else
      args.push_back(argv[i]);
  }
  int nargs = static_cast<int>(args.size());
  attnlab::set_num_threads(0);
  benchmark::Initialize(&nargs, args.data());

  std::vector<analysis::SpeedCase> cases;
  for (long d : {64, 128})
    for (long n = 512; n <= max_length; n *= 2)
      for (int causal : {0, 1})
        for (int bwd : {0, 1}) {
          auto* b = benchmark::RegisterBenchmark("attention", bm_attention)
                        ->Args({n, d, causal, bwd})
                        ->ArgNames({"N", "d", "causal", "bwd"})
                        ->UseRealTime()
                        ->Unit(benchmark::kMillisecond);
          if (n >= 4096)
            b->Iterations(1)->Repetitions(3)->ReportAggregatesOnly(true);
          else
            b->MinTime(0.3);
          cases.push_back({8, n, d, causal != 0, bwd != 0});
        }
  benchmark::RegisterBenchmark("sgemm", bm_sgemm)
      ->Arg(2048)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("memory_probe", bm_memory_probe)
      ->Arg(65536)
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);

  CapturingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  analysis::SpeedResult res;
  res.machine = cpu_model() + ", " + std::to_string(hardware_threads()) + " hardware threads";
  res.threads = num_threads();
  res.simd = attention::to_string(attention::best_simd_level());
  for (const auto& [name, run] : reporter.captured) {
    if (name.rfind("sgemm", 0) == 0) res.sgemm_gflops = run.counters.at("GFLOP/s") / 1e9;
    if (name.rfind("memory_probe", 0) == 0) {
      res.probe_length = 65536;
      res.probe_io_mib = run.counters.at("io_MiB");
      res.probe_extra_mib = run.counters.at("extra_MiB");
      res.probe_ms = run.GetAdjustedRealTime();
    }
  }
  const analysis::FmaPeak peak = analysis::measure_fma_peak(num_threads(), 5);
  res.fma_peak_gflops = peak.best_gflops;
  res.fma_peak_median_gflops = peak.median_gflops;
  res.fma_peak_isa = peak.isa;
  res.blas_core = current_blas_core().detected;
  for (const auto& c : cases) {
    const std::string key = "attention/N:" + std::to_string(c.length) +
                            "/d:" + std::to_string(c.dim) + "/causal:" + std::to_string(c.causal) +
                            "/bwd:" + std::to_string(c.backward);
    const auto it = reporter.captured.find(key);
    if (it == reporter.captured.end()) continue;  // filtered out on the command line
    analysis::SpeedRow row;
    row.c = c;
    row.gflop = analysis::speed_case_gflop(c);
    row.attnlab_ms = it->second.GetAdjustedRealTime();
    row.attnlab_gflops = it->second.counters.at("GFLOP/s") / 1e9;
    row.attnlab_extra_mib = std::nan("");
    res.rows.push_back(row);
  }
  analysis::SpeedOptions o;
  if (run_peer && !res.rows.empty()) analysis::attach_attention_peers(res, o);
  std::printf("\n");
  analysis::print_speed_table(res, stdout);
  return 0;
}
