#include "attnlab/core/interrupt.hpp"

#include <omp.h>

#include <atomic>
#include <csignal>

#include "attnlab/core/error.hpp"

namespace attnlab {
namespace {

// Lock-free, so reading and writing it from a signal handler is well defined.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);
// Which of SIGINT / SIGTERM carry our handler (an ignored one is left ignored).
std::atomic<bool> g_installed_int{false}, g_installed_term{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void restore_default(int sig) {
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  ::sigaction(sig, &sa, nullptr);
}

void on_interrupt_signal(int sig) {
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig);  // the first signal wins
  // Async-signal-safe: the next SIGINT or SIGTERM takes the default action (terminate).
  if (g_installed_int.exchange(false)) restore_default(SIGINT);
  if (g_installed_term.exchange(false)) restore_default(SIGTERM);
}

// Installs the handler for `sig` unless the process inherited SIG_IGN for it (nohup, a
// background job of a non-interactive shell): an ignored signal stays ignored.
bool install_one(int sig) {
  struct sigaction old {};
  if (::sigaction(sig, nullptr, &old) != 0 || old.sa_handler == SIG_IGN) return false;
  struct sigaction sa {};
  sa.sa_handler = on_interrupt_signal;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  sa.sa_flags = SA_RESTART;
  return ::sigaction(sig, &sa, nullptr) == 0;
}

}  // namespace

void install_interrupt_handlers() {
  // Marked before the handler can run, cleared where it was not installed.
  g_installed_int.store(true);
  g_installed_int.store(install_one(SIGINT));
  g_installed_term.store(true);
  g_installed_term.store(install_one(SIGTERM));
}

bool interrupted() {
  return g_signal.load(std::memory_order_relaxed) != 0;
}

int interrupt_signal() {
  return g_signal.load(std::memory_order_relaxed);
}

void throw_if_interrupted() {
  const int sig = g_signal.load(std::memory_order_relaxed);
  if (sig == 0 || omp_in_parallel() != 0) return;
  throw Interrupted(sig);
}

void reset_interrupt_for_testing() {
  g_signal.store(0);
}

}  // namespace attnlab
