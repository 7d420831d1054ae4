// bench/ntk/ntk_bench.cpp — speed of attnlab's structured empirical NTK for the 2-layer ReLU
// network (analysis/ntk/empirical_ntk.hpp), with its GEMMs against the OpenBLAS ceiling; the
// PyTorch peer (bench/ntk/peer_torch.py) computes the same kernel from per-example gradients
// (J·Jᵀ) on the same inputs, and bench/ntk/run.sh prints both in one table.
//
// What is measured (median of --repeats runs, wall clock, --threads threads):
//   ntk_fp64_signs   empirical_ntk(net, X): H = X Wᵀ (dgemm, fp64 signs), G = X Xᵀ (dsyrk),
//                    S Sᵀ (ssyrk on 0/1 floats: exact integer counts), Θ = G ⊙ S Sᵀ / m
//   ntk_fp32_signs   the same with H in fp32 (sgemm): faster, signs within fp32 rounding of 0
//                    may flip (the kernel differs from the fp64 one in a few entries)
//   components       each GEMM alone with its GFLOP/s: dgemm X Wᵀ [n,D]x[D,m], dsyrk X Xᵀ,
//                    ssyrk S Sᵀ; and the ceilings sgemm / dgemm 2048³ on the same threads
// FLOPs counted: 2nmD (H) + n²D (G, SYRK) + n²m (S Sᵀ, SYRK) — the multiply-adds actually done.
// Inputs: n unit rows of |N(0, 1)| (nonnegative like pixels), W ~ N(0, I) [m, D], a = ±1 (one
// output); speed does not depend on the values.
//
// Outputs in --out DIR: x.npy [n, D], w.npy [m, D], a.npy [m] (fp64, for the peer), k.npy [n, n]
// (attnlab's fp64-sign kernel), attnlab.json (the measurements).
//
// Usage: build/release/bench/ntk_bench --out /tmp/ntk-bench [--n 2000] [--m 4096] [--d 784]
//                                       [--threads 2] [--repeats 3]
#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/analysis/ntk/empirical_ntk.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/blas.hpp"
#include "attnlab/core/blas_core.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/result_json.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/core/threads.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/io/npy.hpp"

namespace {

using namespace attnlab;

double median_seconds(int repeats, const std::function<void()>& fn) {
  fn();  // warm-up (page faults, OpenBLAS buffers)
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    Timer timer;
    fn();
    t.push_back(timer.seconds());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

struct Options {
  std::filesystem::path out;
  Index n = 2000, m = 4096, d = 784;
  int threads = 2, repeats = 3;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(str_cat("ntk_bench: ", a, " needs a value"));
      return argv[++i];
    };
    if (a == "--out")
      o.out = next();
    else if (a == "--n")
      o.n = std::stol(next());
    else if (a == "--m")
      o.m = std::stol(next());
    else if (a == "--d")
      o.d = std::stol(next());
    else if (a == "--threads")
      o.threads = std::stoi(next());
    else if (a == "--repeats")
      o.repeats = std::stoi(next());
    else
      throw UsageError(str_cat("ntk_bench: unknown option ", a));
  }
  if (o.out.empty()) throw UsageError("ntk_bench: --out DIR is required");
  if (o.n < 2 || o.m < 2 || o.d < 1 || o.repeats < 1) throw UsageError("ntk_bench: bad sizes");
  return o;
}

int run(const Options& o) {
  set_num_threads(o.threads);
  std::filesystem::create_directories(o.out);
  const Index n = o.n, m = o.m, D = o.d;
  MatrixD x(n, D);
  Rng rng(1);
  rng.fill_normal(x.data(), x.size());
  x = x.cwiseAbs();
  for (Index i = 0; i < n; ++i) x.row(i) /= x.row(i).norm();
  const nn::TwoLayerRelu net = nn::TwoLayerRelu::random(D, m, 1, {}, 2);

  nlohmann::json j;
  j["n"] = n;
  j["m"] = m;
  j["d"] = D;
  j["threads"] = num_threads();
  j["repeats"] = o.repeats;
  j["cpu"] = cpu_model();
  j["git_revision"] = git_revision();
  const double flops = 2.0 * n * m * D + 1.0 * n * n * D + 1.0 * n * n * m;
  j["flops"] = flops;

  MatrixD k;
  const double t64 = median_seconds(o.repeats, [&] { k = analysis::ntk::empirical_ntk(net, x); });
  MatrixD k32;
  const double t32 = median_seconds(o.repeats, [&] {
    k32 = analysis::ntk::empirical_ntk(net, x, {.fp32_preactivations = true});
  });
  j["ntk_fp64_signs"] = {{"seconds", t64}, {"gflops", flops / t64 / 1e9}};
  j["ntk_fp32_signs"] = {
      {"seconds", t32},
      {"gflops", flops / t32 / 1e9},
      {"max_rel_diff_vs_fp64", (k32 - k).cwiseAbs().maxCoeff() / k.cwiseAbs().maxCoeff()}};

  // Components, each alone.
  MatrixD h(n, m), g(n, n);
  MatrixF s(n, m), counts(n, n);
  for (Index i = 0; i < s.size(); ++i) s.data()[i] = (i * 2654435761u) % 2 ? 1.0f : 0.0f;
  const double t_h = median_seconds(o.repeats, [&] {
    gemm(Trans::no, Trans::yes, n, m, D, 1.0, x.data(), D, net.w().data(), D, 0.0, h.data(), m);
  });
  const double t_g = median_seconds(o.repeats, [&] {
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, static_cast<int>(n), static_cast<int>(D),
                1.0, x.data(), static_cast<int>(D), 0.0, g.data(), static_cast<int>(n));
  });
  const double t_s = median_seconds(o.repeats, [&] {
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, static_cast<int>(n), static_cast<int>(m),
                1.0f, s.data(), static_cast<int>(m), 0.0f, counts.data(), static_cast<int>(n));
  });
  j["components"] = {{"dgemm_xwt", {{"seconds", t_h}, {"gflops", 2.0 * n * m * D / t_h / 1e9}}},
                     {"dsyrk_gram", {{"seconds", t_g}, {"gflops", 1.0 * n * n * D / t_g / 1e9}}},
                     {"ssyrk_counts", {{"seconds", t_s}, {"gflops", 1.0 * n * n * m / t_s / 1e9}}}};
  const Index c = 2048;
  MatrixF af = MatrixF::Constant(c, c, 0.5f), bf = MatrixF::Constant(c, c, 0.25f), cf(c, c);
  MatrixD ad = af.cast<double>(), bd = bf.cast<double>(), cd(c, c);
  const double t_sg = median_seconds(o.repeats, [&] {
    gemm(Trans::no, Trans::no, c, c, c, 1.0f, af.data(), c, bf.data(), c, 0.0f, cf.data(), c);
  });
  const double t_dg = median_seconds(o.repeats, [&] {
    gemm(Trans::no, Trans::no, c, c, c, 1.0, ad.data(), c, bd.data(), c, 0.0, cd.data(), c);
  });
  j["sgemm_2048"] = {{"seconds", t_sg}, {"gflops", 2.0 * c * c * c / t_sg / 1e9}};
  j["dgemm_2048"] = {{"seconds", t_dg}, {"gflops", 2.0 * c * c * c / t_dg / 1e9}};

  io::save_npy(o.out / "x.npy", x);
  io::save_npy(o.out / "w.npy", net.w());
  const VectorD a = net.a().col(0);
  const std::vector<Index> shape = {m};
  io::save_npy(o.out / "a.npy", a.data(), shape);
  io::save_npy(o.out / "k.npy", k);
  write_file_atomic(o.out / "attnlab.json", dump_json(j));
  std::printf("%s", dump_json(j).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  attnlab::reexec_with_best_blas_core(argv);  // see core/blas_core.hpp
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ntk_bench: %s\n", e.what());
    return attnlab::exit_code_for(e);
  }
}
