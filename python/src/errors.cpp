// python/src/errors.cpp — see errors.hpp.
#include "errors.hpp"

#include "attnlab/core/error.hpp"

namespace attnlab::python {

void register_error_translators() {
  nanobind::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const FormatError& e) {  // before InputError: a readable file with bad contents
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const InputError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const UsageError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const NumericError& e) {
      PyErr_SetString(PyExc_FloatingPointError, e.what());
    } catch (const Interrupted& e) {
      PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
    }
  });
}

}  // namespace attnlab::python
