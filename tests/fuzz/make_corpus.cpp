// tests/fuzz/make_corpus.cpp — writes the seed corpora of the libFuzzer targets with attnlab's own
// writers (encode_npy, SafetensorsWriter, encode_gpt2_safetensors, encode_gpt2_llmc,
// encode_checkpoint, gpt2_config_json, bert_config_json, AttentionSpec/ModelAttention::to_json,
// BpeTokenizer::vocab_json/merges_txt), plus near-valid variants (one byte or field off) that
// reach the parsers' deeper error paths. An ordinary program (fuzz_make_corpus, built by the fuzz
// preset); its output is checked in:
//
//   cmake --preset fuzz && cmake --build --preset fuzz
//   build/fuzz/tests/fuzz/fuzz_make_corpus tests/fuzz/corpus
//
// Deterministic (fixed seeds). Every file is below 4 KiB; the program fails otherwise. It writes
// only the files it generates (regression inputs added by hand to a corpus folder are kept).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "attnlab/attention/spec.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/io/npy.hpp"
#include "attnlab/io/safetensors.hpp"
#include "attnlab/models/bert/config.hpp"
#include "attnlab/models/gpt2/bpe_tokenizer.hpp"
#include "attnlab/models/gpt2/config.hpp"
#include "attnlab/models/gpt2/model_attention.hpp"
#include "attnlab/models/gpt2/weights.hpp"
#include "attnlab/models/tinylm/checkpoint.hpp"
#include "tests/fuzz/fuzz_bpe.hpp"

namespace {

namespace fs = std::filesystem;
using namespace attnlab;
using models::gpt2::Gpt2Config;

constexpr std::size_t kMaxSeed = 4096;
fs::path g_root;
int g_written = 0;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  if (bytes.size() >= kMaxSeed) {
    throw Error(str_cat("make_corpus: ", target, "/", name, " is ", bytes.size(),
                        " bytes (seeds must stay below ", kMaxSeed, ")"));
  }
  const fs::path dir = g_root / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw Error(str_cat("make_corpus: cannot write ", (dir / name).string()));
  ++g_written;
}

std::string le32(std::uint32_t v) {
  std::string s(4, '\0');
  std::memcpy(s.data(), &v, 4);
  return s;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// A hand-made .npy (for the forms attnlab's writer does not produce).
std::string npy_by_hand(int major, const std::string& dict, const std::string& payload) {
  std::string header = dict;
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 16 != 0) header += ' ';
  header += '\n';
  std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  if (major == 1) {
    out += static_cast<char>(header.size() & 0xff);
    out += static_cast<char>(header.size() >> 8);
  } else {
    out += le32(static_cast<std::uint32_t>(header.size()));
  }
  return out + header + payload;
}

void npy_corpus() {
  const std::vector<Index> s23{2, 3}, s4{4}, s222{2, 2, 2}, s03{0, 3}, s1{1};
  const float f[6] = {0.0f, -1.5f, 3.25f, 1e-30f, -0.0f, 65504.0f};
  const double d[4] = {1.0, -2.0, 1e300, 5e-324};
  const std::int64_t i8[8] = {0, 1, -1, 7, INT64_MAX, INT64_MIN, 42, -42};
  const std::int32_t i4[1] = {123456};
  const std::uint8_t u1[3] = {0, 1, 255};
  put("npy", "f4_2x3.npy", io::encode_npy(f, s23));
  put("npy", "f8_4.npy", io::encode_npy(d, s4));
  put("npy", "i8_2x2x2.npy", io::encode_npy(i8, s222));
  put("npy", "i4_1.npy", io::encode_npy(i4, s1));
  put("npy", "u1_0x3.npy", io::encode_npy(u1, s03));
  std::string truncated = io::encode_npy(f, s23);
  truncated.pop_back();
  put("npy", "near_truncated.npy", truncated);
  put("npy", "near_trailing.npy", io::encode_npy(d, s4) + "x");
  put("npy", "v2_b1.npy",
      npy_by_hand(2, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
                  std::string("\x00\x01\x00", 3)));
  put("npy", "near_b1_value.npy",
      npy_by_hand(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,)}",
                  std::string("\x01\x02", 2)));
  put("npy", "dq_u2.npy",
      npy_by_hand(1, "{\"shape\": (2, 1), \"fortran_order\": False, \"descr\": \"<u2\"}",
                  std::string("\x01\x00\xff\xff", 4)));
  {
    std::string f6;
    for (const float v : f) f6 += std::string(reinterpret_cast<const char*>(&v), 4);
    put("npy", "fortran_f4_2x3.npy",
        npy_by_hand(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f6));
  }
  put("npy", "near_bigendian.npy",
      npy_by_hand(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", le32(0)));
  put("npy", "u1_1x2x1x2.npy",
      npy_by_hand(3, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2, 1, 2), }", "wxyz"));
  put("npy", "near_5d.npy",
      npy_by_hand(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1), }", "z"));
}

void idx_corpus() {
  auto idx = [](std::uint8_t type, const std::vector<std::uint32_t>& dims, std::size_t data) {
    std::string s{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
    for (auto d : dims) s += be32(d);
    for (std::size_t i = 0; i < data; ++i) s += static_cast<char>(i * 37 % 256);
    return s;
  };
  put("idx", "images_2x3x3.idx", idx(0x08, {2, 3, 3}, 18));
  put("idx", "labels_5.idx", idx(0x08, {5}, 5));
  put("idx", "matrix_4x2.idx", idx(0x08, {4, 2}, 8));
  put("idx", "near_truncated.idx", idx(0x08, {2, 3, 3}, 17));
  put("idx", "near_trailing.idx", idx(0x08, {5}, 6));
  put("idx", "near_f32.idx", idx(0x0D, {2}, 8));
  put("idx", "near_zero_dim.idx", idx(0x08, {3, 0}, 0));
  put("idx", "near_4d.idx", idx(0x08, {1, 1, 1, 1}, 1));
}

Gpt2Config tiny_config() {
  Gpt2Config c;
  c.n_layer = 1;
  c.n_head = 1;
  c.n_embd = 2;
  c.n_positions = 2;
  c.vocab_size = 3;
  return c;
}

void safetensors_corpus() {
  // Generic files: every dtype family, metadata, scalars and empty tensors.
  {
    io::SafetensorsWriter w;
    const float x[6] = {1, 2, 3, -4, 0.5f, -0.0f};
    w.add_f32("x", {2, 3}, x);
    w.add_f32("h", {3}, x, io::SafetensorsDtype::F16);
    w.add_f32("b", {1, 2}, x, io::SafetensorsDtype::BF16);
    w.add_raw("ids", io::SafetensorsDtype::I64, {2}, std::string(16, '\x01'));
    w.add_raw("mask", io::SafetensorsDtype::BOOL, {3}, std::string("\x00\x01\x01", 3));
    w.add_raw("scalar", io::SafetensorsDtype::F64, {}, std::string(8, '\0'));
    w.add_raw("empty", io::SafetensorsDtype::U8, {0, 5}, "");
    w.set_metadata({{"format", "pt"}, {"note", "attnlab fuzz seed"}});
    const std::string all = w.encode();
    put("safetensors", "dtypes.safetensors", all);
    put("safetensors", "near_truncated.safetensors", all.substr(0, all.size() - 1));
    std::string bad_len = all;
    bad_len[0] = static_cast<char>(bad_len[0] + 8);
    put("safetensors", "near_header_length.safetensors", bad_len);
  }
  {
    io::SafetensorsWriter w;
    w.add_raw("f4", io::SafetensorsDtype::F4, {4}, std::string(2, '\x21'));
    w.add_raw("f8", io::SafetensorsDtype::F8_E4M3, {2}, std::string(2, '\x38'));
    w.add_raw("c", io::SafetensorsDtype::C64, {1}, std::string(8, '\0'));
    put("safetensors", "rare_dtypes.safetensors", w.encode());
  }
  {
    const std::string header = "{}";
    std::string s(8, '\0');
    s[0] = static_cast<char>(header.size());
    put("safetensors", "empty.safetensors", s + header);
  }
  // GPT-2 HF files for the tiny configs fuzz_safetensors loads (see safetensors_fuzz.cpp).
  const Gpt2Config c = tiny_config();
  Gpt2Config untied = c;
  untied.tie_word_embeddings = false;
  Gpt2Config decay = c;
  decay.attention.learned_decay = true;
  decay.n_layer = 2;
  Gpt2Config sink = c;
  sink.attention.learnable_sink = true;
  sink.attention.spec.window = 2;
  models::gpt2::HfWriteOptions f16;
  f16.dtype = io::SafetensorsDtype::F16;
  f16.transformer_prefix = true;
  models::gpt2::HfWriteOptions buffers;
  buffers.mask_buffers = true;
  buffers.lm_head = true;
  buffers.dtype = io::SafetensorsDtype::BF16;
  put("safetensors", "gpt2_tiny.safetensors",
      models::gpt2::encode_gpt2_safetensors(models::gpt2::random_gpt2_weights(c, 1, 0.1)));
  put("safetensors", "gpt2_tiny_f16_prefix.safetensors",
      models::gpt2::encode_gpt2_safetensors(models::gpt2::random_gpt2_weights(c, 2), f16));
  put("safetensors", "gpt2_tiny_bf16_buffers.safetensors",
      models::gpt2::encode_gpt2_safetensors(models::gpt2::random_gpt2_weights(c, 3), buffers));
  put("safetensors", "gpt2_tiny_untied.safetensors",
      models::gpt2::encode_gpt2_safetensors(models::gpt2::random_gpt2_weights(untied, 4)));
  put("safetensors", "gpt2_tiny_learned_decay.safetensors",
      models::gpt2::encode_gpt2_safetensors(models::gpt2::random_gpt2_weights(decay, 5)));
  put("safetensors", "gpt2_tiny_sink.safetensors",
      models::gpt2::encode_gpt2_safetensors(models::gpt2::random_gpt2_weights(sink, 6)));
}

void gpt2_config_corpus() {
  auto put_json = [](const std::string& name, const nlohmann::json& j) {
    put("gpt2_config", name, j.dump(2) + "\n");
  };
  put_json("gpt2_124M.json", models::gpt2::gpt2_config_json(Gpt2Config{}));
  Gpt2Config c = tiny_config();
  c.n_inner = 12;
  c.activation = models::gpt2::Activation::gelu_erf;
  c.scale_attn_by_inverse_layer_idx = true;
  c.tie_word_embeddings = false;
  put_json("tiny_untied.json", models::gpt2::gpt2_config_json(c));
  Gpt2Config r = tiny_config();
  r.position_mode = models::gpt2::PositionMode::rope;
  r.attention.spec.window = 8;
  r.attention.spec.sinks = 2;
  r.attention.learnable_sink = true;
  put_json("rope_sink.json", models::gpt2::gpt2_config_json(r));
  Gpt2Config a = tiny_config();
  a.n_head = 2;
  a.position_mode = models::gpt2::PositionMode::alibi;
  a.attention.spec.decay = {0.5, 0.25};
  a.attention.spec.topk = 4;
  a.attention.spec.normalizer = attention::Normalizer::ssmax;
  a.attention.spec.ssmax_s = 0.75;
  a.attention.learned_decay = true;
  put_json("alibi_decay_ssmax.json", models::gpt2::gpt2_config_json(a));
  Gpt2Config l = tiny_config();
  l.attention.linear = true;
  l.position_mode = models::gpt2::PositionMode::sinusoidal;
  put_json("linear_sinusoidal.json", models::gpt2::gpt2_config_json(l));
  put("gpt2_config", "hub_style.json",
      R"({"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
"attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256,
"initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024,
"n_embd": 768, "n_head": 12, "n_inner": null, "n_layer": 12, "n_positions": 1024,
"task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
"vocab_size": 50257})");
  put("gpt2_config", "near_duplicate_key.json", R"({"n_layer": 2, "n_head": 1, "n_layer": 3})");
  put("gpt2_config", "near_model_type.json", R"({"model_type": "bert", "n_layer": 2})");
  put("gpt2_config", "near_heads.json", R"({"n_embd": 10, "n_head": 3})");
  put("gpt2_config", "near_float_field.json", R"({"n_layer": 2.5, "layer_norm_epsilon": 2})");
  put("gpt2_config", "near_attention.json",
      R"({"n_layer": 1, "attnlab_attention": {"spec": {"normalizer": "softmax", "sinks": 2}, "linear": true}})");
}

void bert_config_corpus() {
  auto put_json = [](const std::string& name, const nlohmann::json& j) {
    put("bert_config", name, j.dump(2) + "\n");
  };
  put_json("minilm.json", models::bert::bert_config_json(models::bert::BertConfig{}));
  models::bert::BertConfig c;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.hidden_size = 4;
  c.intermediate_size = 8;
  c.vocab_size = 10;
  c.max_position_embeddings = 16;
  c.type_vocab_size = 1;
  c.pad_token_id = 3;
  c.layer_norm_eps = 1e-5;
  c.hidden_act = nn::GeluKind::tanh;
  put_json("tiny_tanh.json", models::bert::bert_config_json(c));
  put("bert_config", "minimal.json",
      R"({"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
"intermediate_size": 16, "vocab_size": 12})");
  put("bert_config", "near_roberta.json",
      R"({"model_type": "roberta", "hidden_size": 8, "num_hidden_layers": 1,
"num_attention_heads": 2, "intermediate_size": 16, "vocab_size": 12})");
  put("bert_config", "near_decoder.json",
      R"({"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
"intermediate_size": 16, "vocab_size": 12, "is_decoder": true, "position_embedding_type": "relative_key"})");
  put("bert_config", "near_missing.json", R"({"hidden_size": 8, "num_hidden_layers": 1})");
}

void llmc_corpus() {
  const Gpt2Config c = tiny_config();
  const auto w = models::gpt2::random_gpt2_weights(c, 11, 0.1);
  const std::string v3 = models::gpt2::encode_gpt2_llmc(w, 3);
  put("llmc", "tiny_v3.bin", v3);
  put("llmc", "tiny_v5.bin", models::gpt2::encode_gpt2_llmc(w, 5));
  Gpt2Config one = c;
  one.n_embd = 1;
  one.vocab_size = 1;
  one.n_positions = 1;
  put("llmc", "one_v5.bin",
      models::gpt2::encode_gpt2_llmc(models::gpt2::random_gpt2_weights(one, 12), 5));
  put("llmc", "near_truncated.bin", v3.substr(0, v3.size() - 4));
  std::string magic = v3;
  magic[0] ^= 1;
  put("llmc", "near_magic.bin", magic);
  std::string version = v3;
  version[4] = 4;
  put("llmc", "near_version.bin", version);
  put("llmc", "near_header_only.bin", v3.substr(0, 1024));
}

void checkpoint_corpus() {
  models::tinylm::TrainState s;
  s.step = 7;
  s.config = tiny_config();
  const std::size_t P = models::gpt2::Gpt2Layout(s.config).total;
  const auto w = models::gpt2::random_gpt2_weights(s.config, 21);
  s.params.assign(w.params.begin(), w.params.end());
  s.adam_m.assign(P, 0.001f);
  s.adam_v.assign(P, 0.0001f);
  s.options = {{"seed", 1}, {"steps", 100}, {"lr", 0.001}, {"batch", 4}};
  s.dataset = {{"sha256", "0123abcd"}, {"tokenizer", "byte-level"}, {"split", "tail"}};
  s.history = {{"curve", nlohmann::json::array({{{"step", 5}, {"loss", 5.5}}})},
               {"evals", nlohmann::json::array()}};
  const std::string good = models::tinylm::encode_checkpoint(s);
  put("checkpoint", "tiny.safetensors", good);
  models::tinylm::TrainState z = s;
  z.step = 0;
  z.options = nlohmann::json::object();
  z.dataset = nlohmann::json::object();
  z.history = nlohmann::json::object();
  z.config.attention.learned_decay = true;
  z.params.assign(models::gpt2::Gpt2Layout(z.config).total, 0.0f);
  z.adam_m = z.params;
  z.adam_v = z.params;
  put("checkpoint", "fresh_learned_decay.safetensors", models::tinylm::encode_checkpoint(z));
  put("checkpoint", "near_truncated.safetensors", good.substr(0, good.size() - 1));
  // Same tensors, metadata off by one field each.
  auto with_meta = [&](std::map<std::string, std::string> meta) {
    io::SafetensorsWriter w2;
    const std::vector<Index> shape{static_cast<Index>(P)};
    w2.add_f32("params", shape, s.params.data());
    w2.add_f32("adam_m", shape, s.adam_m.data());
    w2.add_f32("adam_v", shape, s.adam_v.data());
    w2.set_metadata(std::move(meta));
    return w2.encode();
  };
  const std::string state =
      nlohmann::json{{"step", 3}, {"config", models::gpt2::gpt2_config_json(s.config)}}.dump();
  put("checkpoint", "minimal_state.safetensors",
      with_meta({{"format", "attnlab-train-checkpoint"}, {"version", "1"}, {"state", state}}));
  put("checkpoint", "near_version.safetensors",
      with_meta({{"format", "attnlab-train-checkpoint"}, {"version", "2"}, {"state", state}}));
  put("checkpoint", "near_state.safetensors",
      with_meta({{"format", "attnlab-train-checkpoint"},
                 {"version", "1"},
                 {"state", R"({"step": -1, "config": {}})"}}));
}

void bpe_corpus() {
  put("bpe", "hello.txt", "Hello world, it's the 123rd test.\n");
  put("bpe", "spaces.txt", "a  b   c\t\td\n\n\n  e   \r\n");
  put("bpe", "contractions.txt", "I'll we've they're she'd don't It'S 'm 'll\n");
  put("bpe", "unicode.txt",
      "caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 \xd9\xa3\n");
  put("bpe", "invalid_utf8.txt", "\xff\xfe a\x80 \xc0\xaf \xed\xa0\x80 \xe2\x82");
  put("bpe", "special.txt", "the end<|endoftext|>the start <|endoftext|>\n");
  put("bpe", "numbers.txt", "3.14159 1,000,000 12312 x2 \xd9\xa1\xd9\xa2\n");
}

void bpe_vocab_corpus() {
  const std::string nul(1, '\0');
  const auto byte_level = models::gpt2::BpeTokenizer::byte_level();
  put("bpe_vocab", "byte_level.bin",
      byte_level.vocab_json() + nul + byte_level.merges_txt() + nul + "Hello world");
  const auto [vocab, merges] = fuzz::small_bpe_files(fuzz::small_bpe_merges(), true);
  const auto small = models::gpt2::BpeTokenizer::parse(vocab, merges, "seed");
  put("bpe_vocab", "small_merges.bin",
      small.vocab_json() + nul + small.merges_txt() + nul + "the thing in the hell<|endoftext|>");
  const auto [v2, m2] = fuzz::small_bpe_files({{"a", "b"}, {"ab", "c"}, {"c", "d"}}, false);
  put("bpe_vocab", "few_merges_crlf.bin",
      v2 + nul + "#version: 0.2\r\na b\r\nab c\r\nc d" + nul + "abcd abcabc");
  // Unordered: a rule uses "ab" before the rule that makes it.
  const auto [v3, m3] = fuzz::small_bpe_files({{"a", "b"}, {"ab", "ab"}}, false);
  put("bpe_vocab", "unordered.bin", v3 + nul + "ab ab\na b\n" + nul + "ababab abab");
  put("bpe_vocab", "near_missing_symbol.bin", v2 + nul + "a b\nx y\n" + nul + "ab");
  put("bpe_vocab", "near_repeated_rule.bin", v2 + nul + "a b\na b\n" + nul + "ab");
}

void wordpiece_corpus() {
  const std::string vocab =
      "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nquick\nbrown\nfox\n##es\njump\n##ed\n##s\n"
      "over\nlazy\ndog\n,\n.\n!\nhello\nworld\nque\n##bec\n\xe6\x97\xa5\nun\n##aff\n##able\n";
  const std::string flags_default(1, '\x0f');  // lowercase, strip accents, chinese chars
  put("wordpiece", "basic.bin",
      flags_default + vocab + "\n" + "The QUICK brown foxes jumped over the lazy dog!");
  put("wordpiece", "specials.bin",
      flags_default + vocab + "\n" + "[CLS] hello [SEP] world [MASK][PAD]unaffable");
  put("wordpiece", "unicode.bin",
      std::string(1, '\x09') + vocab + "\n" +
          "Qu\xc3\xa9"
          "bec \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e caf\xc3\xa9\t\xe2\x80\x8b x\xcc\x81 "
          "\xea\xb0\x80 \xc4\xb0stanbul");
  put("wordpiece", "split_specials.bin",
      std::string(1, '\x11') + vocab + "\n" + "[SEP]x[UNK] over,and,over.");
  put("wordpiece", "crlf_vocab.bin",
      std::string(1, '\x01') + "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nab\r\n##c\r\n\n" + "abc ab");
  put("wordpiece", "with_config.bin",
      std::string(1, '\x80') + vocab + "\n" + "Hello WORLD caf\xc3\xa9" + "\n\n" +
          R"({"do_lower_case": false, "strip_accents": null, "tokenize_chinese_chars": true})");
  put("wordpiece", "near_duplicate.bin",
      flags_default + "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\nthe\n\n" + "the");
  put("wordpiece", "near_no_unk.bin", flags_default + "[PAD]\n[CLS]\n[SEP]\na\n\n" + "a");
}

void attention_and_json_corpus() {
  // The --attention mini-language.
  const char* items[] = {"full",
                         "window=256,sinks=4",
                         "decay=0.5:0.25:0.125",
                         "alibi, topk=8, sparsemax",
                         "ssmax,ssmax_s=0.5,temperature=8",
                         "normalizer=entmax15,window=3",
                         "linear",
                         "learned_decay,window=64",
                         "learnable_sink,window=8,sinks=1",
                         "",
                         "near: sinks=4",
                         "window=0",
                         "normalizer=none",
                         "decay=-1",
                         "topk=1e3",
                         "window=99999999999999999999"};
  int k = 0;
  for (const char* s : items) put("attention_override", str_cat("spec_", k++, ".txt"), s);

  // AttentionSpec and ModelAttention JSON.
  k = 0;
  auto spec_json = [&](const attention::AttentionSpec& s) {
    put("attention_spec_json", str_cat("spec_", k++, ".json"), s.to_json().dump());
  };
  attention::AttentionSpec s;
  spec_json(s);
  s.causal = true;
  s.window = 64;
  s.sinks = 4;
  s.alibi = true;
  spec_json(s);
  attention::AttentionSpec t;
  t.normalizer = attention::Normalizer::ssmax;
  t.temperature = 8;
  t.ssmax_s = 0.3;
  t.decay = {0.1, 0.2};
  t.topk = 16;
  spec_json(t);
  models::gpt2::ModelAttention a;
  a.learnable_sink = true;
  a.spec.window = 16;
  put("attention_spec_json", "model_sink.json", a.to_json().dump());
  models::gpt2::ModelAttention l;
  l.linear = true;
  put("attention_spec_json", "model_linear.json", l.to_json().dump());
  put("attention_spec_json", "near_normalizer.json", R"({"normalizer": "softermax"})");
  put("attention_spec_json", "near_types.json",
      R"({"normalizer": "softmax", "window": 2.5, "causal": 1, "decay": [0.5, "x"]})");
  put("attention_spec_json", "near_model_field.json",
      R"({"spec": {"normalizer": "sparsemax"}, "linear": true, "extra": 1})");

  // Strict JSON: nesting, duplicates, escapes, numbers (first byte = max_depth - 1).
  put("json_strict", "object.json",
      std::string(1, '\x3f') +
          R"({"a": [1, 2.5, -3e-7, true, null], "b": {"c": "\u00e9\ud83d\ude00"}})");
  put("json_strict", "depth3.json", std::string(1, '\x02') + "[[[1]]]");
  put("json_strict", "near_depth.json", std::string(1, '\x01') + "[[[1]]]");
  put("json_strict", "near_duplicate.json", std::string(1, '\x3f') + R"({"x": {"y": 1, "y": 2}})");
  put("json_strict", "near_comment.json", std::string(1, '\x3f') + "{\"a\": 1 /* no */}");
  put("json_strict", "near_trailing.json", std::string(1, '\x3f') + std::string("[1, 2]\n\0", 8));
  put("json_strict", "bignum.json",
      std::string(1, '\x3f') + "[18446744073709551615, -9223372036854775808, 1e308, 1e400]");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_corpus OUT_DIR   (e.g. tests/fuzz/corpus)\n";
    return 2;
  }
  try {
    g_root = argv[1];
    npy_corpus();
    idx_corpus();
    safetensors_corpus();
    gpt2_config_corpus();
    bert_config_corpus();
    llmc_corpus();
    checkpoint_corpus();
    bpe_corpus();
    bpe_vocab_corpus();
    wordpiece_corpus();
    attention_and_json_corpus();
  } catch (const std::exception& e) {
    std::cerr << "fuzz_make_corpus: " << e.what() << "\n";
    return 1;
  }
  std::cout << "fuzz_make_corpus: wrote " << g_written << " seed files under " << g_root.string()
            << "\n";
  return 0;
}
