// bench/gpt2/gpt2_bench.cpp — GPT-2 124M-shaped inference speed: 1024-token prefill and
// 128-token KV-cache decode, against the machine's memory bandwidth; the PyTorch peer
// (bench/gpt2/peer_torch.py) runs the same forward on the same weights and tokens, and
// bench/gpt2/run.sh prints both in one table.
//
// What is measured (median of --repeats runs, wall clock, --threads threads):
//   load      reading the checkpoint back through the Hugging Face loader (safetensors + config)
//   prefill   forward of 1024 tokens from an empty cache, logits of the last token (what
//             generation needs); tokens/s = 1024 / time
//   score     the same forward with the logits of all 1024 positions (what perplexity needs)
//   decode    128 single-token steps after that prefill (teacher-forced tokens, so both peers do
//             the same work), logits of each step; tokens/s = 128 / time
//   bandwidth a read-only pass over a 1 GiB buffer with the same thread count (GB/s), and the
//             decode bound it implies: every step must read all weights (≈ 498 MB at 124M fp32)
//             plus the KV cache so far.
// Weights are random (GPT-2 initialization, seed 1): speed does not depend on their values.
//
// Outputs in --out DIR: model.safetensors + config.json (the weights, for the peer), tokens.npy
// (int32 [1152]: prefill then decode tokens), logits_last.npy (fp32 [V], prefill's last row),
// attnlab.json (the measurements).
//
// Usage: build/release/bench/gpt2_bench --out /tmp/gpt2-bench [--threads 2] [--repeats 3]
//                                        [--layers 12] [--prefill 1024] [--decode 128]
#include <omp.h>

#include <Eigen/Core>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/blas_core.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/result_json.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/core/threads.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/io/npy.hpp"
#include "attnlab/models/gpt2/model.hpp"
#include "attnlab/models/gpt2/weights.hpp"

namespace {

using namespace attnlab;
using namespace attnlab::models::gpt2;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Read bandwidth: sum a 1 GiB float buffer with the current thread count (vectorized block
// sums, 64 KiB per task), best of 3 passes.
double read_bandwidth_gbs() {
  const std::size_t n = std::size_t{1} << 28;  // 2^28 floats = 1 GiB
  const std::size_t block = std::size_t{1} << 14;
  AlignedVector<float> buf(n);
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) buf[i] = static_cast<float>(i & 7);
  double best = 0;
  volatile double sink = 0;
  for (int pass = 0; pass < 3; ++pass) {
    Timer t;
    double total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total)
    for (std::size_t b = 0; b < n / block; ++b) {
      total +=
          Eigen::Map<const Eigen::ArrayXf>(buf.data() + b * block, static_cast<Index>(block)).sum();
    }
    sink = sink + total;
    best = std::max(best, static_cast<double>(n * sizeof(float)) / t.seconds() / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  attnlab::reexec_with_best_blas_core(argv);  // see core/blas_core.hpp
  std::string out = "gpt2-bench";
  int threads = 2, repeats = 3;
  Index layers = 12, prefill = 1024, decode = 128;
  for (int i = 1; i < argc; ++i) {
    auto value = [&](const char* flag) -> const char* {
      const std::size_t len = std::strlen(flag);
      if (std::strncmp(argv[i], flag, len) == 0 && argv[i][len] == '=') return argv[i] + len + 1;
      if (std::strcmp(argv[i], flag) == 0 && i + 1 < argc) return argv[++i];
      return nullptr;
    };
    if (const char* v = value("--out")) {
      out = v;
    } else if (const char* v = value("--threads")) {
      threads = std::atoi(v);
    } else if (const char* v = value("--repeats")) {
      repeats = std::max(1, std::atoi(v));
    } else if (const char* v = value("--layers")) {
      layers = std::atol(v);
    } else if (const char* v = value("--prefill")) {
      prefill = std::atol(v);
    } else if (const char* v = value("--decode")) {
      decode = std::atol(v);
    } else {
      std::fprintf(stderr,
                   "usage: gpt2_bench --out DIR [--threads 2] [--repeats 3] [--layers 12] "
                   "[--prefill 1024] [--decode 128]\n");
      return 2;
    }
  }
  try {
    set_num_threads(threads);
    // The machine may be shared: record its 1-minute load average with the timings.
    double load_average = -1;
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
      if (std::fscanf(f, "%lf", &load_average) != 1) load_average = -1;
      std::fclose(f);
    }
    Gpt2Config c;  // GPT-2 124M
    c.n_layer = layers;
    c.n_positions = std::max<Index>(1024, prefill + decode);
    if (prefill < 1 || decode < 0 || c.n_positions > 4096) {
      throw UsageError("gpt2_bench: need prefill >= 1, decode >= 0, prefill + decode <= 4096");
    }
    std::filesystem::create_directories(out);
    std::fprintf(stderr, "gpt2_bench: writing %s (%s) ...\n", out.c_str(), c.describe().c_str());
    save_gpt2_hf(random_gpt2_weights(c, 1), out);
    Timer load_timer;
    const Gpt2Model model(load_gpt2_hf(out));
    const double load_s = load_timer.seconds();

    Rng rng(2);
    std::vector<std::int32_t> tokens(static_cast<std::size_t>(prefill + decode));
    for (auto& t : tokens) t = static_cast<std::int32_t>(rng.uniform_int(50257));
    const std::span<const std::int32_t> prompt(tokens.data(), static_cast<std::size_t>(prefill));

    KvCache cache = model.make_cache(prefill + decode);
    ForwardOptions last;
    last.logits = LogitsMode::last;
    ForwardOptions all;
    all.logits = LogitsMode::all;
    std::vector<double> t_prefill, t_score, t_decode;
    MatrixF logits_last;
    std::fprintf(stderr, "gpt2_bench: prefill %lld + decode %lld tokens, %d threads, %d repeats\n",
                 static_cast<long long>(prefill), static_cast<long long>(decode), threads, repeats);
    model.forward(prompt, cache, last);  // warm-up (page faults, allocator), not timed
    for (int r = 0; r < repeats; ++r) {
      cache.clear();
      Timer tp;
      ForwardResult res = model.forward(prompt, cache, last);
      t_prefill.push_back(tp.seconds());
      logits_last = res.logits;
      Timer td;
      for (Index s = 0; s < decode; ++s) {
        const std::int32_t tok[1] = {tokens[static_cast<std::size_t>(prefill + s)]};
        res = model.forward(tok, cache, last);
      }
      t_decode.push_back(td.seconds());
      cache.clear();
      Timer ts;
      model.forward(prompt, cache, all);
      t_score.push_back(ts.seconds());
    }
    const double bandwidth = read_bandwidth_gbs();
    const auto& cfg = model.config();
    // Bytes a decode step must read: every parameter except the unused rows of wpe (one row is
    // read), plus the KV cache of the context so far (mean context over the decode steps).
    const double weight_bytes =
        4.0 * static_cast<double>(cfg.parameter_count() -
                                  static_cast<std::uint64_t>((cfg.n_positions - 1) * cfg.n_embd));
    const double mean_ctx = static_cast<double>(prefill) + 0.5 * static_cast<double>(decode);
    const double kv_bytes = 2.0 * 4.0 * static_cast<double>(cfg.n_layer * cfg.n_embd) * mean_ctx;
    nlohmann::json j;
    j["config"] = gpt2_config_json(cfg);
    j["description"] = cfg.describe();
    j["threads"] = threads;
    j["repeats"] = repeats;
    j["cpu"] = cpu_model();
    const BlasCoreChoice blas = current_blas_core();
    j["blas_core"] = blas.detected;
    j["blas_core_reason"] = blas.reason;
    j["load_average"] = load_average;
    j["prefill_tokens"] = prefill;
    j["decode_tokens"] = decode;
    j["load_s"] = load_s;
    j["prefill_s"] = median(t_prefill);
    j["prefill_tokens_per_s"] = static_cast<double>(prefill) / median(t_prefill);
    j["score_s"] = median(t_score);
    j["score_tokens_per_s"] = static_cast<double>(prefill) / median(t_score);
    j["decode_s"] = median(t_decode);
    j["decode_tokens_per_s"] = decode > 0 ? static_cast<double>(decode) / median(t_decode) : 0.0;
    j["bandwidth_gbs"] = bandwidth;
    j["weight_bytes"] = weight_bytes;
    j["kv_bytes_mean"] = kv_bytes;
    j["bound_weights_tokens_per_s"] = bandwidth * 1e9 / weight_bytes;
    j["bound_weights_kv_tokens_per_s"] = bandwidth * 1e9 / (weight_bytes + kv_bytes);
    j["git_revision"] = git_revision();
    OutputSet outs;
    const std::vector<Index> tshape{static_cast<Index>(tokens.size())};
    outs.add(std::filesystem::path(out) / "tokens.npy", io::encode_npy(tokens.data(), tshape));
    const std::vector<Index> lshape{logits_last.cols()};
    outs.add(std::filesystem::path(out) / "logits_last.npy",
             io::encode_npy(logits_last.data(), lshape));
    outs.add(std::filesystem::path(out) / "attnlab.json", j.dump(2) + "\n");
    outs.commit();
    std::printf("%s\n", j.dump(2).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpt2_bench: %s\n", e.what());
    return exit_code_for(e);
  }
  return 0;
}
