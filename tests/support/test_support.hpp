// tests/support/test_support.hpp — helpers shared by every test executable.
//
//   TempDir dir;  dir.path() / "x.npy"          a fresh directory removed at scope exit
//   random_tensor(H, N, d, seed)                  N(0,1) entries, seeded
//   max_abs_diff(a, b), max_rel_error(a, b)       comparisons for Tensor3/Matrix
//   run_cli({"attend", "--q", ...})               runs the attnlab binary, captures
//                                                 exit/stdout/stderr
//   run_cli_signalled(args, {SIGKILL, 200000})    the same, signalled after 0.2 s
//   numeric_gradient(f, x, eps)                   central finite differences of a scalar function
#pragma once

#include <csignal>
#include <exception>

#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

Tensor3d random_tensor(Index a, Index b, Index c, std::uint64_t seed, double scale = 1.0);

double max_abs_diff(const Tensor3d& a, const Tensor3d& b);
// max |a − b| / max(|b|_max, floor): error relative to the reference's magnitude.
double max_rel_error(const Tensor3d& a, const Tensor3d& b, double floor = 1e-30);
double max_abs_diff(const MatrixD& a, const MatrixD& b);

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs the attnlab CLI with these arguments (no shell), capturing stdout and stderr; `env` adds
// or replaces environment variables of the child ({"ATTNLAB_PROGRESS_SECONDS", "0"}).
CliResult run_cli(const std::vector<std::string>& args,
                  const std::vector<std::pair<std::string, std::string>>& env = {});

// run_cli with a signal: starts the CLI like run_cli, sends `signal` to it once `after_stderr`
// has appeared on its stderr (when non-empty) and then `delay_us` microseconds have passed, and
// waits for it. A child that exits before that is not signalled (signal_sent false). The child
// starts with SIGINT / SIGTERM at their defaults whatever the test process inherited, and, when
// `file_size_limit` >= 0, with RLIMIT_FSIZE at that many bytes and SIGXFSZ ignored (so a write
// past it fails with EFBIG instead of killing the child: a full disk, simulated). A child still
// running `grace_seconds` after the signal is SIGKILLed (a hang fails the test, never blocks it).
// `signal` 0 sends nothing: the child just runs under the limits.
struct SignalPlan {
  int signal = SIGKILL;
  long long delay_us = 0;
  std::string after_stderr;
  long long file_size_limit = -1;
  double grace_seconds = 120;
  std::vector<std::pair<std::string, std::string>> env;
};
struct SignalledRun : CliResult {
  // False: the child exited before (or never printed after_stderr). True with term_signal 0 is
  // possible too: it exited just as the signal went out.
  bool signal_sent = false;
  int term_signal = 0;  // the signal that ended the child, 0 when it exited
};
SignalledRun run_cli_signalled(const std::vector<std::string>& args, const SignalPlan& plan);

// Central differences of f at x: g_i = (f(x + eps e_i) − f(x − eps e_i)) / (2 eps).
std::vector<double> numeric_gradient(const std::function<double(const std::vector<double>&)>& f,
                                     std::vector<double> x, double eps);

std::filesystem::path source_dir();

// True when `part` occurs in `s` (for EXPECT_PRED2 / EXPECT_TRUE with messages).
inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The message of the E that f throws, or a note that it threw nothing / something else.
template <class E>
std::string thrown_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "nothing thrown";
}

}  // namespace attnlab::testing
