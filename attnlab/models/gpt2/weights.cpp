#include "attnlab/models/gpt2/weights.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include <numbers>

#include "attnlab/attention/positional.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/io/float16.hpp"

namespace attnlab::models::gpt2 {
namespace fs = std::filesystem;

// ---- layout and views -------------------------------------------------------------------------

Gpt2Layout::Gpt2Layout(const Gpt2Config& c) {
  const auto C = static_cast<std::size_t>(c.n_embd), F = static_cast<std::size_t>(c.ffn_dim());
  const auto V = static_cast<std::size_t>(c.vocab_size);
  const auto P = static_cast<std::size_t>(c.n_positions);
  std::size_t at = 0;
  auto take = [&at](std::size_t n) {
    const std::size_t o = at;
    at += n;
    return o;
  };
  wte = take(V * C);
  wpe = take(P * C);
  // Per-layer offsets relative to the layer's start.
  std::size_t in = 0;
  auto take_in = [&in](std::size_t n) {
    const std::size_t o = in;
    in += n;
    return o;
  };
  ln1_w = take_in(C);
  ln1_b = take_in(C);
  qkv_w = take_in(C * 3 * C);
  qkv_b = take_in(3 * C);
  proj_w = take_in(C * C);
  proj_b = take_in(C);
  ln2_w = take_in(C);
  ln2_b = take_in(C);
  fc_w = take_in(C * F);
  fc_b = take_in(F);
  fcproj_w = take_in(F * C);
  fcproj_b = take_in(C);
  const auto H = static_cast<std::size_t>(c.n_head);
  if (c.attention.learned_decay) decay_rate = take_in(H);
  if (c.attention.learnable_sink) {
    sink_k = take_in(C);
    sink_v = take_in(C);
  }
  layer_stride = in;
  layer_base0 = take(layer_stride * static_cast<std::size_t>(c.n_layer));
  lnf_w = take(C);
  lnf_b = take(C);
  lm_head = c.tie_word_embeddings ? wte : take(V * C);
  total = at;
}

Gpt2Weights Gpt2Weights::zeros(const Gpt2Config& config) {
  config.validate();
  Gpt2Weights w;
  w.config = config;
  w.params.assign(Gpt2Layout(config).total, 0.0f);
  return w;
}

const float* Gpt2Weights::wte() const {
  return params.data() + layout().wte;
}
const float* Gpt2Weights::wpe() const {
  return params.data() + layout().wpe;
}
const float* Gpt2Weights::lnf_w() const {
  return params.data() + layout().lnf_w;
}
const float* Gpt2Weights::lnf_b() const {
  return params.data() + layout().lnf_b;
}
const float* Gpt2Weights::lm_head() const {
  return params.data() + layout().lm_head;
}
float* Gpt2Weights::wte() {
  return params.data() + layout().wte;
}
float* Gpt2Weights::wpe() {
  return params.data() + layout().wpe;
}
float* Gpt2Weights::lnf_w() {
  return params.data() + layout().lnf_w;
}
float* Gpt2Weights::lnf_b() {
  return params.data() + layout().lnf_b;
}
float* Gpt2Weights::lm_head() {
  return params.data() + layout().lm_head;
}

namespace {
template <class T, class P>
LayerParams<T> make_layer(P* base, const Gpt2Layout& g, Index l) {
  P* b = base + g.layer_base(l);
  auto optional = [b](std::size_t off) -> P* {
    return off == Gpt2Layout::kAbsent ? nullptr : b + off;
  };
  return {b + g.ln1_w,
          b + g.ln1_b,
          b + g.qkv_w,
          b + g.qkv_b,
          b + g.proj_w,
          b + g.proj_b,
          b + g.ln2_w,
          b + g.ln2_b,
          b + g.fc_w,
          b + g.fc_b,
          b + g.fcproj_w,
          b + g.fcproj_b,
          optional(g.decay_rate),
          optional(g.sink_k),
          optional(g.sink_v)};
}
}  // namespace

LayerParams<const float> Gpt2Weights::layer(Index l) const {
  if (l < 0 || l >= config.n_layer) {
    throw UsageError(
        str_cat("Gpt2Weights::layer: layer ", l, " outside [0, ", config.n_layer, ")"));
  }
  return make_layer<const float>(params.data(), layout(), l);
}

LayerParams<float> Gpt2Weights::layer(Index l) {
  if (l < 0 || l >= config.n_layer) {
    throw UsageError(
        str_cat("Gpt2Weights::layer: layer ", l, " outside [0, ", config.n_layer, ")"));
  }
  return make_layer<float>(params.data(), layout(), l);
}

double retnet_decay_rate(Index h) {
  return -std::log1p(-std::ldexp(1.0, static_cast<int>(-5 - h)));
}

void fill_sinusoidal_wpe(Gpt2Weights& w) {
  const Index P = w.config.n_positions, C = w.config.n_embd;
  // sin/cos entries have RMS 1/√2: scale to RMS 0.02, the scale of the token embeddings at init.
  const MatrixD table = attention::sinusoidal_table(P, C, 0) * (0.02 * std::numbers::sqrt2);
  float* wpe = w.wpe();
  for (Index p = 0; p < P; ++p)
    for (Index c = 0; c < C; ++c) wpe[p * C + c] = static_cast<float>(table(p, c));
}

Gpt2Weights random_gpt2_weights(const Gpt2Config& config, std::uint64_t seed, double perturb) {
  Gpt2Weights w = Gpt2Weights::zeros(config);
  const Index C = config.n_embd, F = config.ffn_dim(), V = config.vocab_size;
  const Index P = config.n_positions;
  const double std_w = 0.02, std_res = 0.02 / std::sqrt(2.0 * static_cast<double>(config.n_layer));
  Rng rng(seed);
  auto normal = [&rng](float* p, Index n, double sd) { rng.fill_normal(p, n, 0.0, sd); };
  auto around = [&](float* p, Index n, double center) {
    for (Index i = 0; i < n; ++i) p[i] = static_cast<float>(center);
    if (perturb > 0) {
      for (Index i = 0; i < n; ++i) p[i] += static_cast<float>(perturb * rng.normal());
    }
  };
  normal(w.wte(), V * C, std_w);
  if (config.position_mode == PositionMode::learned) normal(w.wpe(), P * C, 0.01);
  if (config.position_mode == PositionMode::sinusoidal) fill_sinusoidal_wpe(w);
  for (Index l = 0; l < config.n_layer; ++l) {
    auto L = w.layer(l);
    around(L.ln1_w, C, 1.0);
    around(L.ln1_b, C, 0.0);
    normal(L.qkv_w, C * 3 * C, std_w);
    around(L.qkv_b, 3 * C, 0.0);
    normal(L.proj_w, C * C, std_res);
    around(L.proj_b, C, 0.0);
    around(L.ln2_w, C, 1.0);
    around(L.ln2_b, C, 0.0);
    normal(L.fc_w, C * F, std_w);
    around(L.fc_b, F, 0.0);
    normal(L.fcproj_w, F * C, std_res);
    around(L.fcproj_b, C, 0.0);
    if (L.decay_rate) {
      for (Index h = 0; h < config.n_head; ++h)
        L.decay_rate[h] = static_cast<float>(retnet_decay_rate(h));
    }
    if (L.sink_k) {
      normal(L.sink_k, C, std_w);
      normal(L.sink_v, C, std_w);
    }
  }
  around(w.lnf_w(), C, 1.0);
  around(w.lnf_b(), C, 0.0);
  if (!config.tie_word_embeddings) normal(w.lm_head(), V * C, std_w);
  w.source = str_cat("random GPT-2 weights (seed ", seed, ")");
  return w;
}

std::string gpt2_files_hint() {
  return "GPT-2 files usually come from the Hugging Face hub (openai-community/gpt2: "
         "model.safetensors, config.json, vocab.json, merges.txt) or llm.c's gpt2_124M.bin; "
         "attnlab cannot download them: fetch them on a connected machine and pass their "
         "directory";
}

// ---- Hugging Face safetensors -----------------------------------------------------------------

namespace {

struct Expected {
  std::size_t offset;
  std::vector<std::uint64_t> shape;
  const char* fields;  // the config fields the shape comes from
};

std::string shape_str(const std::vector<std::uint64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Every HF parameter name (without prefix) -> where it goes and its expected shape.
std::map<std::string, Expected> expected_hf_tensors(const Gpt2Config& c) {
  const Gpt2Layout g(c);
  const auto C = static_cast<std::uint64_t>(c.n_embd), F = static_cast<std::uint64_t>(c.ffn_dim());
  const auto V = static_cast<std::uint64_t>(c.vocab_size);
  const auto P = static_cast<std::uint64_t>(c.n_positions);
  std::map<std::string, Expected> m;
  m["wte.weight"] = {g.wte, {V, C}, "vocab_size, n_embd"};
  m["wpe.weight"] = {g.wpe, {P, C}, "n_positions, n_embd"};
  m["ln_f.weight"] = {g.lnf_w, {C}, "n_embd"};
  m["ln_f.bias"] = {g.lnf_b, {C}, "n_embd"};
  if (!c.tie_word_embeddings) m["lm_head.weight"] = {g.lm_head, {V, C}, "vocab_size, n_embd"};
  for (Index l = 0; l < c.n_layer; ++l) {
    const std::size_t b = g.layer_base0 + g.layer_stride * static_cast<std::size_t>(l);
    const std::string p = "h." + std::to_string(l) + ".";
    m[p + "ln_1.weight"] = {b + g.ln1_w, {C}, "n_embd"};
    m[p + "ln_1.bias"] = {b + g.ln1_b, {C}, "n_embd"};
    m[p + "attn.c_attn.weight"] = {b + g.qkv_w, {C, 3 * C}, "n_embd"};
    m[p + "attn.c_attn.bias"] = {b + g.qkv_b, {3 * C}, "n_embd"};
    m[p + "attn.c_proj.weight"] = {b + g.proj_w, {C, C}, "n_embd"};
    m[p + "attn.c_proj.bias"] = {b + g.proj_b, {C}, "n_embd"};
    m[p + "ln_2.weight"] = {b + g.ln2_w, {C}, "n_embd"};
    m[p + "ln_2.bias"] = {b + g.ln2_b, {C}, "n_embd"};
    m[p + "mlp.c_fc.weight"] = {b + g.fc_w, {C, F}, "n_embd, n_inner"};
    m[p + "mlp.c_fc.bias"] = {b + g.fc_b, {F}, "n_inner"};
    m[p + "mlp.c_proj.weight"] = {b + g.fcproj_w, {F, C}, "n_embd, n_inner"};
    m[p + "mlp.c_proj.bias"] = {b + g.fcproj_b, {C}, "n_embd"};
    const auto H = static_cast<std::uint64_t>(c.n_head), d = C / H;
    if (g.decay_rate != Gpt2Layout::kAbsent) {
      m[p + "attn.decay_rate"] = {
          b + g.decay_rate, {H}, "n_head (attnlab_attention.learned_decay)"};
    }
    if (g.sink_k != Gpt2Layout::kAbsent) {
      m[p + "attn.sink_k"] = {
          b + g.sink_k, {H, d}, "n_head, n_embd (attnlab_attention.learnable_sink)"};
      m[p + "attn.sink_v"] = {
          b + g.sink_v, {H, d}, "n_head, n_embd (attnlab_attention.learnable_sink)"};
    }
  }
  return m;
}

// "h.<l>.attn.bias" or "h.<l>.attn.masked_bias" with l < L: a causal-mask buffer, not a parameter.
bool is_mask_buffer(const std::string& name, Index n_layer) {
  if (name.rfind("h.", 0) != 0) return false;
  std::size_t i = 2;
  Index l = 0;
  if (i >= name.size() || !std::isdigit(static_cast<unsigned char>(name[i]))) return false;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) {
    l = l * 10 + (name[i] - '0');
    if (l > (Index{1} << 20)) return false;
    ++i;
  }
  const std::string rest = name.substr(i);
  return l < n_layer && (rest == ".attn.bias" || rest == ".attn.masked_bias");
}

void check_finite(const float* p, std::size_t n, std::string_view source, const std::string& name) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(p[i])) {
      throw FormatError(str_cat(source, ": tensor '", name, "' holds a non-finite value (", p[i],
                                ") at flat index ", i));
    }
  }
}

}  // namespace

Gpt2Weights parse_gpt2_hf(const io::SafetensorsFile& file, const Gpt2Config& config) {
  config.validate(file.source());
  const std::string src = str_cat("GPT-2 safetensors '", file.source(), "'");
  const auto expected = expected_hf_tensors(config);
  // Pass 1: names, shapes and dtypes against config.json. Nothing is allocated from the config
  // until every expected tensor was found in the file with its expected shape, so the allocation
  // below is backed by bytes that exist.
  std::map<std::string, std::string> found;  // base name -> name in the file
  std::vector<std::pair<const io::SafetensorsTensor*, const Expected*>> plan;
  for (const auto& t : file.tensors()) {
    std::string base = t.name;
    if (base.rfind("transformer.", 0) == 0) base = base.substr(12);
    if (is_mask_buffer(base, config.n_layer)) continue;
    if (base == "lm_head.weight" && config.tie_word_embeddings) {
      const std::vector<std::uint64_t> want{static_cast<std::uint64_t>(config.vocab_size),
                                            static_cast<std::uint64_t>(config.n_embd)};
      if (t.shape != want) {
        throw FormatError(str_cat(src, ": tied tensor 'lm_head.weight' has shape ",
                                  shape_str(t.shape), ", config.json (vocab_size, n_embd) expects ",
                                  shape_str(want)));
      }
      continue;  // tied: the output projection is wte
    }
    const auto e = expected.find(base);
    if (e == expected.end()) {
      throw FormatError(
          str_cat(src, ": unexpected tensor '", t.name, "' (shape ", shape_str(t.shape),
                  "): not a GPT-2 parameter for config.json with n_layer=", config.n_layer,
                  config.tie_word_embeddings ? "" : " and untied embeddings"));
    }
    if (const auto prev = found.find(base); prev != found.end()) {
      throw FormatError(str_cat(src, ": tensor '", t.name, "' duplicates '", prev->second,
                                "' (same parameter with and without the 'transformer.' prefix)"));
    }
    found[base] = t.name;
    const Expected& x = e->second;
    if (t.shape != x.shape) {
      std::string hint;
      if (t.shape.size() == 2 && x.shape.size() == 2 && t.shape[0] == x.shape[1] &&
          t.shape[1] == x.shape[0] && x.shape[0] != x.shape[1]) {
        hint =
            " (looks transposed: [out, in] is PyTorch Linear / llm.c layout; Hugging Face "
            "GPT-2 stores Conv1D [in, out])";
      }
      throw FormatError(str_cat(src, ": tensor '", t.name, "' has shape ", shape_str(t.shape),
                                ", config.json (", x.fields, ") expects ", shape_str(x.shape),
                                hint));
    }
    if (!io::dtype_converts_to_f32(t.dtype)) {
      throw FormatError(str_cat(src, ": tensor '", t.name, "' has dtype ", io::to_string(t.dtype),
                                "; GPT-2 weights must be F32, F16, BF16 or F64"));
    }
    plan.emplace_back(&t, &x);
  }
  for (const auto& [name, x] : expected) {
    if (!found.count(name)) {
      throw FormatError(str_cat(src, ": missing tensor '", name, "' (shape ", shape_str(x.shape),
                                "), neither with nor without the 'transformer.' prefix"));
    }
  }
  // Pass 2: copy.
  Gpt2Weights w = Gpt2Weights::zeros(config);
  for (const auto& [t, x] : plan) {
    float* dst = w.params.data() + x->offset;
    file.read_f32_into(*t, dst);
    check_finite(dst, static_cast<std::size_t>(t->numel), src, t->name);
  }
  w.source = file.source();
  return w;
}

Gpt2Weights load_gpt2_hf(const fs::path& path) {
  std::error_code ec;
  fs::path model = path, dir = path;
  if (fs::is_directory(path, ec)) {
    model = path / "model.safetensors";
  } else {
    dir = path.parent_path();
  }
  const fs::path config = dir / "config.json";
  if (!fs::exists(model, ec) || !fs::exists(config, ec)) {
    throw InputError(str_cat("GPT-2 model files missing: need '", model.string(), "' and '",
                             config.string(), "' (",
                             !fs::exists(model, ec) ? "no model.safetensors" : "no config.json",
                             "); ", gpt2_files_hint()));
  }
  const Gpt2Config c = load_gpt2_config(config);
  const io::SafetensorsFile f = io::SafetensorsFile::open(model);
  Gpt2Weights w = parse_gpt2_hf(f, c);
  w.source = model.string();
  return w;
}

// ---- llm.c ------------------------------------------------------------------------------------

namespace {

struct LlmcHeader {
  int version;
  Gpt2Config config;
  Index padded_vocab;
  std::uint64_t payload_floats;
};

// Element counts of the 16 llm.c tensors, in file order.
std::vector<std::uint64_t> llmc_sizes(const Gpt2Config& c, Index padded_vocab) {
  const auto C = static_cast<std::uint64_t>(c.n_embd), L = static_cast<std::uint64_t>(c.n_layer);
  const auto F = static_cast<std::uint64_t>(c.ffn_dim()),
             Vp = static_cast<std::uint64_t>(padded_vocab);
  const auto P = static_cast<std::uint64_t>(c.n_positions);
  return {Vp * C, P * C, L * C,     L * C, L * 3 * C * C, L * 3 * C, L * C * C, L * C,
          L * C,  L * C, L * F * C, L * F, L * C * F,     L * C,     C,         C};
}

LlmcHeader parse_llmc_header(std::string_view bytes, std::string_view src) {
  if (bytes.size() < 1024) {
    throw FormatError(str_cat(src, ": file has ", bytes.size(),
                              " bytes, fewer than llm.c's 1024-byte header (256 int32)"));
  }
  std::int32_t h[8];
  std::memcpy(h, bytes.data(), sizeof h);
  if (h[0] != kLlmcMagic) {
    std::string what = "";
    if (h[0] == 20240328) what = " (that is llm.c's tokenizer file, gpt2_tokenizer.bin)";
    if (h[0] == 20240327) what = " (that is llm.c's debug state file)";
    if (h[0] == 20240520) what = " (that is an llm.c token shard)";
    throw FormatError(str_cat(src, ": header[0] magic = ", h[0], ", expected ", kLlmcMagic,
                              " for an llm.c GPT-2 checkpoint", what));
  }
  if (h[1] != 3 && h[1] != 5) {
    throw FormatError(
        str_cat(src, ": header[1] version = ", h[1], " is not supported (3 = fp32, 5 = bf16)"));
  }
  const char* names[8] = {"magic",      "version",   "max_seq_len", "vocab_size",
                          "num_layers", "num_heads", "channels",    "padded_vocab_size"};
  for (int i = 2; i < 8; ++i) {
    if (h[i] <= 0) {
      throw FormatError(str_cat(src, ": header[", i, "] ", names[i], " = ", h[i], " must be > 0"));
    }
  }
  LlmcHeader out;
  out.version = h[1];
  Gpt2Config& c = out.config;
  c.n_positions = h[2];
  c.vocab_size = h[3];
  c.n_layer = h[4];
  c.n_head = h[5];
  c.n_embd = h[6];
  c.n_inner = 0;
  out.padded_vocab = h[7];
  try {
    c.validate(src);
  } catch (const UsageError& e) {
    throw FormatError(str_cat(e.what(), " (llm.c header)"));
  }
  if (out.padded_vocab < c.vocab_size || out.padded_vocab > c.vocab_size + 65536) {
    throw FormatError(
        str_cat(src, ": header[7] padded_vocab_size = ", out.padded_vocab,
                " must be in [vocab_size, vocab_size + 65536] with vocab_size = ", c.vocab_size));
  }
  std::uint64_t total = 0;
  for (auto s : llmc_sizes(c, out.padded_vocab)) total += s;
  out.payload_floats = total;
  const std::uint64_t want = total * (out.version == 3 ? 4 : 2);
  const std::uint64_t have = bytes.size() - 1024;
  if (have != want) {
    throw FormatError(str_cat(src, ": payload has ", have, " bytes but the header (L=", c.n_layer,
                              " C=", c.n_embd, " Vp=", out.padded_vocab, " T=", c.n_positions,
                              ", version ", out.version, ") implies ", want,
                              have < want ? " (truncated file)" : " (trailing bytes)"));
  }
  return out;
}

}  // namespace

Gpt2Weights parse_gpt2_llmc(std::string_view bytes, std::string_view source) {
  const std::string src = str_cat("llm.c checkpoint '", source, "'");
  const LlmcHeader hd = parse_llmc_header(bytes, src);
  const Gpt2Config& c = hd.config;
  Gpt2Weights w = Gpt2Weights::zeros(c);
  const Index C = c.n_embd, F = c.ffn_dim(), V = c.vocab_size, P = c.n_positions;
  const char* p = bytes.data() + 1024;
  const bool bf16 = hd.version == 5;
  auto value = [&](std::uint64_t i) -> float {
    if (bf16) {
      std::uint16_t v;
      std::memcpy(&v, p + 2 * i, 2);
      return io::bf16_to_f32(v);
    }
    float v;
    std::memcpy(&v, p + 4 * i, 4);
    return v;
  };
  std::uint64_t at = 0;  // element cursor in the payload
  // Copies n elements as they are.
  auto copy = [&](float* dst, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) dst[i] = value(at + i);
    at += n;
  };
  // Reads an [out, in] matrix into our [in, out] layout.
  auto transposed = [&](float* dst, Index out, Index in) {
    for (Index o = 0; o < out; ++o)
      for (Index i = 0; i < in; ++i)
        dst[i * out + o] = value(at + static_cast<std::uint64_t>(o * in + i));
    at += static_cast<std::uint64_t>(out * in);
  };
  copy(w.wte(), static_cast<std::uint64_t>(V * C));
  at += static_cast<std::uint64_t>((hd.padded_vocab - V) * C);  // padding rows
  copy(w.wpe(), static_cast<std::uint64_t>(P * C));
  const Index L = c.n_layer;
  for (Index l = 0; l < L; ++l) copy(w.layer(l).ln1_w, C);
  for (Index l = 0; l < L; ++l) copy(w.layer(l).ln1_b, C);
  for (Index l = 0; l < L; ++l) transposed(w.layer(l).qkv_w, 3 * C, C);
  for (Index l = 0; l < L; ++l) copy(w.layer(l).qkv_b, 3 * C);
  for (Index l = 0; l < L; ++l) transposed(w.layer(l).proj_w, C, C);
  for (Index l = 0; l < L; ++l) copy(w.layer(l).proj_b, C);
  for (Index l = 0; l < L; ++l) copy(w.layer(l).ln2_w, C);
  for (Index l = 0; l < L; ++l) copy(w.layer(l).ln2_b, C);
  for (Index l = 0; l < L; ++l) transposed(w.layer(l).fc_w, F, C);
  for (Index l = 0; l < L; ++l) copy(w.layer(l).fc_b, F);
  for (Index l = 0; l < L; ++l) transposed(w.layer(l).fcproj_w, C, F);
  for (Index l = 0; l < L; ++l) copy(w.layer(l).fcproj_b, C);
  copy(w.lnf_w(), C);
  copy(w.lnf_b(), C);
  if (at != hd.payload_floats) throw Error("parse_gpt2_llmc: internal: payload cursor mismatch");
  check_finite(w.params.data(), w.params.size(), src, "(any)");
  w.source = std::string(source);
  return w;
}

Gpt2Weights load_gpt2_llmc(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw InputError(
        str_cat("GPT-2 llm.c checkpoint not found: '", path.string(), "'; ", gpt2_files_hint()));
  }
  return parse_gpt2_llmc(read_file(path, "llm.c checkpoint"), path.string());
}

Gpt2Weights load_gpt2(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "model.safetensors", ec)) return load_gpt2_hf(path);
    for (const char* name : {"gpt2_124M.bin", "model.bin"}) {
      if (fs::exists(path / name, ec)) return load_gpt2_llmc(path / name);
    }
    throw InputError(str_cat("no GPT-2 model in '", path.string(),
                             "': need model.safetensors + config.json (Hugging Face layout) or "
                             "gpt2_124M.bin (llm.c); ",
                             gpt2_files_hint()));
  }
  if (!fs::exists(path, ec)) {
    throw InputError(str_cat("GPT-2 model path not found: '", path.string(),
                             "': need a directory with model.safetensors + config.json, or an "
                             "llm.c gpt2_124M.bin; ",
                             gpt2_files_hint()));
  }
  if (path.extension() == ".safetensors") return load_gpt2_hf(path);
  return load_gpt2_llmc(path);
}

// ---- writers ----------------------------------------------------------------------------------

std::string encode_gpt2_safetensors(const Gpt2Weights& w, const HfWriteOptions& o) {
  const Gpt2Config& c = w.config;
  io::SafetensorsWriter out;
  const std::string prefix = o.transformer_prefix ? "transformer." : "";
  for (const auto& [name, x] : expected_hf_tensors(c)) {
    std::vector<Index> shape;
    for (auto d : x.shape) shape.push_back(static_cast<Index>(d));
    const std::string full = name == "lm_head.weight" ? name : prefix + name;
    out.add_f32(full, shape, w.params.data() + x.offset, o.dtype);
  }
  if (o.mask_buffers) {
    const Index P = c.n_positions;
    std::vector<float> mask(static_cast<std::size_t>(P * P), 0.0f);
    for (Index i = 0; i < P; ++i)
      for (Index j = 0; j <= i; ++j) mask[static_cast<std::size_t>(i * P + j)] = 1.0f;
    const float masked_bias = -1e4f;
    for (Index l = 0; l < c.n_layer; ++l) {
      const std::string p = prefix + "h." + std::to_string(l) + ".attn.";
      out.add_f32(p + "bias", {1, 1, P, P}, mask.data(), io::SafetensorsDtype::F32);
      out.add_f32(p + "masked_bias", {}, &masked_bias, io::SafetensorsDtype::F32);
    }
  }
  if (o.lm_head && c.tie_word_embeddings) {
    out.add_f32("lm_head.weight", {c.vocab_size, c.n_embd}, w.wte(), o.dtype);
  }
  out.set_metadata({{"format", "pt"}});
  return out.encode();
}

void save_gpt2_hf(const Gpt2Weights& w, const fs::path& dir, const HfWriteOptions& options) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw InputError(str_cat("save_gpt2_hf: cannot create '", dir.string(), "': ", ec.message()));
  OutputSet outs;
  outs.add(dir / "model.safetensors", encode_gpt2_safetensors(w, options));
  outs.add(dir / "config.json", gpt2_config_json(w.config).dump(2) + "\n");
  outs.commit();
}

std::string encode_gpt2_llmc(const Gpt2Weights& w, int version) {
  if (version != 3 && version != 5) {
    throw UsageError(
        str_cat("encode_gpt2_llmc: version ", version, " (need 3 = fp32 or 5 = bf16)"));
  }
  const Gpt2Config& c = w.config;
  if (!c.tie_word_embeddings || (c.n_inner != 0 && c.n_inner != 4 * c.n_embd)) {
    throw UsageError("encode_gpt2_llmc: llm.c stores tied embeddings and a 4C MLP only");
  }
  if (c.position_mode != PositionMode::learned || !c.attention.is_default()) {
    throw UsageError(
        str_cat("encode_gpt2_llmc: llm.c's format holds GPT-2's own attention and "
                "learned positions only (this model: positions=",
                to_string(c.position_mode), ", attention=", c.attention.describe(),
                "); save it as safetensors instead"));
  }
  const Index C = c.n_embd, F = c.ffn_dim(), V = c.vocab_size, P = c.n_positions, L = c.n_layer;
  const Index Vp = (V + 127) / 128 * 128;
  std::uint64_t total = 0;
  for (auto s : llmc_sizes(c, Vp)) total += s;
  const std::size_t elem = version == 3 ? 4 : 2;
  std::string out(1024 + static_cast<std::size_t>(total) * elem, '\0');
  const std::int32_t h[8] = {kLlmcMagic,
                             version,
                             static_cast<std::int32_t>(P),
                             static_cast<std::int32_t>(V),
                             static_cast<std::int32_t>(L),
                             static_cast<std::int32_t>(c.n_head),
                             static_cast<std::int32_t>(C),
                             static_cast<std::int32_t>(Vp)};
  std::memcpy(out.data(), h, sizeof h);
  char* p = out.data() + 1024;
  std::uint64_t at = 0;
  auto put = [&](float v) {
    if (version == 3) {
      std::memcpy(p + 4 * at, &v, 4);
    } else {
      const std::uint16_t b = io::f32_to_bf16(v);
      std::memcpy(p + 2 * at, &b, 2);
    }
    ++at;
  };
  auto copy = [&](const float* src, Index n) {
    for (Index i = 0; i < n; ++i) put(src[i]);
  };
  // Our [in, out] -> llm.c [out, in].
  auto transposed = [&](const float* src, Index in, Index outd) {
    for (Index o = 0; o < outd; ++o)
      for (Index i = 0; i < in; ++i) put(src[i * outd + o]);
  };
  copy(w.wte(), V * C);
  for (Index i = 0; i < (Vp - V) * C; ++i) put(0.0f);
  copy(w.wpe(), P * C);
  for (Index l = 0; l < L; ++l) copy(w.layer(l).ln1_w, C);
  for (Index l = 0; l < L; ++l) copy(w.layer(l).ln1_b, C);
  for (Index l = 0; l < L; ++l) transposed(w.layer(l).qkv_w, C, 3 * C);
  for (Index l = 0; l < L; ++l) copy(w.layer(l).qkv_b, 3 * C);
  for (Index l = 0; l < L; ++l) transposed(w.layer(l).proj_w, C, C);
  for (Index l = 0; l < L; ++l) copy(w.layer(l).proj_b, C);
  for (Index l = 0; l < L; ++l) copy(w.layer(l).ln2_w, C);
  for (Index l = 0; l < L; ++l) copy(w.layer(l).ln2_b, C);
  for (Index l = 0; l < L; ++l) transposed(w.layer(l).fc_w, C, F);
  for (Index l = 0; l < L; ++l) copy(w.layer(l).fc_b, F);
  for (Index l = 0; l < L; ++l) transposed(w.layer(l).fcproj_w, F, C);
  for (Index l = 0; l < L; ++l) copy(w.layer(l).fcproj_b, C);
  copy(w.lnf_w(), C);
  copy(w.lnf_b(), C);
  return out;
}

}  // namespace attnlab::models::gpt2
