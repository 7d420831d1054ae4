// attnlab perplexity — GPT-2 perplexity of a text file with a sliding evaluation window, under
// any attention override (what a window, sinks, decay or top-k costs in quality).
//
//   attnlab perplexity --model PATH [--tokenizer DIR] --text FILE [--attention SPEC]
//                      [--context W] [--stride S] [--bos] [--max-tokens N] [--json R.json]
//
// Prints the result as JSON on stdout: tokens, tokens_scored, windows, nll_mean (nats),
// perplexity, bits_per_byte, the attention override and the evaluation window. --json writes the
// full result envelope. Definitions: models/gpt2/perplexity.hpp.
#include <cstdio>
#include <memory>

#include "apps/attnlab/command.hpp"
#include "apps/attnlab/gpt2_inputs.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/progress.hpp"
#include "attnlab/models/gpt2/attention_override.hpp"
#include "attnlab/models/gpt2/perplexity.hpp"

namespace attnlab::cli {
namespace {

struct PerplexityCliOptions {
  CommonOptions common;
  std::string model, tokenizer, text, attention;
  Index context = 0, stride = 0, max_tokens = 0;
  bool bos = false;
};

void run_perplexity(const PerplexityCliOptions& o) {
  RunInfo info = begin_run("perplexity", o.common);
  Timings timings;
  std::optional<attention::AttentionSpec> spec;
  if (!o.attention.empty()) spec = models::gpt2::parse_attention_override(o.attention);
  std::string tok_source;
  const std::string text = read_text_arg(o.text);
  models::gpt2::Gpt2Weights weights;
  models::gpt2::BpeTokenizer tok = models::gpt2::BpeTokenizer::byte_level();
  {
    auto t = timings.scope("load");
    weights = models::gpt2::load_gpt2(o.model);
    tok = load_gpt2_tokenizer(o.tokenizer, o.model, tok_source);
  }
  check_tokenizer_fits(tok, weights.config, tok_source);
  const std::string model_source = weights.source;
  const models::gpt2::Gpt2Model model(std::move(weights));
  std::vector<std::int32_t> ids;
  {
    auto t = timings.scope("tokenize");
    ids = tok.encode(text);
  }
  if (o.max_tokens > 0 && static_cast<Index>(ids.size()) > o.max_tokens) {
    ids.resize(static_cast<std::size_t>(o.max_tokens));
  }
  models::gpt2::PerplexityOptions po;
  po.context = o.context;
  po.stride = o.stride;
  po.prepend_bos = o.bos;
  if (o.bos) {
    // The tokenizer's <|endoftext|>, else the config's bos_token_id when the model has it.
    if (const auto eot = tok.special_id("<|endoftext|>")) {
      po.bos_id = *eot;
    } else if (model.config().bos_token_id < model.config().vocab_size) {
      po.bos_id = static_cast<std::int32_t>(model.config().bos_token_id);
    } else {
      throw UsageError(
          str_cat("perplexity --bos: the tokenizer has no <|endoftext|> token and "
                  "config bos_token_id = ",
                  model.config().bos_token_id, " is outside the vocabulary (",
                  model.config().vocab_size, ")"));
    }
  }
  po.text_bytes = o.max_tokens > 0 ? 0 : static_cast<Index>(text.size());
  po.attention = spec;
  std::unique_ptr<Progress> bar;  // sized once the window count is known
  po.on_window = [&bar](Index, Index total) {
    if (!bar) bar = std::make_unique<Progress>("perplexity", total);
    bar->advance();
  };
  models::gpt2::PerplexityResult r;
  {
    auto t = timings.scope("evaluate");
    r = models::gpt2::evaluate_perplexity(model, ids, po);
  }
  if (bar) bar->finish();
  nlohmann::json result;
  result["model"] = model_source;
  result["model_description"] = model.config().describe();
  result["tokenizer"] = tok_source;
  result["text"] = o.text;
  result["text_bytes"] = text.size();
  result["attention"] =
      spec ? models::gpt2::describe_attention_override(*spec) : model.config().attention.describe();
  result["attention_spec"] = spec.value_or(model.config().attention.spec).to_json();
  result["tokens"] = r.tokens;
  result["tokens_scored"] = r.tokens_scored;
  result["windows"] = r.windows;
  result["context"] = r.context;
  result["stride"] = r.stride;
  result["bos"] = o.bos;
  result["nll_mean"] = r.nll_mean;
  result["perplexity"] = r.perplexity;
  result["bits_per_byte"] = r.bits_per_byte;
  OutputSet outputs;
  if (!o.common.json_path.empty()) {
    outputs.add(o.common.json_path, dump_json(make_result_envelope(info, timings, result)));
  }
  outputs.commit();
  std::printf("%s", dump_json(result).c_str());
}

void register_perplexity(CLI::App& app) {
  auto opts = std::make_shared<PerplexityCliOptions>();
  auto* cmd = app.add_subcommand(
      "perplexity",
      "GPT-2 perplexity of a text with a sliding evaluation window (context W, stride S: each\n"
      "token is scored once, with W-S to W-1 tokens of context), optionally with the attention\n"
      "replaced at inference (--attention window=256,sinks=4 ...). Prints JSON on stdout.");
  cmd->add_option("--model", opts->model,
                  "GPT-2 directory (model.safetensors + config.json, or gpt2_124M.bin), a "
                  ".safetensors file or an llm.c .bin")
      ->required();
  cmd->add_option("--tokenizer", opts->tokenizer,
                  "Tokenizer directory (default: the model's, if it has vocab.json + merges.txt)");
  cmd->add_option("--text", opts->text, "Text file to score ('-' = stdin)")->required();
  cmd->add_option("--attention", opts->attention,
                  "Attention override: full | window=W | sinks=S,window=W | decay=G[:G..] | alibi "
                  "| topk=K | ssmax | sparsemax | entmax15 | temperature=T (comma-separated) or "
                  "a spec .json");
  cmd->add_option("--context", opts->context, "Evaluation window W (default: n_positions)")
      ->check(positive_number());
  cmd->add_option("--stride", opts->stride, "Stride S between windows (default W/2)")
      ->check(positive_number());
  cmd->add_flag("--bos", opts->bos, "Prepend <|endoftext|> so the first token is scored too");
  cmd->add_option("--max-tokens", opts->max_tokens, "Score only the first N tokens")
      ->check(positive_number());
  add_common_options(cmd, opts->common);
  cmd->callback([opts] { run_perplexity(*opts); });
}

}  // namespace

static const CommandRegistrar registrar(72, register_perplexity);

}  // namespace attnlab::cli
