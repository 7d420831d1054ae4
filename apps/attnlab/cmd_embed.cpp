// attnlab embed — sentence embeddings of a BERT-family encoder (all-MiniLM-L6-v2 by default).
//
//   attnlab embed [--model DIR] (--text FILE | --sentence S [--sentence S ...]) [--out E.npy]
//                 [--batch N] [--max-length N] [--no-normalize] [--attention SPEC]
//                 [--ids-out IDS.json] [--attention-out A.npy] [--json R.json]
//
// --text holds one sentence per line (empty lines are skipped; "-" = stdin). The embedding is
// sentence-transformers' (models/bert/sentence_embedding.hpp): WordPiece ids with [CLS]/[SEP]
// cut to --max-length (256), mean over all tokens of the last hidden state, L2-normalized. --out
// writes float32 [S, C]; without it the first values of each row and the cosine matrix of up to
// 8 sentences are printed. --ids-out writes the token ids of every sentence (a JSON array of
// arrays) and --attention-out the attention weights of the FIRST sentence, float32 [L, H, n, n]
// (what cross-checks against Hugging Face's output_attentions compare). --model defaults to $ATTNLAB_BERT_MODEL or the all-MiniLM-L6-v2 files
// scripts/bootstrap.sh unpacks into .cache/minilm. All outputs are written together or not at all.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "apps/attnlab/command.hpp"
#include "apps/attnlab/gpt2_inputs.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/io/npy.hpp"
#include "attnlab/models/bert/sentence_embedding.hpp"
#include "attnlab/models/gpt2/attention_override.hpp"

namespace attnlab::cli {
namespace {

namespace bert = models::bert;

struct EmbedCliOptions {
  CommonOptions common;
  std::string model, text, out, attention, ids_out, attention_out;
  std::vector<std::string> sentences;
  Index batch = 32, max_length = 0;
  bool no_normalize = false;
};

std::vector<std::string> read_sentences(const EmbedCliOptions& o) {
  if (o.text.empty() == o.sentences.empty()) {
    throw UsageError("embed: give either --text FILE (one sentence per line) or --sentence S");
  }
  if (!o.sentences.empty()) return o.sentences;
  std::vector<std::string> out;
  std::istringstream in(read_text_arg(o.text));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  if (out.empty()) throw InputError(str_cat("embed: '", o.text, "' holds no sentence"));
  return out;
}

std::filesystem::path resolve_model(const std::string& model) {
  if (!model.empty()) return model;
  if (auto dir = bert::find_default_bert()) return *dir;
  throw InputError(
      str_cat("embed: no --model given and no default model (", bert::bert_files_hint(), ")"));
}

void run_embed(const EmbedCliOptions& o) {
  RunInfo info = begin_run("embed", o.common);
  Timings timings;
  const std::vector<std::string> sentences = read_sentences(o);
  bert::EmbedOptions eo;
  eo.batch = o.batch;
  eo.max_length = o.max_length;
  const std::filesystem::path dir = resolve_model(o.model);
  const bert::BertModel model = [&] {
    auto t = timings.scope("load");
    return bert::BertModel(bert::load_bert(dir));
  }();
  if (eo.max_length == 0)
    eo.max_length = std::min<Index>(256, model.config().max_position_embeddings);
  eo.normalize = !o.no_normalize;
  if (!o.attention.empty()) eo.attention = models::gpt2::parse_attention_override(o.attention);
  if (eo.attention) eo.attention->causal = false;
  const bert::WordPieceTokenizer tok = bert::WordPieceTokenizer::load(dir);
  MatrixF e;
  {
    auto t = timings.scope("embed");
    e = bert::embed_sentences(model, tok, sentences, eo);
  }
  const Index S = e.rows(), C = e.cols();
  OutputSet outputs;
  if (!o.out.empty()) outputs.add(o.out, io::encode_npy(e));
  nlohmann::json result;
  result["model"] = dir.string();
  result["model_description"] = model.config().describe();
  result["sentences"] = S;
  result["dim"] = C;
  result["normalize"] = eo.normalize;
  result["max_length"] = eo.max_length;
  result["attention"] = eo.attention ? eo.attention->describe() : "full bidirectional softmax";
  Index tokens = 0;
  for (const auto& s : sentences) tokens += static_cast<Index>(tok.encode(s, eo.max_length).size());
  result["tokens"] = tokens;
  if (!o.ids_out.empty()) {
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& s : sentences) ids.push_back(tok.encode(s, eo.max_length));
    outputs.add(o.ids_out, ids.dump() + "\n");
  }
  if (!o.attention_out.empty()) {
    bert::BertForwardOptions fo;
    fo.attention = eo.attention;
    fo.capture_maps = true;
    const bert::BertOutput r =
        model.forward({{tok.encode(sentences[0], eo.max_length), {}, {}}}, fo);
    const auto& maps = r.captures[0].maps;  // [L] of [H, n, n]
    const Index L = static_cast<Index>(maps.size()), H = maps[0].dim0(), n = maps[0].dim1();
    std::vector<float> all;
    for (const auto& m : maps) all.insert(all.end(), m.data(), m.data() + m.size());
    const std::vector<Index> shape{L, H, n, n};
    outputs.add(o.attention_out, io::encode_npy(all.data(), shape));
  }
  const double secs = timings.totals().at("embed");
  result["sentences_per_second"] = secs > 0 ? static_cast<double>(S) / secs : 0.0;
  const Index shown = std::min<Index>(S, 8);
  nlohmann::json cos = nlohmann::json::array();
  for (Index a = 0; a < shown; ++a) {
    nlohmann::json row = nlohmann::json::array();
    for (Index b = 0; b < shown; ++b) {
      const double num = e.row(a).cast<double>().dot(e.row(b).cast<double>());
      const double den = e.row(a).cast<double>().norm() * e.row(b).cast<double>().norm();
      row.push_back(den > 0 ? num / den : 0.0);
    }
    cos.push_back(row);
  }
  result["cosine"] = cos;
  result["out"] = o.out;
  if (!o.common.json_path.empty()) {
    outputs.add(o.common.json_path, dump_json(make_result_envelope(info, timings, result)));
  }
  outputs.commit();
  std::printf("%s: %lld sentences, %lld tokens, dim %lld, %.1f sentences/s\n",
              model.config().describe().c_str(), static_cast<long long>(S),
              static_cast<long long>(tokens), static_cast<long long>(C),
              result["sentences_per_second"].get<double>());
  if (o.out.empty()) {
    for (Index s = 0; s < shown; ++s) {
      std::printf("  [%lld]", static_cast<long long>(s));
      for (Index c = 0; c < std::min<Index>(C, 6); ++c) std::printf(" %+.6f", e(s, c));
      std::printf(" ...\n");
    }
  }
  if (shown >= 2) {
    std::printf("cosine similarity (first %lld):\n", static_cast<long long>(shown));
    for (Index a = 0; a < shown; ++a) {
      std::printf(" ");
      for (Index b = 0; b < shown; ++b) std::printf(" %.4f", cos[a][b].get<double>());
      std::printf("\n");
    }
  }
}

void register_embed(CLI::App& app) {
  auto opts = std::make_shared<EmbedCliOptions>();
  auto* cmd = app.add_subcommand(
      "embed",
      "Sentence embeddings of a BERT-family encoder (sentence-transformers' mean pooling +\n"
      "L2 normalization); default model all-MiniLM-L6-v2 from .cache/minilm (bootstrap).");
  cmd->add_option("--model", opts->model,
                  "BERT directory: config.json + model.safetensors + vocab.txt");
  cmd->add_option("--text", opts->text, "One sentence per line ('-' = stdin)");
  cmd->add_option("--sentence", opts->sentences, "A sentence (repeatable)");
  cmd->add_option("--out", opts->out, "Write the embeddings as float32 NPY [S, C]");
  cmd->add_option("--batch", opts->batch, "Sentences per forward call")->check(positive_number());
  cmd->add_option("--max-length", opts->max_length,
                  "Ids per sentence, [CLS] and [SEP] included (default 256, sentence-transformers' "
                  "limit, or the model's max_position_embeddings if smaller)")
      ->check(positive_number());
  cmd->add_option("--ids-out", opts->ids_out, "Write every sentence's token ids (JSON)");
  cmd->add_option("--attention-out", opts->attention_out,
                  "Write the first sentence's attention weights, float32 NPY [L, H, n, n]");
  cmd->add_flag("--no-normalize", opts->no_normalize, "Keep the mean-pooled vectors unnormalized");
  cmd->add_option("--attention", opts->attention,
                  "Attention at inference (window=W, topk=K, sparsemax, ...; see attend)");
  add_common_options(cmd, opts->common);
  cmd->callback([opts] { run_embed(*opts); });
}

}  // namespace

static const CommandRegistrar registrar(73, register_embed);

}  // namespace attnlab::cli
