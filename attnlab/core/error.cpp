#include "attnlab/core/error.hpp"

namespace attnlab {

int exit_code_for(const std::exception& e) noexcept {
  if (const auto* err = dynamic_cast<const Error*>(&e)) return err->exit_code();
  return 1;
}

}  // namespace attnlab
