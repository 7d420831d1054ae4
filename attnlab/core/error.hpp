// attnlab/core/error.hpp — the error hierarchy every layer throws, and the CLI exit codes.
//
// Library code never calls exit(), abort() or assert() on anything that came from a file or a
// user. It throws one of these, with a message that names the function, the file (if any) and the
// offending values:
//
//   Error                 internal failure, a broken invariant          exit code 1
//   ├── UsageError        bad flags / arguments / option combinations    exit code 2
//   ├── InputError        missing or unreadable input, bad values        exit code 3
//   │   └── FormatError   a file whose bytes violate its format          exit code 3
//   ├── NumericError      NaN/Inf produced, singular matrix, no converge exit code 4
//   └── Interrupted       SIGINT (Ctrl-C) or SIGTERM during long work    exit code 130 (SIGINT),
//                         thrown by throw_if_interrupted() (interrupt.hpp)         143 (SIGTERM)
//
// Interrupted is not a failure of the input or the code: catch sites that turn an Error into a
// skipped item or a fallback must let it through (catch the specific subclass they handle).
//
// Usage:
//   if (window < 0) throw UsageError(str_cat("attend: --window must be >= 0, got ", window));
//   try { ... } catch (const std::exception& e) { return exit_code_for(e); }
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace attnlab {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  virtual int exit_code() const noexcept { return 1; }
};

class UsageError : public Error {
 public:
  using Error::Error;
  int exit_code() const noexcept override { return 2; }
};

class InputError : public Error {
 public:
  using Error::Error;
  int exit_code() const noexcept override { return 3; }
};

class FormatError : public InputError {
 public:
  using InputError::InputError;
};

class NumericError : public Error {
 public:
  using Error::Error;
  int exit_code() const noexcept override { return 4; }
};

class Interrupted : public Error {
 public:
  // `signal_number`: the signal that asked to stop (SIGINT = 2 -> exit 130, SIGTERM = 15 -> 143).
  explicit Interrupted(int signal_number = 2);
  int signal_number() const noexcept { return signal_; }
  int exit_code() const noexcept override { return 128 + signal_; }

 private:
  int signal_;
};

// Exit code for any exception: attnlab errors carry their own, everything else is internal (1).
int exit_code_for(const std::exception& e) noexcept;

// Concatenates streamable values into one string: str_cat("N=", n, " d=", d).
template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  os.precision(17);
  (os << ... << args);
  return os.str();
}

}  // namespace attnlab
