#include "attnlab/core/memory.hpp"

#include <malloc.h>

#include <fstream>
#include <string>

namespace attnlab {
namespace {

std::uint64_t read_status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(key) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      return std::stoull(line.substr(prefix.size())) * 1024;  // "  1688 kB"
    }
  }
  return 0;
}

}  // namespace

std::uint64_t current_rss_bytes() {
  return read_status_kib("VmRSS");
}
std::uint64_t peak_rss_bytes() {
  return read_status_kib("VmHWM");
}

bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

void release_free_memory() {
  ::malloc_trim(0);
}

}  // namespace attnlab
