#include "attnlab/analysis/speed/attention_speed.hpp"

#include <unistd.h>
#include <algorithm>
#include <cmath>

#include <filesystem>
#include <limits>
#include <sstream>

#include "attnlab/analysis/speed/fma_peak.hpp"
#include "attnlab/attention/fused_attention.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/blas.hpp"
#include "attnlab/core/blas_core.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/memory.hpp"
#include "attnlab/core/progress.hpp"
#include "attnlab/core/result_json.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/core/subprocess.hpp"
#include "attnlab/core/threads.hpp"
#include "attnlab/core/timer.hpp"

namespace attnlab::analysis {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kPeerScript =
#include "peer_torch_attention.inc"
    ;

}  // namespace

double speed_case_gflop(const SpeedCase& c) {
  double f = 4.0 * static_cast<double>(c.heads) * static_cast<double>(c.length) *
             static_cast<double>(c.length) * static_cast<double>(c.dim);
  if (c.causal) f *= 0.5;
  if (c.backward) f *= 3.5;
  return f / 1e9;
}

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Tensor3f random_f32(Index a, Index b, Index c, Rng& rng) {
  Tensor3f t(a, b, c);
  rng.fill_normal(t.data(), t.size());
  return t;
}

struct Timed {
  double ms = 0, extra_mib = kNaN;
};

// Median time of the fused kernel for one case; the warm-up run also measures peak memory.
Timed time_fused(const SpeedCase& c, int repeats, std::uint64_t seed,
                 const attention::FusedOptions& fopt = {}) {
  Rng rng(seed);
  const Tensor3f q = random_f32(c.heads, c.length, c.dim, rng);
  const Tensor3f k = random_f32(c.heads, c.length, c.dim, rng);
  const Tensor3f v = random_f32(c.heads, c.length, c.dim, rng);
  const Tensor3f dout = random_f32(c.heads, c.length, c.dim, rng);
  attention::AttentionSpec spec;
  spec.causal = c.causal;
  const double out_mib = static_cast<double>(c.heads * c.length * c.dim * 4) / (1 << 20);
  Timed t;
  std::vector<double> times;
  for (int r = 0; r <= repeats; ++r) {
    release_free_memory();
    const std::uint64_t before = current_rss_bytes();
    const bool peak = r == 0 && reset_peak_rss();
    Timer timer;
    auto f = attention::attention_forward_fused(q, k, v, spec, fopt);
    if (c.backward) {
      auto g = attention::attention_backward_fused(q, k, v, spec, f.out, f.lse, dout, fopt);
    }
    const double s = timer.seconds();
    if (r == 0) {
      if (peak) {
        // Outputs: out (+ lse), and dq, dk, dv for the backward.
        const double outputs = out_mib * (c.backward ? 4.0 : 1.0);
        t.extra_mib = static_cast<double>(peak_rss_bytes() - before) / (1 << 20) - outputs;
      }
    } else {
      times.push_back(s);
    }
  }
  t.ms = 1e3 * median(times);
  return t;
}

// Runs the embedded peer script; returns the JSON objects it printed, one per line.
std::vector<nlohmann::json> run_peer(const SpeedOptions& o, const PeerSpec& peer,
                                     const std::vector<SpeedCase>& cases, std::string& status) {
  std::vector<nlohmann::json> lines;
  if (find_executable(peer.python).empty()) {
    status =
        str_cat(peer.python, " not found (", peer.method, " peer: scripts/bootstrap.sh --bench)");
    return lines;
  }
  const auto script = std::filesystem::temp_directory_path() /
                      str_cat("attnlab-peer-attention-", ::getpid(), ".py");
  write_file_atomic(script, kPeerScript);
  std::ostringstream spec;
  for (const auto& c : cases)
    spec << c.heads << "," << c.length << "," << c.dim << "," << c.causal << "," << c.backward
         << ";";
  ProcessOptions po;
  po.timeout_s = o.peer_timeout_s;
  const ProcessResult r =
      run_process({peer.python, script.string(), "--method", peer.method, "--cases", spec.str(),
                   "--threads", std::to_string(num_threads()), "--repeats",
                   std::to_string(o.repeats), "--mem-limit-gb", str_cat(o.peer_memory_limit_gb)},
                  po);
  std::error_code ec;
  std::filesystem::remove(script, ec);
  if (!r.started || r.exit_code != 0) {
    status = str_cat("peer script failed (",
                     r.timed_out ? "timed out" : "exit " + std::to_string(r.exit_code),
                     "): ", r.err.substr(0, 300));
    return lines;
  }
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      lines.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception&) {
      status = "peer printed something that is not JSON: " + line.substr(0, 120);
      return {};
    }
  }
  return lines;
}

double num(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : kNaN;
}

}  // namespace

std::vector<PeerSpec> default_attention_peers() {
  return {{"sdpa_flash", ".venv/bin/python"}, {"composite", "/usr/bin/python3"}};
}

double measure_sgemm_gflops(Index n, int repeats) {
  AlignedVector<float> a(static_cast<std::size_t>(n * n)), b(a.size()), c(a.size());
  Rng rng(1);
  rng.fill_uniform(a.data(), n * n, -1, 1);
  rng.fill_uniform(b.data(), n * n, -1, 1);
  std::vector<double> times;
  for (int r = 0; r <= repeats; ++r) {
    Timer t;
    gemm(Trans::no, Trans::no, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    if (r > 0) times.push_back(t.seconds());
  }
  return 2.0 * static_cast<double>(n) * n * n / median(times) / 1e9;
}

SpeedResult run_attention_speed(const SpeedOptions& o) {
  if (o.repeats < 1)
    throw UsageError(str_cat("attention speed: repeats must be >= 1, got ", o.repeats));
  for (Index n : o.lengths)
    if (n < 1) throw UsageError(str_cat("attention speed: lengths must be >= 1, got ", n));
  for (Index d : o.dims)
    if (d < 1) throw UsageError(str_cat("attention speed: dims must be >= 1, got ", d));
  SpeedResult res;
  res.machine = str_cat(cpu_model(), ", ", hardware_threads(), " hardware threads");
  res.threads = num_threads();
  res.simd = attention::to_string(attention::best_simd_level());
  std::vector<SpeedCase> cases;
  for (Index d : o.dims)
    for (Index n : o.lengths)
      for (bool causal : o.causal) {
        if (o.forward) cases.push_back({o.heads, n, d, causal, false});
        if (o.backward && (o.backward_max_length == 0 || n <= o.backward_max_length))
          cases.push_back({o.heads, n, d, causal, true});
      }
  Progress bar("attention speed", static_cast<std::int64_t>(cases.size()) + 3);
  measure_ceilings(res, std::max(2, o.repeats));
  bar.advance();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SpeedRow row;
    row.c = cases[i];
    row.gflop = speed_case_gflop(row.c);
    const Timed t = time_fused(row.c, o.repeats, o.seed + i);
    row.attnlab_ms = t.ms;
    row.attnlab_gflops = row.gflop / (t.ms / 1e3);
    row.attnlab_extra_mib = t.extra_mib;
    res.rows.push_back(row);
    bar.advance();
  }
  if (o.memory_probe_length > 0) {
    SpeedCase probe{1, o.memory_probe_length, 64, false, false};
    const Timed t = time_fused(probe, 1, o.seed + 999);
    res.probe_length = probe.length;
    res.probe_io_mib = 4.0 * static_cast<double>(probe.length * 64 * 4) / (1 << 20);
    res.probe_extra_mib = t.extra_mib;
    res.probe_ms = t.ms;
  }
  if (o.variant_length > 0) {
    const SpeedCase vc{o.heads, o.variant_length, 64, false, false};
    res.variant_length = o.variant_length;
    const double gflop = speed_case_gflop(vc);
    auto add = [&](const std::string& label, const attention::FusedOptions& fo) {
      const Timed t = time_fused(vc, o.repeats, o.seed + 7, fo);
      res.variants.push_back({label, t.ms, gflop / (t.ms / 1e3), vc.length, vc.dim});
    };
    attention::FusedOptions tiles_opt, blas_opt, diag_opt;
    blas_opt.microkernel = attention::MicroKernel::blas;
    diag_opt.diagnostics = true;
    add("register tiles (default)", tiles_opt);
    add("OpenBLAS sgemm per tile", blas_opt);
    add("register tiles + streamed diagnostics", diag_opt);
  }
  if (o.stride_probe_length > 96) {
    for (const bool backward : {false, true})
      for (const Index n : {o.stride_probe_length - 96, o.stride_probe_length}) {
        const SpeedCase pc{o.heads, n, 128, false, backward};
        const Timed t = time_fused(pc, o.repeats, o.seed + 11);
        res.variants.push_back(
            {n == o.stride_probe_length ? "stride probe at N" : "stride probe at N - 96", t.ms,
             speed_case_gflop(pc) / (t.ms / 1e3), n, 128, backward});
      }
  }
  bar.advance();
  if (o.run_peer) attach_attention_peers(res, o);
  bar.finish();
  return res;
}

void measure_ceilings(SpeedResult& res, int repeats) {
  res.sgemm_gflops = measure_sgemm_gflops(2048, repeats);
  res.blas_core = current_blas_core().detected;
  const FmaPeak peak = measure_fma_peak(num_threads(), std::max(3, repeats));
  res.fma_peak_gflops = peak.best_gflops;
  res.fma_peak_median_gflops = peak.median_gflops;
  res.fma_peak_isa = peak.isa;
}

void attach_attention_peers(SpeedResult& res, const SpeedOptions& o) {
  std::vector<SpeedCase> cases;
  for (const auto& row : res.rows) cases.push_back(row.c);
  for (const PeerSpec& spec : o.peers) {
    PeerInfo info{spec, "", false};
    PeerTiming unset;
    unset.ms = unset.gflops = unset.extra_mib = kNaN;
    for (auto& row : res.rows) row.peers.push_back(unset);
    const std::size_t slot = res.peers.size();
    std::string status;
    const auto lines = run_peer(o, spec, cases, status);
    for (const auto& j : lines) {
      const std::string st = j.value("status", "");
      if (st == "info") {
        info.name = j.value("peer", "PyTorch");
        info.available = true;
        continue;
      }
      if (st == "unavailable") {
        status = j.value("note", "peer unavailable");
        continue;
      }
      for (auto& row : res.rows) {
        if (row.c.heads == j.value("H", -1) && row.c.length == j.value("N", -1) &&
            row.c.dim == j.value("d", -1) && row.c.causal == j.value("causal", false) &&
            row.c.backward == j.value("backward", false)) {
          PeerTiming& t = row.peers[slot];
          t.status = st;
          t.note = j.value("note", "");
          if (st == "ok") {
            t.ms = 1e3 * num(j, "seconds");
            t.gflops = num(j, "gflops");
            t.extra_mib = num(j, "extra_mib");
          }
        }
      }
    }
    if (!info.available)
      info.name = str_cat(spec.method, " peer: ", status.empty() ? "unavailable" : status);
    res.peers.push_back(info);
  }
}

void print_speed_table(const SpeedResult& r, std::FILE* out) {
  auto mib = [](double v) {
    if (std::isnan(v)) return std::string("-");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return std::string(buf);
  };
  std::fprintf(out, "machine: %s; %d threads; fused kernel ISA %s\n", r.machine.c_str(), r.threads,
               r.simd.c_str());
  const BlasCoreChoice blas = current_blas_core();
  std::fprintf(out, "ceiling: FMA peak %.1f GFLOP/s (%s microbenchmark, best run; median %.1f)\n",
               r.fma_peak_gflops, r.fma_peak_isa.c_str(), r.fma_peak_median_gflops);
  std::fprintf(out,
               "ceiling: OpenBLAS sgemm 2048^3 = %.1f GFLOP/s = %s of the FMA peak (core %s; %s)\n",
               r.sgemm_gflops, share_of_ceiling(r.sgemm_gflops, r.fma_peak_gflops).c_str(),
               r.blas_core.c_str(), blas.reason.c_str());
  std::vector<std::size_t> shown;  // peers with columns (the ones that ran)
  for (std::size_t p = 0; p < r.peers.size(); ++p) {
    std::fprintf(out, "peer %zu: %s (%s)\n", p + 1, r.peers[p].name.c_str(),
                 r.peers[p].spec.python.c_str());
    if (r.peers[p].available) shown.push_back(p);
  }
  std::fprintf(out, "%6s %4s %6s %8s | %10s %8s %6s %6s %9s", "N", "d", "causal", "pass",
               "attnlab ms", "GFLOP/s", "%peak", "%sgemm", "extra MiB");
  for (std::size_t p : shown)
    std::fprintf(out, " | %7s%zu ms %8s %9s %8s", "peer", p + 1, "GFLOP/s", "extra MiB", "speedup");
  std::fprintf(out, "\n");
  bool above = false;
  for (const auto& row : r.rows) {
    const std::string peak = share_of_ceiling(row.attnlab_gflops, r.fma_peak_gflops);
    const std::string sgemm = share_of_ceiling(row.attnlab_gflops, r.sgemm_gflops);
    above |= peak == "above" || sgemm == "above";
    std::fprintf(out, "%6lld %4lld %6s %8s | %10.2f %8.1f %6s %6s %9s",
                 static_cast<long long>(row.c.length), static_cast<long long>(row.c.dim),
                 row.c.causal ? "yes" : "no", row.c.backward ? "fwd+bwd" : "fwd", row.attnlab_ms,
                 row.attnlab_gflops, peak.c_str(), sgemm.c_str(),
                 mib(row.attnlab_extra_mib).c_str());
    std::string notes;
    for (std::size_t p : shown) {
      const PeerTiming* t = p < row.peers.size() ? &row.peers[p] : nullptr;
      if (t && t->status == "ok") {
        std::fprintf(out, " | %10.2f %8.1f %9s %7.2fx", t->ms, t->gflops, mib(t->extra_mib).c_str(),
                     t->ms / row.attnlab_ms);
      } else {
        std::fprintf(out, " | %10s %8s %9s %8s", "-", "-", "-", "-");
        notes += str_cat("  peer ", p + 1, ": ",
                         t ? (t->note.empty() ? t->status : t->note) : std::string("not run"));
      }
    }
    std::fprintf(out, "%s\n", notes.c_str());
  }
  if (above)
    std::fprintf(out,
                 "above: the kernel measured faster than that ceiling, so the ceiling was "
                 "under-measured in this run (clock or load changed); no share is printed\n");
  // Causal speedup per (N, d, pass): non-causal time / causal time.
  for (const auto& a : r.rows) {
    if (a.c.causal) continue;
    for (const auto& b : r.rows)
      if (b.c.causal && b.c.length == a.c.length && b.c.dim == a.c.dim &&
          b.c.backward == a.c.backward)
        std::fprintf(out, "causal speedup N=%lld d=%lld %s: %.2fx\n",
                     static_cast<long long>(a.c.length), static_cast<long long>(a.c.dim),
                     a.c.backward ? "fwd+bwd" : "fwd", a.attnlab_ms / b.attnlab_ms);
  }
  for (const auto& v : r.variants) {
    std::fprintf(out, "variant N=%lld d=%lld H=%lld %s, %s: %.2f ms, %.1f GFLOP/s\n",
                 static_cast<long long>(v.length), static_cast<long long>(v.dim),
                 static_cast<long long>(r.rows.empty() ? 8 : r.rows[0].c.heads),
                 v.backward ? "fwd+bwd" : "fwd", v.label.c_str(), v.ms, v.gflops);
  }
  if (r.probe_length > 0) {
    std::fprintf(
        out,
        "memory probe: N=%lld d=64 H=1 forward: q,k,v,out = %.1f MiB; peak RSS beyond them "
        "= %.1f MiB (%.0f ms)\n",
        static_cast<long long>(r.probe_length), r.probe_io_mib, r.probe_extra_mib, r.probe_ms);
  }
}

nlohmann::json to_json(const SpeedResult& r) {
  nlohmann::json j;
  j["machine"] = r.machine;
  j["threads"] = r.threads;
  j["simd"] = r.simd;
  j["sgemm_gflops"] = r.sgemm_gflops;
  j["blas_core"] = r.blas_core;
  j["fma_peak"] = {{"best_gflops", r.fma_peak_gflops},
                   {"median_gflops", r.fma_peak_median_gflops},
                   {"isa", r.fma_peak_isa}};
  j["peers"] = nlohmann::json::array();
  for (const auto& p : r.peers)
    j["peers"].push_back({{"method", p.spec.method},
                          {"python", p.spec.python},
                          {"name", p.name},
                          {"available", p.available}});
  j["probe"] = {{"length", r.probe_length},
                {"io_mib", r.probe_io_mib},
                {"extra_mib", r.probe_extra_mib},
                {"ms", r.probe_ms}};
  j["variant_length"] = r.variant_length;
  j["variants"] = nlohmann::json::array();
  for (const auto& v : r.variants)
    j["variants"].push_back({{"label", v.label},
                             {"ms", v.ms},
                             {"gflops", v.gflops},
                             {"N", v.length},
                             {"d", v.dim},
                             {"pass", v.backward ? "fwd+bwd" : "fwd"}});
  j["rows"] = nlohmann::json::array();
  for (const auto& row : r.rows) {
    nlohmann::json peers = nlohmann::json::array();
    for (const auto& t : row.peers)
      peers.push_back({{"status", t.status},
                       {"note", t.note},
                       {"ms", t.ms},
                       {"gflops", t.gflops},
                       {"extra_mib", t.extra_mib}});
    j["rows"].push_back({{"H", row.c.heads},
                         {"N", row.c.length},
                         {"d", row.c.dim},
                         {"causal", row.c.causal},
                         {"backward", row.c.backward},
                         {"gflop", row.gflop},
                         {"attnlab_ms", row.attnlab_ms},
                         {"attnlab_gflops", row.attnlab_gflops},
                         {"attnlab_extra_mib", row.attnlab_extra_mib},
                         {"peers", peers}});
  }
  return j;
}

SpeedResult speed_from_json(const nlohmann::json& j) {
  SpeedResult r;
  auto num_or_nan = [](const nlohmann::json& v) { return v.is_null() ? kNaN : v.get<double>(); };
  try {
    r.machine = j.at("machine").get<std::string>();
    r.threads = j.at("threads").get<int>();
    r.simd = j.at("simd").get<std::string>();
    r.sgemm_gflops = num_or_nan(j.at("sgemm_gflops"));
    r.blas_core = j.at("blas_core").get<std::string>();
    const auto& fp = j.at("fma_peak");
    r.fma_peak_gflops = num_or_nan(fp.at("best_gflops"));
    r.fma_peak_median_gflops = num_or_nan(fp.at("median_gflops"));
    r.fma_peak_isa = fp.at("isa").get<std::string>();
    for (const auto& p : j.at("peers"))
      r.peers.push_back({{p.at("method").get<std::string>(), p.at("python").get<std::string>()},
                         p.at("name").get<std::string>(),
                         p.at("available").get<bool>()});
    const auto& p = j.at("probe");
    r.probe_length = p.at("length").get<Index>();
    r.probe_io_mib = num_or_nan(p.at("io_mib"));
    r.probe_extra_mib = num_or_nan(p.at("extra_mib"));
    r.probe_ms = num_or_nan(p.at("ms"));
    r.variant_length = j.value("variant_length", Index{0});
    if (j.contains("variants"))
      for (const auto& v : j.at("variants"))
        r.variants.push_back({v.at("label").get<std::string>(), num_or_nan(v.at("ms")),
                              num_or_nan(v.at("gflops")), v.at("N").get<Index>(),
                              v.at("d").get<Index>(), v.value("pass", "fwd") == "fwd+bwd"});
    for (const auto& x : j.at("rows")) {
      SpeedRow row;
      row.c = {x.at("H").get<Index>(), x.at("N").get<Index>(), x.at("d").get<Index>(),
               x.at("causal").get<bool>(), x.at("backward").get<bool>()};
      row.gflop = num_or_nan(x.at("gflop"));
      row.attnlab_ms = num_or_nan(x.at("attnlab_ms"));
      row.attnlab_gflops = num_or_nan(x.at("attnlab_gflops"));
      row.attnlab_extra_mib = num_or_nan(x.at("attnlab_extra_mib"));
      for (const auto& t : x.at("peers"))
        row.peers.push_back({t.at("status").get<std::string>(), t.at("note").get<std::string>(),
                             num_or_nan(t.at("ms")), num_or_nan(t.at("gflops")),
                             num_or_nan(t.at("extra_mib"))});
      if (row.peers.size() != r.peers.size())
        throw FormatError(str_cat("attention speed JSON: a row has ", row.peers.size(),
                                  " peer entries for ", r.peers.size(), " peers"));
      r.rows.push_back(row);
    }
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(str_cat("attention speed JSON: ", e.what()));
  }
  return r;
}

}  // namespace attnlab::analysis
