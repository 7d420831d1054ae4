#include "apps/attnlab/command.hpp"

namespace attnlab::cli {
void register_attend(CLI::App& app) {
  auto* cmd = app.add_subcommand("attend", "Run an attention spec on NPY q/k/v");
  (void)cmd;
}
}  // namespace attnlab::cli
