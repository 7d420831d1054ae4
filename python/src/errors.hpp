// python/src/errors.hpp — attnlab's C++ exceptions as Python exceptions.
//
// UsageError, FormatError -> ValueError (a bad argument or bad file contents), InputError ->
// OSError (a file that cannot be read), NumericError -> FloatingPointError, Interrupted ->
// KeyboardInterrupt; the C++ message is kept verbatim.
#pragma once

#include <nanobind/nanobind.h>

namespace attnlab::python {

void register_error_translators();

}  // namespace attnlab::python
