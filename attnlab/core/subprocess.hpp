// attnlab/core/subprocess.hpp — run an external program without a shell, with a timeout.
//
// Used for gnuplot (report figures) and for benchmark peers (PyTorch scripts). The child gets
// stdin from /dev/null; its stdout and stderr are captured separately (each up to a cap), and it
// is killed with SIGKILL when the timeout passes. Failing to start the program is reported in the
// result (so callers can say which package is missing), not thrown.
//
// Usage:
//   ProcessResult r = run_process({"/usr/bin/python3", "peer.py"}, {.timeout_s = 600});
//   if (!r.started) ...;  if (r.exit_code != 0) ... r.err ...;  parse(r.out);
//   std::string gp = find_executable("gnuplot");   // "" when not on PATH
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace attnlab {

struct ProcessOptions {
  double timeout_s = 60.0;
  std::size_t max_output = std::size_t{1} << 22;  // bytes kept per stream; the rest is drained
};

struct ProcessResult {
  bool started = false;  // false: the program could not be executed (see start_errno)
  int start_errno = 0;
  bool timed_out = false;
  int exit_code = -1;    // exit status when the child exited normally, else -1
  int signal = 0;        // terminating signal, 0 when it exited normally
  std::string out, err;  // captured stdout / stderr
};

// argv[0] must be a path (absolute or relative); use find_executable() for PATH lookup.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// `name` if it contains a '/' and is executable, else the first executable `name` on PATH;
// empty when there is none.
std::string find_executable(const std::string& name);

}  // namespace attnlab
