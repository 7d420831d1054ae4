// attnlab/core/interrupt.hpp — Ctrl-C (SIGINT) and SIGTERM stop long work cleanly.
//
// The CLI installs the handlers once at start-up. A signal only sets a flag (nothing else is safe
// inside a handler); long loops poll it through throw_if_interrupted(), which throws Interrupted
// (core/error.hpp: exit code 128 + signal, 130 for SIGINT). The exception unwinds like any other
// error, so OutputSet never renames a temporary into place and removes the ones it made: an
// interrupted run leaves no partial output, and files written before it (a checkpoint) stay whole.
//
// Where the flag is polled: Progress::advance() (every long loop reports progress there, so it is
// the single point most work needs) and the tiny-LM trainer's step loop.
//
// Invariants:
//   - the first signal is recorded, and both handlers go back to SIG_DFL at once, so a second
//     Ctrl-C kills the process immediately (the way out of a loop that never polls);
//   - handlers are installed with SA_RESTART: system calls are resumed, not failed with EINTR;
//   - a signal the process inherited as ignored (nohup, `cmd &` in a script) stays ignored;
//   - throw_if_interrupted() never throws inside an OpenMP parallel region (an exception must not
//     escape one): there it returns, and the next poll outside the region throws.
//
// Usage:
//   install_interrupt_handlers();                  // main(), before any work
//   for (...) { work(); throw_if_interrupted(); }  // or just bar.advance()
#pragma once

namespace attnlab {

// SIGINT and SIGTERM set the interrupt flag (and restore SIG_DFL for both). Call it again after
// a signal to re-arm (tests).
void install_interrupt_handlers();

// True once SIGINT or SIGTERM has been received since the handlers were installed (or since
// reset_interrupt_for_testing()).
bool interrupted();

// The signal that set the flag (SIGINT, SIGTERM), 0 when none.
int interrupt_signal();

// Throws Interrupted(interrupt_signal()) when the flag is set and the caller is not inside an
// OpenMP parallel region; otherwise returns.
void throw_if_interrupted();

// Tests only: clears the flag (the handlers stay as they are: re-install after a signal).
void reset_interrupt_for_testing();

}  // namespace attnlab
