// Memory limits: size parsing (units, errors naming the flag), byte formatting, and
// require_memory's message (what, the bytes needed, the limit and where it came from).
#include "attnlab/core/memory_limit.hpp"

#include <gtest/gtest.h>

#include "attnlab/core/error.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {

using testing::contains;
using testing::thrown_message;

TEST(MemoryLimit, ParsesSizesWithBinaryUnits) {
  EXPECT_EQ(parse_memory_size("4096"), 4096u);
  EXPECT_EQ(parse_memory_size("4096B"), 4096u);
  EXPECT_EQ(parse_memory_size("1K"), 1024u);
  EXPECT_EQ(parse_memory_size("512M"), 512ull << 20);
  EXPECT_EQ(parse_memory_size("512mib"), 512ull << 20);
  EXPECT_EQ(parse_memory_size("1.5G"), 3ull << 29);
  EXPECT_EQ(parse_memory_size("2 GB"), 2ull << 30);
  EXPECT_EQ(parse_memory_size("1T"), 1ull << 40);
}

TEST(MemoryLimit, BadSizesAreUsageErrorsNamingTheFlagAndText) {
  for (const char* bad : {"", "lots", "12X", "0", "-5G", "0.1", "1e30T", "nan"}) {
    const std::string msg =
        thrown_message<UsageError>([&] { parse_memory_size(bad, "--max-memory"); });
    EXPECT_TRUE(contains(msg, "--max-memory")) << bad << ": " << msg;
    EXPECT_TRUE(contains(msg, std::string("'") + bad + "'")) << bad << ": " << msg;
  }
}

TEST(MemoryLimit, FormatsBytes) {
  EXPECT_EQ(format_bytes(100), "100 B");
  EXPECT_EQ(format_bytes(1536), "1.50 KiB");
  EXPECT_EQ(format_bytes(512.0 * (1 << 20)), "512.0 MiB");
  EXPECT_EQ(format_bytes(6.0 * (1ull << 50)), "6.00 PiB");
}

TEST(MemoryLimit, DefaultIsPhysicalMemory) {
  const MemoryLimit l = memory_limit("");
  EXPECT_EQ(l.source, "physical memory");
  EXPECT_EQ(l.bytes, static_cast<double>(physical_memory_bytes()));
  EXPECT_GT(l.bytes, 1 << 28);  // any machine that runs the suite has > 256 MiB
  const MemoryLimit m = memory_limit("2G");
  EXPECT_EQ(m.bytes, 2.0 * (1ull << 30));
  EXPECT_EQ(m.source, "--max-memory 2G");
}

TEST(MemoryLimit, RequireMemoryNamesWhatBytesAndLimit) {
  const MemoryLimit l = memory_limit("1G");
  EXPECT_NO_THROW(require_memory("--width 64", 1e6, l));
  EXPECT_NO_THROW(require_memory("--width 64", 1024.0 * 1024 * 1024, l));  // exactly the limit
  const std::string msg = thrown_message<UsageError>(
      [&] { require_memory("--widths 999999999", 6.0 * (1ull << 50), l, "weights"); });
  EXPECT_TRUE(contains(msg, "--widths 999999999: needs ~6.00 PiB (estimated: weights)")) << msg;
  EXPECT_TRUE(contains(msg, "above the memory limit 1.00 GiB (--max-memory 1G;")) << msg;
  const MemoryLimit unknown;  // 0 bytes: no check
  EXPECT_NO_THROW(require_memory("x", 1e30, unknown));
}

}  // namespace
}  // namespace attnlab
