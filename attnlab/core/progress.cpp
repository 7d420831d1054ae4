#include "attnlab/core/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace attnlab {

bool Progress::terminal_attached() {
  return ::isatty(STDERR_FILENO) == 1 && std::getenv("ATTNLAB_NO_PROGRESS") == nullptr;
}

Progress::Progress(std::string label, std::int64_t total)
    : label_(std::move(label)),
      total_(total > 0 ? total : 1),
      enabled_(terminal_attached()),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  finish();
}

void Progress::advance(std::int64_t steps) {
  const std::int64_t done = done_.fetch_add(steps) + steps;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(draw_mutex_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;
  if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
  last_draw_ = now;
  draw(done);
}

void Progress::set_note(std::string note) {
  if (!enabled_) return;
  std::lock_guard lock(draw_mutex_);
  note_ = std::move(note);
}

void Progress::draw(std::int64_t done) {
  const double frac =
      static_cast<double>(done < total_ ? done : total_) / static_cast<double>(total_);
  const int width = 30;
  const int filled = static_cast<int>(frac * width);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = frac > 0 ? elapsed * (1 - frac) / frac : 0.0;
  std::fprintf(stderr, "\r%s [", label_.c_str());
  for (int i = 0; i < width; ++i) std::fputc(i < filled ? '#' : '.', stderr);
  std::fprintf(stderr, "] %5.1f%%  %lld/%lld  %.0fs elapsed, ~%.0fs left %s ", 100.0 * frac,
               static_cast<long long>(done), static_cast<long long>(total_), elapsed, eta,
               note_.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (!enabled_) return;
  std::lock_guard lock(draw_mutex_);
  if (finished_) return;
  finished_ = true;
  draw(done_.load());
  std::fputc('\n', stderr);
}

}  // namespace attnlab
