#include "attnlab/core/memory_limit.hpp"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "attnlab/core/error.hpp"

namespace attnlab {

std::uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
}

namespace {

// The multiplier of a unit suffix, 0 when the suffix is not one.
double unit_multiplier(std::string unit) {
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.empty() || unit == "B") return 1;
  const char* const prefixes = "KMGT";
  for (int i = 0; i < 4; ++i) {
    const std::string p(1, prefixes[i]);
    if (unit == p || unit == p + "B" || unit == p + "IB") return std::ldexp(1.0, 10 * (i + 1));
  }
  return 0;
}

}  // namespace

std::uint64_t parse_memory_size(std::string_view text, std::string_view flag) {
  const std::string s(text);
  auto bad = [&](const char* why) {
    return UsageError(str_cat(flag, ": ", why, ", got '", s,
                              "' (a size such as 512M, 1.5G or 4096; units B, K, M, G, T)"));
  };
  if (s.empty()) throw bad("expected a size");
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || errno == ERANGE || !std::isfinite(value)) throw bad("not a size");
  std::string unit(end);
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  const double mult = unit_multiplier(unit);
  if (mult == 0) throw bad("unknown unit");
  const double bytes = value * mult;
  if (!(bytes >= 1)) throw bad("must be at least 1 byte");
  if (bytes >= 0x1p63) throw bad("is too large");
  return static_cast<std::uint64_t>(bytes);
}

std::string format_bytes(double bytes) {
  const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  double v = bytes;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  char buf[48];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%.0f B", v);
  } else {
    std::snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : "%.1f %s", v, units[u]);
  }
  return buf;
}

MemoryLimit memory_limit(std::string_view max_memory_text) {
  MemoryLimit limit;
  if (max_memory_text.empty()) {
    limit.bytes = static_cast<double>(physical_memory_bytes());
    limit.source = "physical memory";
  } else {
    limit.bytes = static_cast<double>(parse_memory_size(max_memory_text));
    limit.source = str_cat("--max-memory ", max_memory_text);
  }
  return limit;
}

void require_memory(std::string_view what, double bytes_needed, const MemoryLimit& limit,
                    std::string_view detail) {
  if (!(limit.bytes > 0) || bytes_needed <= limit.bytes) return;
  throw UsageError(str_cat(what, ": needs ~", format_bytes(bytes_needed), " (estimated",
                           detail.empty() ? "" : ": ", detail, "), above the memory limit ",
                           format_bytes(limit.bytes), " (", limit.source,
                           "; set --max-memory to change it)"));
}

}  // namespace attnlab
