#include "attnlab/core/error.hpp"

#include <csignal>

namespace attnlab {

Interrupted::Interrupted(int signal_number)
    : Error(signal_number == SIGTERM  ? "interrupted (SIGTERM)"
            : signal_number == SIGINT ? "interrupted (SIGINT)"
                                      : str_cat("interrupted (signal ", signal_number, ")")),
      signal_(signal_number) {}

int exit_code_for(const std::exception& e) noexcept {
  if (const auto* err = dynamic_cast<const Error*>(&e)) return err->exit_code();
  return 1;
}

}  // namespace attnlab
