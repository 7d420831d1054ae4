// attnlab/analysis/speed/attention_speed.hpp — fused attention speed and memory vs a named peer.
//
// Measures, in one run on this machine: the fused fp32 kernel (forward, and forward + backward)
// over a grid of shapes, two ceilings — the machine's FMA peak (fma_peak.hpp, the hardware
// bound) and OpenBLAS sgemm 2048³ on the detected core (core/blas_core.hpp, the practical one) —
// and the PyTorch peers on the same shapes and thread count, each by running the peer script
// bench/attention/peer_torch.py (embedded into the binary) under its own Python:
//   "sdpa_flash"  torch 2.x scaled_dot_product_attention, flash backend forced, 4-D tensors
//                 (torch 2.13 in the project's .venv, scripts/bootstrap.sh --bench)
//   "composite"   softmax(QKᵀ/√d)V as four ops (Debian's python3-torch 1.13, /usr/bin/python3)
// Shares of a ceiling are never printed above 100 %: a rate above a ceiling prints "above"
// (share_of_ceiling), since it means the ceiling was under-measured.
//
// Conventions (FlashAttention benchmarks): forward FLOPs = 4·H·N·M·d, halved when causal;
// forward + backward = 3.5 × forward. Times are medians over `repeats` runs after one warm-up.
// extra memory = peak RSS during one call − RSS before it − bytes of the call's outputs, read
// from /proc (core/memory.hpp); NaN when the kernel forbids resetting the peak.
//
// Usage:
//   SpeedOptions o;  o.lengths = {1024, 4096};  SpeedResult r = run_attention_speed(o);
//   print_speed_table(r, stdout);   nlohmann::json j = to_json(r);
#pragma once

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::analysis {

struct SpeedCase {
  Index heads = 8, length = 1024, dim = 64;
  bool causal = false;
  bool backward = false;  // forward + backward
};

// One peer's measurement of one case.
struct PeerTiming {
  std::string status = "not run";  // "ok", "skipped", "unavailable", "not run"
  std::string note;
  double ms = 0, gflops = 0, extra_mib = 0;  // NaN unless status == "ok"
};

struct SpeedRow {
  SpeedCase c;
  double gflop = 0;  // work of one call (FA convention)
  double attnlab_ms = 0, attnlab_gflops = 0, attnlab_extra_mib = 0;
  std::vector<PeerTiming> peers;  // parallel to SpeedResult::peers
};

// A PyTorch peer: which method of peer_torch.py, under which Python.
struct PeerSpec {
  std::string method;  // "sdpa_flash" or "composite"
  std::string python;  // interpreter path (PATH lookup when it has no '/')
};

// Default peers: torch 2.13 flash SDPA in .venv (relative to the working directory, where
// `make bench` runs), then Debian's torch 1.13 composite.
std::vector<PeerSpec> default_attention_peers();

// What one peer turned out to be in this run.
struct PeerInfo {
  PeerSpec spec;
  std::string name;  // e.g. "PyTorch 2.13.0 SDPA flash", or why there is none
  bool available = false;
};

struct SpeedOptions {
  std::vector<Index> lengths = {512, 1024, 2048, 4096, 8192, 16384};
  std::vector<Index> dims = {64, 128};
  Index heads = 8;
  std::vector<bool> causal = {false, true};
  bool forward = true;
  bool backward = true;
  Index backward_max_length = 0;  // forward + backward only for N <= this (0 = every N)
  int repeats = 3;
  bool run_peer = true;
  std::vector<PeerSpec> peers = default_attention_peers();
  double peer_memory_limit_gb = 8.0;
  double peer_timeout_s = 1800.0;
  // Memory check at long context: forward at this length (0 = skip), H = 1, d = 64.
  Index memory_probe_length = 65536;
  // Kernel-variant comparison at one shape (H, this N, d = 64, non-causal forward; 0 = skip):
  // register tiles vs one sgemm per tile product, and the cost of streamed diagnostics.
  Index variant_length = 4096;
  // Stride probe (0 = skip): d = 128 non-causal forward and forward + backward at N = this − 96
  // and at N = this. With one [N, d] panel per head, N a multiple of 1024 gave 4 KiB-strided
  // depth steps (aliasing cache sets); the kernels now pack one contiguous panel per key block,
  // and the probe shows whether any cliff between the two lengths is left.
  Index stride_probe_length = 4096;
  std::uint64_t seed = 0;
};

// One kernel variant timed at one shape (H = SpeedOptions::heads, non-causal forward).
struct VariantTiming {
  std::string label;  // e.g. "tiles", "BLAS sgemm per tile", "tiles + diagnostics"
  double ms = 0, gflops = 0;
  Index length = 0, dim = 64;
  bool backward = false;  // forward + backward (else forward only)
};

struct SpeedResult {
  std::string machine;  // CPU model and hardware threads
  int threads = 1;
  std::string simd;                   // ISA of the fused kernel
  double sgemm_gflops = 0;            // OpenBLAS sgemm, 2048³, same thread count
  std::string blas_core;              // OpenBLAS kernel family that ran it (core/blas_core.hpp)
  double fma_peak_gflops = 0;         // FMA microbenchmark, best run (fma_peak.hpp)
  double fma_peak_median_gflops = 0;  // its median run
  std::string fma_peak_isa;
  std::vector<PeerInfo> peers;
  std::vector<SpeedRow> rows;
  // Long-context memory probe (forward, H = 1, d = 64).
  Index probe_length = 0;
  double probe_io_mib = 0;     // q, k, v, out
  double probe_extra_mib = 0;  // peak RSS beyond q, k, v, out and the process before the call
  double probe_ms = 0;
  // Kernel variants at (heads, variant_length, 64), non-causal forward.
  Index variant_length = 0;
  std::vector<VariantTiming> variants;
};

SpeedResult run_attention_speed(const SpeedOptions& options);
// Runs every peer of options.peers for every row of `result`, filling result.peers and each
// row's peers (used by run_attention_speed and by bench/attention/attention_bench.cpp).
void attach_attention_peers(SpeedResult& result, const SpeedOptions& options);
// Fills sgemm_gflops, blas_core and the FMA peak of `result` (measured now, same threads).
void measure_ceilings(SpeedResult& result, int repeats);
// FLOPs of one call in GFLOP (FA convention above).
double speed_case_gflop(const SpeedCase& c);
double measure_sgemm_gflops(Index n, int repeats);

// The comparison table as text (what `attnlab bench attention` and `make bench` print).
void print_speed_table(const SpeedResult& result, std::FILE* out);

nlohmann::json to_json(const SpeedResult& result);
SpeedResult speed_from_json(const nlohmann::json& j);

}  // namespace attnlab::analysis
