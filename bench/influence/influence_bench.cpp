// bench/influence/influence_bench.cpp — speed of attnlab's exact leave-one-out kernel influence
// (analysis/influence/kernel_influence.hpp) for n training points and T test points: ONE
// Cholesky + inverse of K + λI, one GEMM B = K_test A, then O(T n C) for all T·n influences.
// The peers (bench/influence/peer_torch.py, same inputs) are PyTorch doing the same closed form,
// PyTorch solving per test point, and brute-force refits (timed on a few points, extrapolated).
//
// What is measured (median of --repeats runs, wall clock, --threads threads):
//   influence_total   KernelInfluence(K, Y, λ) + influence(K_test, targets, loss): everything
//   factorization     the constructor alone (dpotrf + dpotri + dpotrs)
//   kernel_theta_inf  building Θ∞ for train [n, n] and test [T, n] (for scale; not a peer row)
// Inputs: n + T unit rows of |N(0, 1)| in D dims (nonnegative like pixels), C-class centered
// one-hot targets (labels i mod C), Θ∞ kernels, ridge λ = 1e-3; speed does not depend on values.
//
// Outputs in --out DIR: k.npy [n, n], kt.npy [T, n], y.npy [n, C], yt.npy [T, C] (fp64, for the
// peer), infl.npy [T, n] (attnlab's influences), attnlab.json (the measurements).
//
// Usage: build/release/bench/influence_bench --out /tmp/inf-bench [--n 2000] [--t 100] [--c 10]
//                                             [--d 784] [--threads 2] [--repeats 3]
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/analysis/influence/kernel_influence.hpp"
#include "attnlab/analysis/ntk/analytic_ntk.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/blas_core.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/result_json.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/core/threads.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/io/npy.hpp"
#include "attnlab/nn/losses.hpp"

namespace {

using namespace attnlab;
namespace inf = analysis::influence;

double median_seconds(int repeats, const std::function<void()>& fn) {
  fn();  // warm-up
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
  Index n = 2000, t = 100, c = 10, d = 784;
  int threads = 2, repeats = 3;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(str_cat("influence_bench: ", a, " needs a value"));
      return argv[++i];
    };
    if (a == "--out")
      o.out = next();
    else if (a == "--n")
      o.n = std::stol(next());
    else if (a == "--t")
      o.t = std::stol(next());
    else if (a == "--c")
      o.c = std::stol(next());
    else if (a == "--d")
      o.d = std::stol(next());
    else if (a == "--threads")
      o.threads = std::stoi(next());
    else if (a == "--repeats")
      o.repeats = std::stoi(next());
    else
      throw UsageError(str_cat("influence_bench: unknown option ", a));
  }
  if (o.out.empty()) throw UsageError("influence_bench: --out DIR is required");
  if (o.n < 2 || o.t < 1 || o.c < 3 || o.d < 1 || o.repeats < 1) {
    throw UsageError("influence_bench: bad sizes (n >= 2, t >= 1, c >= 3, d >= 1)");
  }
  return o;
}

int run(const Options& o) {
  set_num_threads(o.threads);
  std::filesystem::create_directories(o.out);
  const Index n = o.n, t = o.t, C = o.c, D = o.d;
  MatrixD x(n + t, D);
  Rng rng(1);
  rng.fill_normal(x.data(), x.size());
  x = x.cwiseAbs();
  for (Index i = 0; i < x.rows(); ++i) x.row(i) /= x.row(i).norm();
  const MatrixD x_train = x.topRows(n), x_test = x.bottomRows(t);
  std::vector<int> labels, labels_t;
  for (Index i = 0; i < n; ++i) labels.push_back(static_cast<int>(i % C));
  for (Index i = 0; i < t; ++i) labels_t.push_back(static_cast<int>((i + 1) % C));
  const nn::Targets y = nn::encode_targets(labels, C, nn::TargetEncoding::centered_one_hot);
  const nn::Targets yt = nn::encode_targets(labels_t, C, nn::TargetEncoding::centered_one_hot);
  const double ridge = 1e-3;

  MatrixD k, kt;
  const double t_kernel = median_seconds(o.repeats, [&] {
    k = analysis::ntk::relu_ntk_infinite(x_train);
    kt = analysis::ntk::relu_ntk_infinite(x_test, x_train);
  });
  const inf::InfluenceTargets targets{yt.values, labels_t};
  MatrixD infl;
  const double t_total = median_seconds(o.repeats, [&] {
    const inf::KernelInfluence ki(k, y.values, ridge);
    infl = ki.influence(kt, targets, inf::InfluenceTarget::loss);
  });
  const double t_factor =
      median_seconds(o.repeats, [&] { const inf::KernelInfluence ki(k, y.values, ridge); });

  nlohmann::json j;
  j["n"] = n;
  j["t"] = t;
  j["c"] = C;
  j["d"] = D;
  j["ridge"] = ridge;
  j["threads"] = num_threads();
  j["repeats"] = o.repeats;
  j["cpu"] = cpu_model();
  j["git_revision"] = git_revision();
  j["influence_total"] = {{"seconds", t_total}};
  j["factorization"] = {{"seconds", t_factor}};
  j["kernel_theta_inf"] = {{"seconds", t_kernel}};
  io::save_npy(o.out / "k.npy", k);
  io::save_npy(o.out / "kt.npy", kt);
  io::save_npy(o.out / "y.npy", y.values);
  io::save_npy(o.out / "yt.npy", yt.values);
  io::save_npy(o.out / "infl.npy", infl);
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
    std::fprintf(stderr, "influence_bench: %s\n", e.what());
    return attnlab::exit_code_for(e);
  }
}
