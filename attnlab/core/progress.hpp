// attnlab/core/progress.hpp — progress of long work on stderr: a bar on a terminal, periodic
// lines elsewhere.
//
// Long work (sweeps, training) reports progress. On a terminal the bar is redrawn in place (~10
// times per second). When stderr is not a terminal (CI, pipes, log files) the bar prints one
// plain line instead — first after `interval` seconds, then every `interval` seconds, and a last
// line at finish() when any was printed — so a short run stays silent and a long one shows it is
// alive:
//   ntk sweep: 35/120 (29.2%), 12 s elapsed, ~29 s left  loss 1.23
// The interval is 10 s, or ATTNLAB_PROGRESS_SECONDS (a number >= 0) when set. ATTNLAB_NO_PROGRESS
// turns every form off. Callers that print their own line per unit of work on a non-terminal
// pass NonTerminal::silent. advance() is safe to call from several OpenMP threads.
//
// Usage:
//   Progress bar("ntk sweep", total_steps);
//   for (...) { ...; bar.set_note("loss 1.2"); bar.advance(); }
//   bar.finish();   // also called by the destructor
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace attnlab {

class Progress {
 public:
  enum class Mode { off, bar, lines };
  enum class NonTerminal { lines, silent };

  Progress(std::string label, std::int64_t total, NonTerminal non_terminal = NonTerminal::lines);
  // Explicit form (tests): `mode` and `interval_seconds` as given, output to `sink`.
  Progress(std::string label, std::int64_t total, Mode mode, double interval_seconds,
           std::FILE* sink);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(std::int64_t steps = 1);
  // Text shown after the counts on the next bar redraw or line (e.g. "loss 1.23  18000 tok/s").
  void set_note(std::string note);
  void finish();
  // True when anything will be shown (bar or lines): callers skip building notes otherwise.
  bool enabled() const { return mode_ != Mode::off; }
  Mode mode() const { return mode_; }

  // True when stderr is a terminal and ATTNLAB_NO_PROGRESS is unset.
  static bool terminal_attached();
  // The mode a default-constructed Progress uses in this process (environment + stderr).
  static Mode default_mode(NonTerminal non_terminal);
  // ATTNLAB_PROGRESS_SECONDS when it is a number >= 0, else 10.
  static double line_interval_seconds();

 private:
  void draw_bar(std::int64_t done);
  void print_line(std::int64_t done);

  std::string label_, note_;
  std::int64_t total_;
  std::atomic<std::int64_t> done_{0};
  Mode mode_;
  double interval_seconds_;
  std::FILE* sink_;
  bool finished_ = false;
  bool printed_line_ = false;
  std::mutex draw_mutex_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace attnlab
