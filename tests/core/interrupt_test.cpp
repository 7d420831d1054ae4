// Tests for the interrupt facility (core/interrupt.hpp): a SIGINT / SIGTERM after the handlers
// are installed sets the flag, throw_if_interrupted() and Progress::advance() throw Interrupted
// (exit 130 / 143) — but never inside an OpenMP parallel region — the handlers go back to
// SIG_DFL after the first signal, and an inherited SIG_IGN is left alone.
#include "attnlab/core/interrupt.hpp"

#include <omp.h>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdio>

#include "attnlab/core/error.hpp"
#include "attnlab/core/progress.hpp"

namespace attnlab {
namespace {

// Saves SIGINT / SIGTERM dispositions and restores them (and clears the flag) afterwards, so the
// rest of the test binary runs as before.
class InterruptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::sigaction(SIGINT, nullptr, &old_int_);
    ::sigaction(SIGTERM, nullptr, &old_term_);
    reset_interrupt_for_testing();
  }
  void TearDown() override {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    reset_interrupt_for_testing();
  }
  static bool is_default(int sig) {
    struct sigaction sa {};
    ::sigaction(sig, nullptr, &sa);
    return sa.sa_handler == SIG_DFL;
  }
  struct sigaction old_int_ {
  }, old_term_{};
};

TEST_F(InterruptTest, NothingHappensWithoutASignal) {
  install_interrupt_handlers();
  EXPECT_FALSE(interrupted());
  EXPECT_EQ(interrupt_signal(), 0);
  EXPECT_NO_THROW(throw_if_interrupted());
  EXPECT_FALSE(is_default(SIGINT));
  EXPECT_FALSE(is_default(SIGTERM));
}

TEST_F(InterruptTest, SigintSetsTheFlagAndThrowsInterruptedWithExitCode130) {
  install_interrupt_handlers();
  ASSERT_EQ(::raise(SIGINT), 0);
  EXPECT_TRUE(interrupted());
  EXPECT_EQ(interrupt_signal(), SIGINT);
  try {
    throw_if_interrupted();
    ADD_FAILURE() << "nothing thrown";
  } catch (const Interrupted& e) {
    EXPECT_EQ(e.signal_number(), SIGINT);
    EXPECT_EQ(e.exit_code(), 130);
    EXPECT_EQ(exit_code_for(e), 130);
    EXPECT_NE(std::string(e.what()).find("interrupted"), std::string::npos) << e.what();
  }
  // The flag stays set: every later poll throws too.
  EXPECT_THROW(throw_if_interrupted(), Interrupted);
  // A second Ctrl-C takes the default action (kills): both handlers are back to SIG_DFL.
  EXPECT_TRUE(is_default(SIGINT));
  EXPECT_TRUE(is_default(SIGTERM));
  reset_interrupt_for_testing();
  EXPECT_FALSE(interrupted());
  EXPECT_NO_THROW(throw_if_interrupted());
}

TEST_F(InterruptTest, SigtermIsExitCode143AndTheFirstSignalWins) {
  install_interrupt_handlers();
  ASSERT_EQ(::raise(SIGTERM), 0);
  EXPECT_EQ(interrupt_signal(), SIGTERM);
  try {
    throw_if_interrupted();
    ADD_FAILURE() << "nothing thrown";
  } catch (const Error& e) {  // caught as the base class: exit code still the signal's
    EXPECT_EQ(e.exit_code(), 143);
    EXPECT_EQ(exit_code_for(e), 143);
  }
  // Re-armed, a SIGINT does not overwrite the recorded SIGTERM until reset.
  install_interrupt_handlers();
  ASSERT_EQ(::raise(SIGINT), 0);
  EXPECT_EQ(interrupt_signal(), SIGTERM);
}

TEST_F(InterruptTest, ProgressAdvanceThrowsOutsideParallelRegionsOnly) {
  Progress bar("test", 100, Progress::Mode::off, 10.0, stderr);
  install_interrupt_handlers();
  bar.advance();  // no signal yet
  ASSERT_EQ(::raise(SIGINT), 0);
  std::atomic<int> thrown_inside{0}, calls_inside{0};
#pragma omp parallel num_threads(2)
  {
    try {
      bar.advance();
      calls_inside.fetch_add(1);
    } catch (...) {
      thrown_inside.fetch_add(1);
    }
  }
  EXPECT_EQ(thrown_inside.load(), 0) << "an exception must not be thrown inside an OpenMP region";
  EXPECT_GE(calls_inside.load(), 1);
  EXPECT_THROW(bar.advance(), Interrupted);
  // Every mode polls, not only the visible ones.
  std::FILE* sink = std::tmpfile();
  ASSERT_NE(sink, nullptr);
  {
    Progress lines("test", 10, Progress::Mode::lines, 0.0, sink);
    EXPECT_THROW(lines.advance(), Interrupted);
  }
  std::fclose(sink);
}

TEST_F(InterruptTest, AnIgnoredSignalStaysIgnored) {
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  ASSERT_EQ(::sigaction(SIGINT, &ign, nullptr), 0);
  install_interrupt_handlers();
  struct sigaction now {};
  ::sigaction(SIGINT, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_IGN);
  ASSERT_EQ(::raise(SIGINT), 0);
  EXPECT_FALSE(interrupted());
  EXPECT_NO_THROW(throw_if_interrupted());
  // SIGTERM (not ignored) still has the handler.
  EXPECT_FALSE(is_default(SIGTERM));
}

}  // namespace
}  // namespace attnlab
