#include "tests/support/test_support.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "attnlab/core/rng.hpp"

namespace attnlab::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string templ = (fs::temp_directory_path() / "attnlab-test-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

Tensor3d random_tensor(Index a, Index b, Index c, std::uint64_t seed, double scale) {
  Tensor3d t(a, b, c);
  Rng rng(seed);
  rng.fill_normal(t.data(), t.size(), 0.0, scale);
  return t;
}

double max_abs_diff(const Tensor3d& a, const Tensor3d& b) {
  if (!a.same_shape(b)) return INFINITY;
  double m = 0.0;
  for (Index i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
  return m;
}

double max_rel_error(const Tensor3d& a, const Tensor3d& b, double floor) {
  if (!a.same_shape(b)) return INFINITY;
  double scale = floor;
  for (Index i = 0; i < b.size(); ++i) scale = std::max(scale, std::abs(b.data()[i]));
  return max_abs_diff(a, b) / scale;
}

double max_abs_diff(const MatrixD& a, const MatrixD& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return INFINITY;
  return (a - b).cwiseAbs().maxCoeff();
}

namespace {

// execv's argv for the CLI: pointers into `prog` and `storage`, built before fork().
std::vector<char*> cli_argv(std::string& prog, std::vector<std::string>& storage) {
  std::vector<char*> argv;
  argv.push_back(prog.data());
  for (auto& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

// In a forked child: stdout and stderr go to these files.
void redirect_child_output(const fs::path& out_path, const fs::path& err_path) {
  const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(out_fd, 1);
  ::dup2(err_fd, 2);
}

// The whole content of a captured stdout/stderr file.
std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

CliResult run_cli(const std::vector<std::string>& args,
                  const std::vector<std::pair<std::string, std::string>>& env) {
  TempDir dir;
  const fs::path out_path = dir / "stdout", err_path = dir / "stderr";
  std::string prog = ATTNLAB_CLI_PATH;
  std::vector<std::string> copy = args;
  std::vector<char*> argv = cli_argv(prog, copy);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    redirect_child_output(out_path, err_path);
    for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
    ::execv(prog.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

SignalledRun run_cli_signalled(const std::vector<std::string>& args, const SignalPlan& plan) {
  using Clock = std::chrono::steady_clock;
  TempDir dir;
  const fs::path out_path = dir / "stdout", err_path = dir / "stderr";
  std::string prog = ATTNLAB_CLI_PATH;
  std::vector<std::string> copy = args;
  std::vector<char*> argv = cli_argv(prog, copy);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    redirect_child_output(out_path, err_path);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (plan.file_size_limit >= 0) {
      ::signal(SIGXFSZ, SIG_IGN);  // stays ignored across exec: writes fail with EFBIG
      const rlimit lim{static_cast<rlim_t>(plan.file_size_limit),
                       static_cast<rlim_t>(plan.file_size_limit)};
      ::setrlimit(RLIMIT_FSIZE, &lim);
    }
    for (const auto& [name, value] : plan.env) ::setenv(name.c_str(), value.c_str(), 1);
    ::execv(prog.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  bool exited = false;
  auto poll_exit = [&] {
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
    return exited;
  };
  const auto poll = std::chrono::microseconds(200);
  SignalledRun r;
  if (plan.signal == 0) {  // no signal: only the limits and the environment
    ::waitpid(pid, &status, 0);
    exited = true;
  }
  // 1. Wait for the marker on stderr (if any), 2. then for the delay, 3. signal.
  if (!exited && !plan.after_stderr.empty()) {
    while (!poll_exit() && slurp(err_path).find(plan.after_stderr) == std::string::npos)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const auto fire_at = Clock::now() + std::chrono::microseconds(plan.delay_us);
  while (!poll_exit() && Clock::now() < fire_at) {
    const auto left = fire_at - Clock::now();
    std::this_thread::sleep_for(left < poll ? left : poll);
  }
  if (!poll_exit()) {
    ::kill(pid, plan.signal);
    r.signal_sent = true;
    const auto give_up = Clock::now() + std::chrono::duration<double>(plan.grace_seconds);
    while (!poll_exit()) {
      if (Clock::now() > give_up) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        exited = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

std::vector<double> numeric_gradient(const std::function<double(const std::vector<double>&)>& f,
                                     std::vector<double> x, double eps) {
  std::vector<double> g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + eps;
    const double fp = f(x);
    x[i] = x0 - eps;
    const double fm = f(x);
    x[i] = x0;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}

fs::path source_dir() {
  return ATTNLAB_SOURCE_DIR;
}

}  // namespace attnlab::testing
