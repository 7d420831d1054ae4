#include "attnlab/core/progress.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "attnlab/core/interrupt.hpp"

namespace attnlab {

bool Progress::terminal_attached() {
  return ::isatty(STDERR_FILENO) == 1 && std::getenv("ATTNLAB_NO_PROGRESS") == nullptr;
}

Progress::Mode Progress::default_mode(NonTerminal non_terminal) {
  if (std::getenv("ATTNLAB_NO_PROGRESS") != nullptr) return Mode::off;
  if (::isatty(STDERR_FILENO) == 1) return Mode::bar;
  return non_terminal == NonTerminal::lines ? Mode::lines : Mode::off;
}

double Progress::line_interval_seconds() {
  const char* text = std::getenv("ATTNLAB_PROGRESS_SECONDS");
  if (text == nullptr || *text == '\0') return 10.0;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text, &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v) || v < 0) return 10.0;
  return v;
}

Progress::Progress(std::string label, std::int64_t total, NonTerminal non_terminal)
    : Progress(std::move(label), total, default_mode(non_terminal), line_interval_seconds(),
               stderr) {}

Progress::Progress(std::string label, std::int64_t total, Mode mode, double interval_seconds,
                   std::FILE* sink)
    : label_(std::move(label)),
      total_(total > 0 ? total : 1),
      mode_(mode),
      interval_seconds_(interval_seconds),
      sink_(sink),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  finish();
}

void Progress::advance(std::int64_t steps) {
  // Every long loop reports here, so this is where Ctrl-C / SIGTERM stops the work (Interrupted);
  // inside an OpenMP parallel region it does not throw, the next advance() outside does.
  throw_if_interrupted();
  const std::int64_t done = done_.fetch_add(steps) + steps;
  if (mode_ == Mode::off) return;
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(draw_mutex_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;
  if (mode_ == Mode::bar) {
    if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
    last_draw_ = now;
    draw_bar(done);
    return;
  }
  if (std::chrono::duration<double>(now - last_draw_).count() < interval_seconds_) return;
  last_draw_ = now;
  print_line(done);
}

void Progress::set_note(std::string note) {
  if (mode_ == Mode::off) return;
  std::lock_guard lock(draw_mutex_);
  note_ = std::move(note);
}

namespace {

struct Fractions {
  double frac, elapsed, eta;
};

Fractions fractions(std::int64_t done, std::int64_t total,
                    std::chrono::steady_clock::time_point start) {
  const double frac = static_cast<double>(done < total ? done : total) / static_cast<double>(total);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {frac, elapsed, frac > 0 ? elapsed * (1 - frac) / frac : 0.0};
}

}  // namespace

void Progress::draw_bar(std::int64_t done) {
  const Fractions f = fractions(done, total_, start_);
  const int width = 30;
  const int filled = static_cast<int>(f.frac * width);
  std::fprintf(sink_, "\r%s [", label_.c_str());
  for (int i = 0; i < width; ++i) std::fputc(i < filled ? '#' : '.', sink_);
  std::fprintf(sink_, "] %5.1f%%  %lld/%lld  %.0fs elapsed, ~%.0fs left %s ", 100.0 * f.frac,
               static_cast<long long>(done), static_cast<long long>(total_), f.elapsed, f.eta,
               note_.c_str());
  std::fflush(sink_);
}

void Progress::print_line(std::int64_t done) {
  const Fractions f = fractions(done, total_, start_);
  std::fprintf(sink_, "%s: %lld/%lld (%.1f%%), %.0f s elapsed, ~%.0f s left%s%s\n", label_.c_str(),
               static_cast<long long>(done), static_cast<long long>(total_), 100.0 * f.frac,
               f.elapsed, f.eta, note_.empty() ? "" : "  ", note_.c_str());
  std::fflush(sink_);
  printed_line_ = true;
}

void Progress::finish() {
  if (mode_ == Mode::off) return;
  std::lock_guard lock(draw_mutex_);
  if (finished_) return;
  finished_ = true;
  if (mode_ == Mode::bar) {
    draw_bar(done_.load());
    std::fputc('\n', sink_);
    std::fflush(sink_);
  } else if (printed_line_) {
    print_line(done_.load());
  }
}

}  // namespace attnlab
