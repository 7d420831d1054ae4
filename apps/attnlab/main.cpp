// attnlab — command-line entry point. Each subcommand is registered from its own cmd_*.cpp.
#include <cstdio>
#include <exception>

#include "apps/attnlab/command.hpp"
#include "attnlab/core/error.hpp"

int main(int argc, char** argv) {
  using namespace attnlab;
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
    const int code = exit_code_for(e);
    const char* kind = code == 2   ? "usage error"
                       : code == 3 ? "input error"
                       : code == 4 ? "numeric error"
                                   : "internal error";
    std::fprintf(stderr, "attnlab: %s: %s\n", kind, e.what());
    return code;
  }
  return 0;
}
