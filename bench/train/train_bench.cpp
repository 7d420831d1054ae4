// bench/train/train_bench.cpp — tokens/s of one full training step of attnlab's tiny GPT
// (forward + backward + gradient clipping + AdamW), the quantity the PyTorch peer
// (bench/train/peer_torch_train.py) measures for the same model; bench/train/run.sh prints both.
//
// The model is TrainOptions' default (4 layers, width 128, 4 heads, context 256, vocabulary 256,
// full causal softmax, learned positions) unless flags change it; tokens are random (speed does
// not depend on them). Also reported: the forward alone (the evaluation path), the FLOPs of a step
// counted from the shapes (6·N_matmul + 12·L·T·C/2 attention per token, causal), and the achieved
// GFLOP/s.
//
// Usage: build/release/bench/train_bench [--threads 2] [--steps 20] [--batch 16] [--context 256]
//          [--layers 4] [--width 128] [--heads 4] [--vocab 256] [--attention SPEC] [--json PATH]
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/blas_core.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/core/threads.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/models/gpt2/attention_override.hpp"
#include "attnlab/models/gpt2/data_parallel_graph.hpp"
#include "attnlab/models/gpt2/weights.hpp"
#include "attnlab/models/tinylm/train_options.hpp"
#include "attnlab/nn/adamw.hpp"

namespace {

using namespace attnlab;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int run(int argc, char** argv) {
  models::tinylm::TrainOptions o;
  int threads = 2, steps = 20, warmup = 3;
  Index vocab = 256;
  std::string json_path, attention;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(str_cat("train_bench: ", a, " needs a value"));
      return argv[++i];
    };
    if (a == "--threads")
      threads = std::stoi(next());
    else if (a == "--steps")
      steps = std::stoi(next());
    else if (a == "--batch")
      o.batch = std::stoll(next());
    else if (a == "--context")
      o.context = std::stoll(next());
    else if (a == "--layers")
      o.layers = std::stoll(next());
    else if (a == "--width")
      o.width = std::stoll(next());
    else if (a == "--heads")
      o.heads = std::stoll(next());
    else if (a == "--vocab")
      vocab = std::stoll(next());
    else if (a == "--attention")
      attention = next();
    else if (a == "--json")
      json_path = next();
    else
      throw UsageError(str_cat("train_bench: unknown option ", a));
  }
  if (!attention.empty()) o.attention = models::gpt2::parse_model_attention(attention);
  set_num_threads(threads);
  const auto config = o.model_config(vocab);
  models::gpt2::Gpt2Weights w = models::gpt2::random_gpt2_weights(config, 1);
  const std::size_t P = w.params.size();
  models::gpt2::DataParallelTrainGraph<float> graph(config, o.batch, o.context);
  nn::AdamW<float> opt(P, {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay});
  opt.add_group({0, P, true, false, false, "all"});
  std::vector<std::int32_t> tokens(static_cast<std::size_t>(o.batch * o.context)),
      targets(tokens.size());
  Rng rng(2);
  for (auto& t : tokens) t = static_cast<std::int32_t>(rng.uniform_int(vocab));
  for (auto& t : targets) t = static_cast<std::int32_t>(rng.uniform_int(vocab));
  std::vector<float> grads(P);
  std::vector<double> step_s, fwd_s;
  for (int s = 0; s < warmup + steps; ++s) {
    Timer t;
    graph.forward_backward(w.params.data(), tokens.data(), targets.data(), grads.data());
    nn::clip_grad_norm(grads.data(), P, 1.0);
    opt.step(w.params.data(), grads.data(), 1e-4);
    const double dt = t.seconds();
    Timer f;
    graph.forward(w.params.data(), tokens.data(), targets.data());
    if (s >= warmup) {
      step_s.push_back(dt);
      fwd_s.push_back(f.seconds());
    }
  }
  const double C = static_cast<double>(o.width), T = static_cast<double>(o.context),
               L = static_cast<double>(o.layers), F = static_cast<double>(o.mlp_ratio) * C;
  // Matmul parameters touched per token (blocks + tied head) and causal attention per token.
  const double n_matmul = L * (4 * C * C + 2 * C * F) + static_cast<double>(vocab) * C;
  const double attn_fwd = L * 2 * 2 * (T / 2) * C;  // QKᵀ and PV over ~T/2 keys
  const double flops_per_token = 6 * n_matmul + 3 * attn_fwd;
  const double tokens_per_step = static_cast<double>(o.batch * o.context);
  const double med = median(step_s);
  nlohmann::json j = {{"peer", "attnlab"},
                      {"threads", threads},
                      {"config", config.describe()},
                      {"batch", o.batch},
                      {"context", o.context},
                      {"attention", o.attention.describe()},
                      {"params", config.parameter_count()},
                      {"median_step_s", med},
                      {"tokens_per_s", tokens_per_step / med},
                      {"median_forward_s", median(fwd_s)},
                      {"flops_per_token", flops_per_token},
                      {"gflops", flops_per_token * tokens_per_step / med / 1e9},
                      {"step_s", step_s}};
  const std::string text = j.dump(2) + "\n";
  if (!json_path.empty()) write_file_atomic(json_path, text);
  std::printf("%s", text.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  attnlab::reexec_with_best_blas_core(argv);  // see core/blas_core.hpp
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_bench: %s\n", e.what());
    return exit_code_for(e);
  }
}
