// attnlab report — run every study and write one self-contained HTML page (report/index.html).
#include <cstdio>

#include "apps/attnlab/command.hpp"
#include "attnlab/report/report_builder.hpp"

namespace attnlab::cli {

namespace {
void register_report(CLI::App& app) {
  struct Options {
    CommonOptions common;
    std::string out = "report";
    std::string from;
    bool quick = false;
    std::vector<std::string> only;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "report",
      "Run every study and write one self-contained HTML page with inline SVG figures.\n"
      "Data behind each section is saved as <out>/data/<section>.json.");
  cmd->add_option("--out", opts->out, "Output directory (index.html + data/)")
      ->default_val("report");
  cmd->add_option("--from", opts->from,
                  "Re-render from the data/ of a previous report in this directory (no recompute)");
  cmd->add_flag("--quick", opts->quick, "Smallest study budgets (about a minute on 2 cores)");
  cmd->add_option("--only", opts->only, "Only these section ids (repeatable)");
  add_common_options(cmd, opts->common);
  cmd->callback([opts] {
    report::ReportOptions o;
    o.out_dir = opts->out;
    if (!opts->from.empty()) o.from_dir = opts->from;
    o.quick = opts->quick;
    o.seed = opts->common.seed;
    o.threads = opts->common.threads;
    o.only = opts->only;
    o.command_line = command_line();
    const auto summary = report::build_report(o);
    std::printf("%s\n", summary.index_html.string().c_str());
  });
}

}  // namespace

static const CommandRegistrar registrar(100, register_report);

}  // namespace attnlab::cli
