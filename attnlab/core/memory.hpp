// attnlab/core/memory.hpp — resident-set-size readings for memory benchmarks (Linux /proc).
//
// Peak memory of one computation is measured in-process: reset_peak_rss() sets the kernel's
// high-water mark (VmHWM) back to the current RSS by writing "5" to /proc/self/clear_refs; after
// the computation, peak_rss_bytes() − the RSS before it is the extra memory it touched. Where
// /proc/self/clear_refs cannot be written (some containers), reset_peak_rss() returns false and
// callers report the peak as unavailable rather than guessing.
//
// Usage:
//   release_free_memory();  const auto base = current_rss_bytes();
//   if (reset_peak_rss()) { run();  extra = peak_rss_bytes() - base; }
#pragma once

#include <cstdint>

namespace attnlab {

// Current resident set size (VmRSS) in bytes; 0 when /proc is unavailable.
std::uint64_t current_rss_bytes();
// Peak resident set size (VmHWM) in bytes since start or the last reset; 0 when unavailable.
std::uint64_t peak_rss_bytes();
// Resets the peak to the current RSS; false when the kernel does not allow it.
bool reset_peak_rss();
// Returns freed heap memory to the OS (malloc_trim) so the next reading starts low.
void release_free_memory();

}  // namespace attnlab
