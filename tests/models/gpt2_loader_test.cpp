// GPT-2 config and checkpoint loaders on broken files: every case is a FormatError (or an
// InputError for missing files) whose message names the file and the field or tensor at fault.
// Also: the config round trip, HF naming variants (prefix, mask buffers, tied lm_head, F16),
// and the llm.c layout (transposes, padded vocabulary) against the HF loader.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>

#include "attnlab/core/error.hpp"
#include "attnlab/io/safetensors.hpp"
#include "attnlab/models/gpt2/config.hpp"
#include "attnlab/models/gpt2/weights.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {

namespace fs = std::filesystem;
using models::gpt2::Gpt2Config;
using models::gpt2::Gpt2Weights;

Gpt2Config tiny_config() {
  Gpt2Config c;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 8;
  c.n_positions = 16;
  c.vocab_size = 20;
  return c;
}

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Expects `fn` to throw FormatError mentioning every string in `mentions`.
void expect_format_error(const std::function<void()>& fn, std::vector<std::string> mentions) {
  try {
    fn();
    ADD_FAILURE() << "no error";
  } catch (const FormatError& e) {
    const std::string msg = e.what();
    for (const auto& m : mentions)
      EXPECT_NE(msg.find(m), std::string::npos) << "missing '" << m << "' in: " << msg;
  }
}

TEST(Gpt2Config, ParsesTheHubConfigAndRoundTrips) {
  const std::string hub = R"({
    "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
    "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768,
    "n_head": 12, "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1,
    "summary_activation": null, "summary_first_dropout": 0.1, "summary_proj_to_labels": true,
    "summary_type": "cls_index", "summary_use_proj": true,
    "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
    "vocab_size": 50257})";
  const Gpt2Config c = models::gpt2::parse_gpt2_config(hub, "config.json");
  EXPECT_EQ(c.n_layer, 12);
  EXPECT_EQ(c.head_dim(), 64);
  EXPECT_EQ(c.ffn_dim(), 3072);
  EXPECT_EQ(c.parameter_count(), 124439808u);  // the "124M" of GPT-2 small
  const Gpt2Config back =
      models::gpt2::parse_gpt2_config(models::gpt2::gpt2_config_json(c).dump(), "round trip");
  EXPECT_EQ(back.n_embd, c.n_embd);
  EXPECT_EQ(back.vocab_size, c.vocab_size);
  EXPECT_EQ(back.layer_norm_epsilon, c.layer_norm_epsilon);
}

TEST(Gpt2Config, RejectsBrokenConfigsNamingTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"n_embd": 768)", "invalid JSON"},
      {R"({"n_embd": 768, "n_embd": 769})", "duplicate JSON key 'n_embd'"},
      {R"({"n_embd": "768"})", "'n_embd' must be an integer"},
      {R"({"n_embd": 770, "n_head": 12})", "n_embd = 770 (must be a multiple of n_head)"},
      {R"({"n_layer": -1})", "'n_layer' = -1"},
      {R"({"activation_function": "relu"})", "'activation_function'"},
      {R"({"model_type": "llama"})", "'model_type'"},
      {R"({"layer_norm_epsilon": "tiny"})", "'layer_norm_epsilon'"},
      {R"({"scale_attn_weights": 1})", "'scale_attn_weights' must be true or false"},
      {R"({"vocab_size": 100000000})", "vocab_size"},
      {R"([1, 2])", "JSON object"},
  };
  for (const auto& [text, mention] : cases) {
    SCOPED_TRACE(text);
    expect_format_error([&] { models::gpt2::parse_gpt2_config(text, "my/config.json"); },
                        {"my/config.json", mention});
  }
}

// Rebuilds a model.safetensors from `w`, letting `edit` change the tensor list first.
struct Entry {
  std::string name;
  io::SafetensorsDtype dtype;
  std::vector<Index> shape;
  std::string bytes;
};

std::string rebuild(const Gpt2Weights& w, const std::function<void(std::vector<Entry>&)>& edit) {
  const auto f = io::SafetensorsFile::from_bytes(models::gpt2::encode_gpt2_safetensors(w));
  std::vector<Entry> entries;
  for (const auto& t : f.tensors()) {
    std::vector<Index> shape;
    for (auto d : t.shape) shape.push_back(static_cast<Index>(d));
    const auto b = f.bytes(t);
    entries.push_back(
        {t.name, t.dtype, shape, std::string(reinterpret_cast<const char*>(b.data()), b.size())});
  }
  edit(entries);
  io::SafetensorsWriter out;
  for (auto& e : entries) out.add_raw(e.name, e.dtype, e.shape, e.bytes);
  return out.encode();
}

Entry* find(std::vector<Entry>& es, const std::string& name) {
  for (auto& e : es)
    if (e.name == name) return &e;
  return nullptr;
}

TEST(Gpt2HfLoader, RejectsBrokenCheckpointsNamingFileAndTensor) {
  const Gpt2Config c = tiny_config();
  const Gpt2Weights w = models::gpt2::random_gpt2_weights(c, 3);
  testing::TempDir dir;
  write(dir / "config.json", models::gpt2::gpt2_config_json(c).dump(2));
  struct Case {
    const char* name;
    std::function<void(std::vector<Entry>&)> edit;
    std::vector<std::string> mentions;
  };
  const std::vector<Case> cases = {
      {"missing_tensor",
       [](auto& es) {
         es.erase(es.begin() +
                  static_cast<long>(std::distance(es.data(), find(es, "h.1.mlp.c_fc.bias"))));
       },
       {"missing tensor 'h.1.mlp.c_fc.bias'"}},
      {"unknown_tensor",
       [](auto& es) {
         es.push_back(
             {"h.0.attn.c_attn.lora", io::SafetensorsDtype::F32, {2}, std::string(8, '\0')});
       },
       {"unexpected tensor 'h.0.attn.c_attn.lora'"}},
      {"layer_beyond_config",
       [](auto& es) {
         es.push_back({"h.2.ln_1.weight", io::SafetensorsDtype::F32, {8}, std::string(32, '\0')});
       },
       {"'h.2.ln_1.weight'", "n_layer=2"}},
      {"shape_mismatch_with_config",
       [](auto& es) {
         Entry* e = find(es, "wte.weight");
         e->shape = {21, 8};
         e->bytes.append(32, '\0');
       },
       {"'wte.weight'", "[21, 8]", "vocab_size, n_embd", "[20, 8]"}},
      {"transposed_weight",
       [](auto& es) {
         find(es, "h.0.attn.c_attn.weight")->shape = {24, 8};
       },
       {"'h.0.attn.c_attn.weight'", "looks transposed"}},
      {"wrong_dtype",
       [](auto& es) { find(es, "ln_f.bias")->dtype = io::SafetensorsDtype::I32; },
       {"'ln_f.bias'", "I32"}},
      {"prefix_duplicate",
       [](auto& es) {
         Entry copy = *find(es, "wpe.weight");
         copy.name = "transformer.wpe.weight";
         es.push_back(copy);
       },
       {"duplicates", "wpe.weight"}},
      {"non_finite_weight",
       [](auto& es) {
         const float nan = std::nanf("");
         std::memcpy(find(es, "h.1.ln_2.weight")->bytes.data() + 12, &nan, 4);
       },
       {"'h.1.ln_2.weight'", "non-finite", "index 3"}},
      {"tied_lm_head_wrong_shape",
       [](auto& es) {
         es.push_back({"lm_head.weight", io::SafetensorsDtype::F32, {2, 8}, std::string(64, '\0')});
       },
       {"'lm_head.weight'", "vocab_size, n_embd"}},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    write(dir / "model.safetensors", rebuild(w, k.edit));
    auto mentions = k.mentions;
    mentions.push_back((dir / "model.safetensors").string());
    expect_format_error([&] { models::gpt2::load_gpt2_hf(dir.path()); }, mentions);
  }
  // A truncated file fails in the safetensors layer, still naming the file.
  const std::string good = models::gpt2::encode_gpt2_safetensors(w);
  write(dir / "model.safetensors", good.substr(0, good.size() - 5));
  expect_format_error([&] { models::gpt2::load_gpt2(dir.path()); },
                      {(dir / "model.safetensors").string(), "truncated"});
  // A config that disagrees with the tensors.
  Gpt2Config wide = c;
  wide.n_embd = 16;
  write(dir / "model.safetensors", good);
  write(dir / "config.json", models::gpt2::gpt2_config_json(wide).dump());
  expect_format_error([&] { models::gpt2::load_gpt2(dir.path()); }, {"n_embd", "expects"});
}

TEST(Gpt2HfLoader, MissingFilesNameWhatIsNeededAndWhereItComesFrom) {
  testing::TempDir dir;
  auto expect_hint = [](const std::function<void()>& fn, const std::string& needed) {
    try {
      fn();
      ADD_FAILURE() << "no error";
    } catch (const FormatError& e) {
      ADD_FAILURE() << "FormatError for a missing file: " << e.what();
    } catch (const InputError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(needed), std::string::npos) << msg;
      EXPECT_NE(msg.find("openai-community/gpt2"), std::string::npos) << msg;
      EXPECT_NE(msg.find("gpt2_124M.bin"), std::string::npos) << msg;
      EXPECT_NE(msg.find("cannot download"), std::string::npos) << msg;
    }
  };
  expect_hint([&] { models::gpt2::load_gpt2(dir.path()); }, "model.safetensors");
  expect_hint([&] { models::gpt2::load_gpt2(dir / "nope"); }, "nope");
  write(dir / "model.safetensors", "x");
  expect_hint([&] { models::gpt2::load_gpt2(dir.path()); }, "config.json");
}

TEST(Gpt2LlmcLoader, RejectsBrokenHeadersAndSizes) {
  const Gpt2Config c = tiny_config();
  const Gpt2Weights w = models::gpt2::random_gpt2_weights(c, 4);
  const std::string good = models::gpt2::encode_gpt2_llmc(w, 3);
  auto with_header = [&](int index, std::int32_t value) {
    std::string b = good;
    std::memcpy(b.data() + 4 * index, &value, 4);
    return b;
  };
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {good.substr(0, 100), {"fewer than llm.c's 1024-byte header"}},
      {with_header(0, 20240328), {"magic", "tokenizer"}},
      {with_header(1, 4), {"version = 4", "3 = fp32"}},
      {with_header(4, 0), {"num_layers", "must be > 0"}},
      {with_header(6, 9), {"n_embd = 9", "multiple of n_head"}},
      {with_header(7, 19), {"padded_vocab_size = 19"}},
      {good.substr(0, good.size() - 4), {"truncated file"}},
      {good + "xxxx", {"trailing bytes"}},
      {with_header(2, 1 << 20), {"implies"}},
  };
  for (const auto& [bytes, mentions] : cases) {
    auto m = mentions;
    m.push_back("ckpt.bin");
    expect_format_error([&] { models::gpt2::parse_gpt2_llmc(bytes, "ckpt.bin"); }, m);
  }
  // The llm.c layout really is transposed and padded: its bytes differ from a plain copy, yet it
  // loads back to the same parameters.
  const Gpt2Weights back = models::gpt2::parse_gpt2_llmc(good, "ok.bin");
  EXPECT_EQ(back.params.size(), w.params.size());
  EXPECT_TRUE(std::equal(back.params.begin(), back.params.end(), w.params.begin()));
  std::int32_t header[8];
  std::memcpy(header, good.data(), sizeof header);
  EXPECT_EQ(header[7], 128);  // vocabulary padded to a multiple of 128
}

TEST(Gpt2HfLoader, AcceptsF16AndNamingVariants) {
  const Gpt2Config c = tiny_config();
  const Gpt2Weights w = models::gpt2::random_gpt2_weights(c, 5, 0.1);
  testing::TempDir dir;
  models::gpt2::HfWriteOptions o;
  o.dtype = io::SafetensorsDtype::F16;
  o.transformer_prefix = true;
  o.mask_buffers = true;
  o.lm_head = true;
  models::gpt2::save_gpt2_hf(w, dir.path(), o);
  const Gpt2Weights back = models::gpt2::load_gpt2(dir.path());
  double worst = 0;
  for (std::size_t i = 0; i < w.params.size(); ++i)
    worst = std::max(worst, std::abs(double(back.params[i]) - w.params[i]) /
                                std::max(1e-3, std::abs(double(w.params[i]))));
  EXPECT_LT(worst, 1e-3);  // F16 keeps 11 significant bits
  EXPECT_EQ(back.source, (dir / "model.safetensors").string());
}

}  // namespace
}  // namespace attnlab
