// attnlab/io/json_strict.hpp — JSON for untrusted files: duplicate keys rejected, size and depth
// bounded, every error a FormatError naming the file.
//
// Common JSON parsers (nlohmann included) silently keep one value when an object repeats a key,
// so two readers of the same file can disagree about what it says (the safetensors audit's parser
// differential). attnlab's formats (safetensors headers, GPT-2 config.json, vocab.json) are read
// through parse_json_strict, which rejects:
//   - text longer than max_bytes (checked before parsing),
//   - nesting deeper than max_depth,
//   - an object that repeats a key (at any depth), naming the key and its parent key,
//   - anything nlohmann's strict RFC 8259 parser rejects: syntax errors, invalid UTF-8 inside
//     strings, comments, trailing bytes other than JSON whitespace (space, tab, CR, LF).
//
// Invariants: the returned value is exactly what the text says (no key was dropped); the parse
// allocates only in proportion to the text, which the caller has already bounded.
//
// Usage:
//   nlohmann::json j = parse_json_strict(read_file(path, "config"), path.string());
//   try { ... } catch (const JsonFormatError& e) { if (e.kind() == JsonErrorKind::duplicate_key)
//   ...
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "attnlab/core/error.hpp"

namespace attnlab::io {

enum class JsonErrorKind { syntax, duplicate_key, too_deep, too_large };

// FormatError with a machine-checkable kind (tests assert on it, not on message text).
class JsonFormatError : public FormatError {
 public:
  JsonFormatError(JsonErrorKind kind, const std::string& message)
      : FormatError(message), kind_(kind) {}
  JsonErrorKind kind() const noexcept { return kind_; }

 private:
  JsonErrorKind kind_;
};

struct StrictJsonOptions {
  std::size_t max_bytes = std::size_t{256} << 20;  // 256 MiB
  int max_depth = 64;                              // nesting of arrays/objects
};

// Parses `text`; `source` (usually the file path, plus what it is) prefixes every message.
nlohmann::json parse_json_strict(std::string_view text, std::string_view source,
                                 const StrictJsonOptions& options = {});

// Integer fields: nlohmann's get<std::int64_t>() of 2.5 truncates to 2, and of 1e300 is undefined
// behaviour. These accept only JSON integers that fit the type, else a FormatError
// "<what> must be an integer ..., got <value>".
std::int64_t json_int64(const nlohmann::json& v, std::string_view what);
std::uint64_t json_uint64(const nlohmann::json& v, std::string_view what);
// j[key] through json_int64 when present, else `fallback`.
std::int64_t json_int64_or(const nlohmann::json& j, const char* key, std::int64_t fallback,
                           std::string_view what);

}  // namespace attnlab::io
