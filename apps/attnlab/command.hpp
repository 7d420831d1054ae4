// apps/attnlab/command.hpp — how a subcommand plugs into the attnlab CLI.
//
// Each subcommand lives in its own cmd_<name>.cpp and defines one registration function that
// adds a CLI11 subcommand, its options, and a callback, registered with a CommandRegistrar.
// Callbacks only parse, call the library and write outputs; they throw attnlab errors, which main()
// maps to exit codes (2 usage, 3 input/format, 4 numeric, 1 internal) with one line on stderr.
//
// Every subcommand gets --seed, --threads and --json through add_common_options().
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/core/result_json.hpp"
#include "attnlab/core/timer.hpp"

namespace attnlab::cli {

struct CommonOptions {
  std::uint64_t seed = 0;
  int threads = 0;        // 0 = all hardware threads
  std::string json_path;  // empty = no JSON result
};

void add_common_options(CLI::App* cmd, CommonOptions& opts);
// Validators with short messages ("must be > 0, got -3") instead of CLI11's numeric ranges.
CLI::Validator positive_number();
CLI::Validator non_negative_number();
// "must be <= 1000 (why), got 2000000000": the bounds that keep a typo from running for days.
CLI::Validator at_most(double max, std::string why);
// Shared bounds of the study commands: seeds are whole repeated runs, steps are optimizer steps
// (or epochs, attack iterations) of one run.
inline constexpr double kMaxSeeds = 1000;
inline constexpr double kMaxSteps = 10'000'000;
inline constexpr double kMaxThreads = 1024;  // --threads
CLI::Validator seeds_bound();                // at_most(kMaxSeeds, "one full run per seed")
CLI::Validator steps_bound();                // at_most(kMaxSteps, ...)

// --quick: start from the report's quick budget (attnlab/analysis/budgets); flags given
// explicitly still win.
void add_quick_flag(CLI::App* cmd, bool& quick, const std::string& what);
// --max-memory SIZE: the limit the run's estimated memory is checked against before it allocates
// (default: physical memory; see attnlab/core/memory_limit.hpp).
void add_max_memory_option(CLI::App* cmd, std::string& max_memory);
// True when `flag` was given on the command line of `cmd`.
bool flag_given(const CLI::App& cmd, const char* flag);
// Applies --threads and returns the run description for the result envelope.
RunInfo begin_run(const std::string& kind, const CommonOptions& opts);
// The process argv, recorded in every result envelope.
const std::vector<std::string>& command_line();
void set_command_line(int argc, char** argv);

// Self-registration: each cmd_<name>.cpp defines
//   static const CommandRegistrar registrar(40, register_<name>);
// and main() adds every registered subcommand in increasing `order` (the order of --help).
using RegisterFn = void (*)(CLI::App& app);
struct CommandRegistrar {
  CommandRegistrar(int order, RegisterFn fn);
};
// Registered functions sorted by order.
std::vector<RegisterFn> registered_commands();

}  // namespace attnlab::cli
