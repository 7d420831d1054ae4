// attnlab report — placeholder registration; the report is assembled in attnlab/report.
#include "apps/attnlab/command.hpp"

namespace attnlab::cli {
void register_report(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "Write the HTML report with every study's section");
  (void)cmd;
}
}  // namespace attnlab::cli
