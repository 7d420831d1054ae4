#include "attnlab/core/subprocess.hpp"

#include <gtest/gtest.h>

#include <cerrno>

namespace attnlab {
namespace {

TEST(Subprocess, CapturesStdoutStderrAndExitCode) {
  const std::string sh = find_executable("sh");
  ASSERT_FALSE(sh.empty());
  const auto r = run_process({sh, "-c", "echo out; echo err 1>&2; exit 3"});
  EXPECT_TRUE(r.started);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_FALSE(r.timed_out);
}

TEST(Subprocess, TimeoutKillsTheChild) {
  const auto r = run_process({find_executable("sh"), "-c", "sleep 5"}, {.timeout_s = 0.2});
  EXPECT_TRUE(r.timed_out);
  EXPECT_NE(r.signal, 0);
}

TEST(Subprocess, MissingProgramIsReportedNotThrown) {
  const auto r = run_process({"/nonexistent/program"});
  EXPECT_FALSE(r.started);
  EXPECT_EQ(r.start_errno, ENOENT);
  EXPECT_EQ(find_executable("no-such-program-attnlab"), "");
}

TEST(Subprocess, LargeOutputIsCappedAndDrained) {
  const auto r = run_process({find_executable("sh"), "-c", "head -c 3000000 /dev/zero"},
                             {.timeout_s = 20, .max_output = 1000});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_LE(r.out.size(), 1000u + 8192u);
}

}  // namespace
}  // namespace attnlab
