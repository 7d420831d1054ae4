#include "attnlab/io/json_strict.hpp"

#include <cstdint>
#include <unordered_set>
#include <vector>

namespace attnlab::io {
namespace {

// Printable excerpt of a key for messages: at most 80 bytes, control bytes escaped.
std::string excerpt(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < 80; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 80) out += "...";
  return out;
}

}  // namespace

nlohmann::json parse_json_strict(std::string_view text, std::string_view source,
                                 const StrictJsonOptions& options) {
  if (text.size() > options.max_bytes) {
    throw JsonFormatError(JsonErrorKind::too_large,
                          str_cat(source, ": JSON text of ", text.size(),
                                  " bytes is over the limit of ", options.max_bytes, " bytes"));
  }
  // One set of seen keys per open object, and the key that opened each nested value.
  std::vector<std::unordered_set<std::string>> seen;
  std::vector<std::string> parent_keys;
  std::string last_key;
  const int max_depth = options.max_depth;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    switch (event) {
      case E::object_start:
      case E::array_start:
        if (depth >= max_depth) {
          throw JsonFormatError(JsonErrorKind::too_deep,
                                str_cat(source, ": JSON nesting deeper than ", max_depth));
        }
        if (event == E::object_start) {
          seen.emplace_back();
          parent_keys.push_back(last_key);
        }
        break;
      case E::object_end:
        if (!seen.empty()) seen.pop_back();
        if (!parent_keys.empty()) parent_keys.pop_back();
        break;
      case E::key: {
        last_key = parsed.get<std::string>();
        if (!seen.empty() && !seen.back().insert(last_key).second) {
          const std::string& parent = parent_keys.empty() ? std::string() : parent_keys.back();
          throw JsonFormatError(
              JsonErrorKind::duplicate_key,
              str_cat(source, ": duplicate JSON key '", excerpt(last_key), "'",
                      parent.empty() ? std::string(" at the top level")
                                     : str_cat(" inside '", excerpt(parent), "'"),
                      " (readers disagree on which value wins, so attnlab rejects the file)"));
        }
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true,
                                 /*ignore_comments=*/false);
  } catch (const nlohmann::json::exception& e) {
    throw JsonFormatError(JsonErrorKind::syntax, str_cat(source, ": invalid JSON: ", e.what()));
  }
}

std::int64_t json_int64(const nlohmann::json& v, std::string_view what) {
  if (v.is_number_integer() &&
      !(v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))) {
    return v.get<std::int64_t>();
  }
  throw FormatError(str_cat(what, " must be an integer in [-2^63, 2^63), got ", v.dump()));
}

std::uint64_t json_uint64(const nlohmann::json& v, std::string_view what) {
  if (v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0))
    return v.get<std::uint64_t>();
  throw FormatError(str_cat(what, " must be a non-negative integer, got ", v.dump()));
}

std::int64_t json_int64_or(const nlohmann::json& j, const char* key, std::int64_t fallback,
                           std::string_view what) {
  return j.contains(key) ? json_int64(j.at(key), what) : fallback;
}

}  // namespace attnlab::io
