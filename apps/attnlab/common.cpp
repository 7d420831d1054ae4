#include "apps/attnlab/command.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "attnlab/core/error.hpp"
#include "attnlab/core/threads.hpp"

namespace attnlab::cli {
namespace {
std::vector<std::string>& argv_store() {
  static std::vector<std::string> v;
  return v;
}
}  // namespace

const std::vector<std::string>& command_line() {
  return argv_store();
}

namespace {
std::vector<std::pair<int, RegisterFn>>& registry() {
  static std::vector<std::pair<int, RegisterFn>> r;
  return r;
}
}  // namespace

CommandRegistrar::CommandRegistrar(int order, RegisterFn fn) {
  registry().emplace_back(order, fn);
}

std::vector<RegisterFn> registered_commands() {
  auto r = registry();
  std::stable_sort(r.begin(), r.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<RegisterFn> fns;
  for (const auto& entry : r) fns.push_back(entry.second);
  return fns;
}

void set_command_line(int argc, char** argv) {
  argv_store().assign(argv, argv + argc);
}

namespace {

// An integer literal (optional sign, digits only) that does not fit in 64 bits: CLI11 would
// saturate it silently into an integer flag, so every numeric validator rejects it.
bool integer_out_of_range(const std::string& value) {
  std::size_t i = (!value.empty() && (value[0] == '+' || value[0] == '-')) ? 1 : 0;
  if (i == value.size()) return false;
  for (std::size_t k = i; k < value.size(); ++k)
    if (value[k] < '0' || value[k] > '9') return false;
  errno = 0;
  (void)std::strtoll(value.c_str(), nullptr, 10);
  return errno == ERANGE;
}

std::string out_of_range_message(const std::string& value) {
  return "is out of range (at most 9223372036854775807), got " + value;
}

}  // namespace

CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        double x = 0;
        if (!CLI::detail::lexical_cast(value, x)) return "must be a number, got '" + value + "'";
        if (integer_out_of_range(value)) return out_of_range_message(value);
        if (!(x > 0)) return "must be > 0, got " + value;
        return {};
      },
      "POSITIVE");
}

CLI::Validator non_negative_number() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        double x = 0;
        if (!CLI::detail::lexical_cast(value, x)) return "must be a number, got '" + value + "'";
        if (integer_out_of_range(value)) return out_of_range_message(value);
        if (!(x >= 0)) return "must be >= 0, got " + value;
        return {};
      },
      "NON-NEGATIVE");
}

CLI::Validator at_most(double max, std::string why) {
  return CLI::Validator(
      [max, why](std::string& value) -> std::string {
        double x = 0;
        if (!CLI::detail::lexical_cast(value, x)) return "must be a number, got '" + value + "'";
        if (x > max) {
          char bound[32];
          std::snprintf(bound, sizeof bound, "%.0f", max);
          return std::string("must be <= ") + bound + " (" + why + "), got " + value;
        }
        return {};
      },
      "");
}

CLI::Validator seeds_bound() {
  return at_most(kMaxSeeds, "one full run per seed");
}

CLI::Validator steps_bound() {
  return at_most(kMaxSteps, "a bound against typos; split longer runs with checkpoints");
}

void add_quick_flag(CLI::App* cmd, bool& quick, const std::string& what) {
  cmd->add_flag("--quick", quick,
                "The report's quick budget (" + what + "); flags given explicitly still win");
}

void add_max_memory_option(CLI::App* cmd, std::string& max_memory) {
  cmd->add_option("--max-memory", max_memory,
                  "Memory limit the run's estimate is checked against before it allocates (e.g. "
                  "8G, 512M; default: physical memory)");
}

bool flag_given(const CLI::App& cmd, const char* flag) {
  const CLI::Option* opt = cmd.get_option_no_throw(flag);
  return opt != nullptr && opt->count() > 0;
}

void add_common_options(CLI::App* cmd, CommonOptions& opts) {
  cmd->add_option("--seed", opts.seed,
                  "Seed for every random draw (same seed + threads = same bits)")
      ->default_val(0);
  cmd->add_option("--threads", opts.threads, "Worker threads (0 = all hardware threads)")
      ->default_val(0)
      ->check(non_negative_number())
      ->check(at_most(kMaxThreads, "more threads than any machine attnlab runs on"));
  cmd->add_option("--json", opts.json_path, "Write the result envelope (JSON) to this path");
}

RunInfo begin_run(const std::string& kind, const CommonOptions& opts) {
  set_num_threads(opts.threads);
  RunInfo info;
  info.kind = kind;
  info.command_line = command_line();
  info.seed = opts.seed;
  info.threads = num_threads();
  return info;
}

}  // namespace attnlab::cli
