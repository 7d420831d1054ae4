// apps/attnlab/gpt2_inputs.hpp — what the GPT-2 subcommands (inspect, perplexity, tokenize)
// share: resolving --model / --tokenizer / --text into loaded objects with clear errors.
//
//   --model PATH       a directory with model.safetensors + config.json (Hugging Face) or
//                      gpt2_124M.bin (llm.c), a .safetensors file, or an llm.c .bin file
//   --tokenizer DIR    vocab.json + merges.txt or encoder.json + vocab.bpe; default: the model's
//                      directory when it holds them
//   --text FILE        UTF-8 (or any bytes: byte-level BPE encodes everything); "-" = stdin
#pragma once

#include <string>

#include "attnlab/models/gpt2/bpe_tokenizer.hpp"
#include "attnlab/models/gpt2/weights.hpp"

namespace attnlab::cli {

// The tokenizer for `tokenizer_dir`, or (when empty) the one beside `model_path`; InputError
// naming the files needed and where they come from otherwise. `source` receives its location.
models::gpt2::BpeTokenizer load_gpt2_tokenizer(const std::string& tokenizer_dir,
                                               const std::string& model_path, std::string& source);
// UsageError when the tokenizer can produce ids the model does not have.
void check_tokenizer_fits(const models::gpt2::BpeTokenizer& tok, const models::gpt2::Gpt2Config& c,
                          const std::string& tokenizer_source);
// The whole file ("-" = stdin); InputError when missing.
std::string read_text_arg(const std::string& path);

}  // namespace attnlab::cli
