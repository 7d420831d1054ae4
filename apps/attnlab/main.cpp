// attnlab — command-line entry point. Each subcommand is registered from its own cmd_*.cpp.
//
// Ctrl-C / SIGTERM (core/interrupt.hpp): long work stops at its next progress poll with
// "attnlab: interrupted (SIGINT)" and exit code 130 (143 for SIGTERM), leaving no partial output;
// a second Ctrl-C kills at once. An error raised while stopping (e.g. a helper process that
// died of the same Ctrl-C) is reported as the interruption it is.
#include <cstdio>
#include <exception>

#include "apps/attnlab/command.hpp"
#include "attnlab/core/blas_core.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/interrupt.hpp"

int main(int argc, char** argv) {
  using namespace attnlab;
  reexec_with_best_blas_core(argv);  // OpenBLAS on a lesser kernel than the CPU has: run again
  install_interrupt_handlers();
  cli::set_command_line(argc, argv);
  CLI::App app{"attnlab: measure what attention mechanisms trade away", "attnlab"};
  app.require_subcommand(1);
  app.set_version_flag("--version", attnlab_version() + " (" + git_revision() + ")");
  for (cli::RegisterFn fn : cli::registered_commands()) fn(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "attnlab: usage error: %s (try --help)\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    if (interrupted() || dynamic_cast<const Interrupted*>(&e) != nullptr) {
      const Interrupted stop(interrupted() ? interrupt_signal()
                                           : dynamic_cast<const Interrupted&>(e).signal_number());
      std::fprintf(stderr, "attnlab: %s\n", stop.what());
      return stop.exit_code();
    }
    const int code = exit_code_for(e);
    const char* kind = code == 2   ? "usage error"
                       : code == 3 ? "input error"
                       : code == 4 ? "numeric error"
                                   : "internal error";
    std::fprintf(stderr, "attnlab: %s: %s\n", kind, e.what());
    return code;
  }
  if (interrupted()) {  // arrived after the last poll: the outputs are complete, but say so
    const Interrupted stop(interrupt_signal());
    std::fprintf(stderr, "attnlab: %s after the work had finished (its outputs are complete)\n",
                 stop.what());
    return stop.exit_code();
  }
  return 0;
}
