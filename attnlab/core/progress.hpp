// attnlab/core/progress.hpp — a progress bar on stderr, drawn only when stderr is a terminal.
//
// Long work (sweeps, training) reports progress; when stderr is not a terminal (CI, pipes, tests)
// or ATTNLAB_NO_PROGRESS is set, the bar draws nothing at all. advance() is safe to call from
// several OpenMP threads; drawing is throttled to ~10 updates per second.
//
// Usage:
//   Progress bar("ntk sweep", total_steps);
//   for (...) { ...; bar.set_note("loss 1.2"); bar.advance(); }
//   bar.finish();   // also called by the destructor
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace attnlab {

class Progress {
 public:
  Progress(std::string label, std::int64_t total);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(std::int64_t steps = 1);
  // Text drawn after the counts on the next redraw (e.g. "loss 1.23  18000 tok/s").
  void set_note(std::string note);
  void finish();
  bool enabled() const { return enabled_; }

  // True when stderr is a terminal and ATTNLAB_NO_PROGRESS is unset.
  static bool terminal_attached();

 private:
  void draw(std::int64_t done);

  std::string label_, note_;
  std::int64_t total_;
  std::atomic<std::int64_t> done_{0};
  bool enabled_;
  bool finished_ = false;
  std::mutex draw_mutex_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace attnlab
