#include "attnlab/models/tinylm/checkpoint.hpp"

#include <cmath>
#include <filesystem>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/io/safetensors.hpp"
#include "attnlab/models/gpt2/weights.hpp"

namespace attnlab::models::tinylm {
namespace {

constexpr const char* kFormat = "attnlab-train-checkpoint";
constexpr const char* kVersion = "1";

}  // namespace

std::string encode_checkpoint(const TrainState& s) {
  const std::size_t P = gpt2::Gpt2Layout(s.config).total;
  if (s.params.size() != P || s.adam_m.size() != P || s.adam_v.size() != P) {
    throw UsageError(str_cat("checkpoint: state holds ", s.params.size(), "/", s.adam_m.size(), "/",
                             s.adam_v.size(), " values, the config needs ", P));
  }
  io::SafetensorsWriter w;
  const std::vector<Index> shape{static_cast<Index>(P)};
  w.add_f32("params", shape, s.params.data());
  w.add_f32("adam_m", shape, s.adam_m.data());
  w.add_f32("adam_v", shape, s.adam_v.data());
  const nlohmann::json state = {{"step", s.step},
                                {"config", gpt2::gpt2_config_json(s.config)},
                                {"options", s.options},
                                {"dataset", s.dataset},
                                {"history", s.history}};
  w.set_metadata({{"format", kFormat}, {"version", kVersion}, {"state", state.dump()}});
  return w.encode();
}

void save_checkpoint(const std::filesystem::path& path, const TrainState& state) {
  write_file_atomic(path, encode_checkpoint(state));
}

TrainState parse_checkpoint(std::string bytes, std::string_view source) {
  const std::string src = str_cat("checkpoint '", source, "'");
  const io::SafetensorsFile f =
      io::SafetensorsFile::from_bytes(std::move(bytes), std::string(source));
  const auto& meta = f.metadata();
  auto field = [&](const char* key) -> const std::string& {
    const auto it = meta.find(key);
    if (it == meta.end()) {
      throw FormatError(str_cat(src, ": no '", key,
                                "' in __metadata__ (not an attnlab training "
                                "checkpoint)"));
    }
    return it->second;
  };
  if (field("format") != kFormat) {
    throw FormatError(
        str_cat(src, ": __metadata__.format = '", field("format"), "', expected '", kFormat, "'"));
  }
  if (field("version") != kVersion) {
    throw FormatError(str_cat(src, ": checkpoint version '", field("version"),
                              "' is not supported (this build reads version ", kVersion, ")"));
  }
  nlohmann::json state;
  try {
    state = nlohmann::json::parse(field("state"));
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e400
    throw FormatError(str_cat(src, ": __metadata__.state is not JSON: ", e.what()));
  }
  if (!state.is_object() || !state.contains("config") || !state.contains("step") ||
      !state["step"].is_number_integer() || state["step"].get<std::int64_t>() < 0) {
    throw FormatError(str_cat(src, ": __metadata__.state needs a config and a step >= 0"));
  }
  TrainState s;
  s.step = state["step"].get<std::int64_t>();
  s.config = gpt2::parse_gpt2_config(state["config"].dump(), src);
  s.options = state.value("options", nlohmann::json::object());
  s.dataset = state.value("dataset", nlohmann::json::object());
  s.history = state.value("history", nlohmann::json::object());
  const std::size_t P = gpt2::Gpt2Layout(s.config).total;
  for (const char* name : {"params", "adam_m", "adam_v"}) {
    const io::SafetensorsTensor* t = f.find(name);
    if (!t) throw FormatError(str_cat(src, ": missing tensor '", name, "'"));
    if (t->dtype != io::SafetensorsDtype::F32 || t->shape.size() != 1 || t->shape[0] != P) {
      throw FormatError(str_cat(src, ": tensor '", name, "' must be F32 [", P, "] for its config (",
                                s.config.describe(), ")"));
    }
  }
  if (f.tensors().size() != 3) {
    throw FormatError(str_cat(src, ": ", f.tensors().size(), " tensors, expected 3"));
  }
  s.params = f.read_f32(*f.find("params"));
  s.adam_m = f.read_f32(*f.find("adam_m"));
  s.adam_v = f.read_f32(*f.find("adam_v"));
  for (std::size_t i = 0; i < P; ++i) {
    if (!std::isfinite(s.params[i]) || !std::isfinite(s.adam_m[i]) || !std::isfinite(s.adam_v[i]) ||
        s.adam_v[i] < 0) {
      throw FormatError(str_cat(src, ": non-finite or invalid value at flat index ", i));
    }
  }
  return s;
}

TrainState load_checkpoint(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw InputError(str_cat("checkpoint '", path.string(), "' does not exist (or is not a file)"));
  }
  return parse_checkpoint(read_file(path, "checkpoint"), path.string());
}

}  // namespace attnlab::models::tinylm
