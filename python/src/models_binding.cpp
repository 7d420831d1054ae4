// python/src/models_binding.cpp — see models_binding.hpp.
#include "models_binding.hpp"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "arrays.hpp"
#include "attend_binding.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/io/json_strict.hpp"
#include "attnlab/models/bert/config.hpp"
#include "attnlab/models/bert/model.hpp"
#include "attnlab/models/bert/weights.hpp"
#include "attnlab/models/bert/wordpiece_tokenizer.hpp"
#include "attnlab/models/gpt2/bpe_tokenizer.hpp"
#include "attnlab/models/gpt2/config.hpp"
#include "attnlab/models/gpt2/model.hpp"
#include "attnlab/models/gpt2/weights.hpp"

namespace attnlab::python {
namespace {

namespace gpt2 = models::gpt2;
namespace bert = models::bert;

using Tokens = nb::ndarray<const std::int32_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

std::optional<attention::AttentionSpec> spec_or_none(const std::string& spec_json) {
  if (spec_json.empty()) return std::nullopt;
  return attention::AttentionSpec::from_json(
      io::parse_json_strict(spec_json, "attnlab model forward: attention"));
}

gpt2::LogitsMode parse_logits(const std::string& s) {
  if (s == "none") return gpt2::LogitsMode::none;
  if (s == "last") return gpt2::LogitsMode::last;
  if (s == "all") return gpt2::LogitsMode::all;
  throw UsageError(
      str_cat("attnlab model forward: logits must be 'none', 'last' or 'all', got '", s, "'"));
}

// forward() reads no file, so its InputErrors (a token outside the vocabulary, positions past
// the table) are about the arguments: ValueError in Python, not OSError.
template <class Forward>
auto forward_on_arrays(Forward&& forward) {
  try {
    nb::gil_scoped_release unlocked;
    return forward();
  } catch (const InputError& e) {
    throw UsageError(e.what());
  }
}

template <class T>
nb::list hand_out_all(std::vector<T>&& items) {
  nb::list out;
  for (T& item : items) out.append(hand_out(std::move(item)));
  return out;
}

// One forward pass of `tokens` from an empty cache, with what was asked for captured.
nb::dict gpt2_forward(const gpt2::Gpt2Model& model, const Tokens& tokens, bool diagnostics,
                      const std::vector<std::pair<Index, Index>>& maps, bool hidden,
                      const std::string& logits, const std::string& spec_json,
                      const std::vector<Index>& projection_layers) {
  gpt2::ForwardOptions o;
  o.attention = spec_or_none(spec_json);
  o.diagnostics = diagnostics;
  for (const auto& [layer, head] : maps) o.maps.push_back({layer, head});
  o.hidden_states = hidden;
  o.logits = parse_logits(logits);
  o.projection_layers = projection_layers;
  const std::span<const std::int32_t> ids(tokens.data(), tokens.shape(0));
  gpt2::ForwardResult r = forward_on_arrays([&] { return model.forward(ids, o); });
  nb::dict out;
  out["logits"] = hand_out(std::move(r.logits));
  out["kernel"] = std::string(attention::to_string(r.kernel));
  out["attention"] = model.describe_attention(o);
  if (diagnostics) {
    nb::list layers;
    for (gpt2::LayerCapture& c : r.layers) {
      nb::dict d = diagnostics_dict(std::move(c.rows));
      d["self_weight"] = hand_out(std::move(c.self_weight));
      d["prev_weight"] = hand_out(std::move(c.prev_weight));
      layers.append(d);
    }
    out["diagnostics"] = layers;
  }
  nb::list captured;
  for (gpt2::CapturedMap& m : r.maps) {
    nb::dict d;
    d["layer"] = m.layer;
    d["head"] = m.head;
    d["first_position"] = m.first_position;
    d["weights"] = hand_out(std::move(m.weights));
    captured.append(d);
  }
  out["maps"] = captured;
  if (hidden) {
    out["hidden"] = hand_out_all(std::move(r.hidden));
    out["final_hidden"] = hand_out(std::move(r.final_hidden));
  }
  nb::list projections;
  for (gpt2::LayerProjections& p : r.projections) {
    nb::dict d;
    d["layer"] = p.layer;
    d["q"] = hand_out(std::move(p.q));
    d["k"] = hand_out(std::move(p.k));
    d["v"] = hand_out(std::move(p.v));
    d["input"] = hand_out(std::move(p.input));
    projections.append(d);
  }
  out["projections"] = projections;
  return out;
}

gpt2::Gpt2Model gpt2_random(const std::string& config_json, std::uint64_t seed) {
  return gpt2::Gpt2Model(gpt2::random_gpt2_weights(
      gpt2::parse_gpt2_config(config_json, "attnlab.Gpt2Model.random: config"), seed));
}

// One sequence through the encoder; maps [L] of [H, n, n], hidden [L + 1] of [n, C].
nb::dict bert_forward(const bert::BertModel& model, const Tokens& tokens, bool maps, bool hidden,
                      bool value_norms, bool projections, const std::string& spec_json) {
  bert::BertForwardOptions o;
  o.attention = spec_or_none(spec_json);
  o.capture_maps = maps;
  o.hidden_states = hidden;
  o.value_norms = value_norms;
  o.projections = projections;
  bert::BertSequence seq;
  seq.ids.assign(tokens.data(), tokens.data() + tokens.shape(0));
  bert::BertOutput r = forward_on_arrays(
      [&] { return model.forward(std::span<const bert::BertSequence>(&seq, 1), o); });
  nb::dict out;
  out["last_hidden"] = hand_out(std::move(r.hidden.at(0)));
  out["kernel"] = std::string(attention::to_string(r.kernel));
  if (!r.captures.empty()) {
    bert::BertCapture& c = r.captures[0];
    if (maps) out["maps"] = hand_out_all(std::move(c.maps));
    if (hidden) out["hidden"] = hand_out_all(std::move(c.hidden));
    if (value_norms) out["value_norms"] = hand_out_all(std::move(c.value_norms));
    if (projections) {
      out["q"] = hand_out_all(std::move(c.q));
      out["k"] = hand_out_all(std::move(c.k));
      out["v"] = hand_out_all(std::move(c.v));
    }
  }
  return out;
}

nb::bytes as_bytes(const std::string& s) {
  return nb::bytes(s.data(), s.size());
}

}  // namespace

void bind_models(nb::module_& m) {
  nb::class_<gpt2::Gpt2Model>(m, "Gpt2Model",
                              "A GPT-2-architecture model (GPT-2 files, or attnlab train's tiny "
                              "GPTs) in fp32 (models/gpt2/model.hpp).")
      .def_static(
          "load", [](const std::string& path) { return gpt2::Gpt2Model(gpt2::load_gpt2(path)); },
          nb::arg("path"),
          "From a directory with model.safetensors + config.json (or gpt2_124M.bin), a "
          ".safetensors file or an llm.c .bin file.")
      .def_static("random", &gpt2_random, nb::arg("config_json"), nb::arg("seed"),
                  "GPT-2 initialization of the config (config.json text), seeded.")
      .def(
          "save",
          [](const gpt2::Gpt2Model& self, const std::string& dir) {
            gpt2::save_gpt2_hf(self.weights(), dir);
          },
          nb::arg("dir"), "Writes dir/model.safetensors and dir/config.json (all or nothing).")
      .def("config_json",
           [](const gpt2::Gpt2Model& self) { return gpt2::gpt2_config_json(self.config()).dump(); })
      .def("describe", [](const gpt2::Gpt2Model& self) { return self.config().describe(); })
      .def("forward", &gpt2_forward, nb::arg("tokens"), nb::arg("diagnostics"), nb::arg("maps"),
           nb::arg("hidden"), nb::arg("logits"), nb::arg("spec_json"), nb::arg("projection_layers"),
           "One forward pass from an empty cache -> dict(logits, kernel, attention, maps, "
           "projections[, diagnostics][, hidden, final_hidden]).");

  nb::class_<bert::BertModel>(m, "BertModel",
                              "A BERT encoder (all-MiniLM-L6-v2, any BERT) in fp32 "
                              "(models/bert/model.hpp).")
      .def_static(
          "load", [](const std::string& path) { return bert::BertModel(bert::load_bert(path)); },
          nb::arg("path"), "From a directory with model.safetensors + config.json.")
      .def_static(
          "random",
          [](const std::string& config_json, std::uint64_t seed) {
            return bert::BertModel(bert::random_bert_weights(
                bert::parse_bert_config(config_json, "attnlab.BertModel.random: config"), seed));
          },
          nb::arg("config_json"), nb::arg("seed"))
      .def(
          "save",
          [](const bert::BertModel& self, const std::string& dir) {
            bert::save_bert_hf(self.weights(), dir);
          },
          nb::arg("dir"))
      .def("config_json",
           [](const bert::BertModel& self) { return bert::bert_config_json(self.config()).dump(); })
      .def("forward", &bert_forward, nb::arg("tokens"), nb::arg("maps"), nb::arg("hidden"),
           nb::arg("value_norms"), nb::arg("projections"), nb::arg("spec_json"),
           "One sequence -> dict(last_hidden, kernel[, maps, hidden, value_norms, q, k, v]).");

  nb::class_<gpt2::BpeTokenizer>(m, "BpeTokenizer", "GPT-2's byte-level BPE (exact, lossless).")
      .def_static(
          "load", [](const std::string& dir) { return gpt2::BpeTokenizer::load(dir); },
          nb::arg("dir"), "vocab.json + merges.txt, or encoder.json + vocab.bpe, in dir.")
      .def_static("byte_level", &gpt2::BpeTokenizer::byte_level,
                  "256 byte tokens and no merges (what random-weight models use).")
      .def(
          "encode",
          [](const gpt2::BpeTokenizer& self, nb::bytes text, bool allow_special) {
            gpt2::EncodeOptions o;
            o.allow_special = allow_special;
            return hand_out(self.encode(std::string_view(text.c_str(), text.size()), o));
          },
          nb::arg("text"), nb::arg("allow_special"))
      .def(
          "decode",
          [](const gpt2::BpeTokenizer& self, const Tokens& ids) {
            return as_bytes(self.decode(std::span<const std::int32_t>(ids.data(), ids.shape(0))));
          },
          nb::arg("ids"))
      .def("vocab_size", &gpt2::BpeTokenizer::vocab_size);

  nb::class_<bert::WordPieceTokenizer>(
      m, "WordPieceTokenizer", "BERT's uncased WordPiece (models/bert/wordpiece_tokenizer).")
      .def_static(
          "load", [](const std::string& path) { return bert::WordPieceTokenizer::load(path); },
          nb::arg("path"), "A directory with vocab.txt, or the vocab file.")
      .def(
          "encode",
          [](const bert::WordPieceTokenizer& self, nb::bytes text, Index max_length) {
            return hand_out(self.encode(std::string_view(text.c_str(), text.size()), max_length));
          },
          nb::arg("text"), nb::arg("max_length"))
      .def(
          "decode",
          [](const bert::WordPieceTokenizer& self, const Tokens& ids) {
            return as_bytes(
                self.decode(std::vector<std::int32_t>(ids.data(), ids.data() + ids.shape(0))));
          },
          nb::arg("ids"))
      .def("vocab_size", &bert::WordPieceTokenizer::vocab_size);
}

}  // namespace attnlab::python
