// attnlab/core/memory_limit.hpp — the memory a run will need, checked against a limit before it
// allocates.
//
// Studies estimate their peak memory from their options (weights, optimizer state, activations,
// kernels: the terms that grow with the flags) and call require_memory() before any large
// allocation, so `--widths 999999999` is a usage error naming the flag, the bytes and the limit
// instead of an out-of-memory kill or std::bad_alloc. The limit is the machine's physical memory
// unless `--max-memory SIZE` sets it.
//
// Sizes: a number with an optional unit — B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB — all
// binary (1K = 1024 bytes), e.g. "512M", "1.5G", "4096".
//
// Usage:
//   const MemoryLimit limit = memory_limit(flags.max_memory);       // "" = physical memory
//   require_memory("--widths 16384", estimated_bytes, limit);        // UsageError when above
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace attnlab {

// Physical memory of this machine (sysconf); 0 when unknown.
std::uint64_t physical_memory_bytes();

// Parses SIZE as described above. UsageError naming `flag` and the text on a bad or non-positive
// size.
std::uint64_t parse_memory_size(std::string_view text, std::string_view flag = "--max-memory");

// "1.50 GiB", "512.0 MiB", "4096 B", "5.68 PiB".
std::string format_bytes(double bytes);

struct MemoryLimit {
  double bytes = 0;    // 0 = unknown (no check)
  std::string source;  // "physical memory" or "--max-memory 2G"
};

// The limit from --max-memory text; empty text selects the physical memory.
MemoryLimit memory_limit(std::string_view max_memory_text);

// UsageError "<what>: needs ~X (estimated: <detail>), above the memory limit Y (<source>; set
// --max-memory to change it)" when bytes_needed > limit. Nothing when the limit is unknown.
void require_memory(std::string_view what, double bytes_needed, const MemoryLimit& limit,
                    std::string_view detail = {});

}  // namespace attnlab
