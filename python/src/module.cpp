// python/src/module.cpp — the extension module attnlab._attnlab (nanobind).
//
// Thin: each bind_* registers one header's worth of functions; python/attnlab/*.py is the
// documented API over it.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include "analysis_binding.hpp"
#include "attend_binding.hpp"
#include "attnlab/core/result_json.hpp"
#include "errors.hpp"
#include "models_binding.hpp"
#include "report_binding.hpp"

NB_MODULE(_attnlab, m) {
  m.doc() = "attnlab C++ core (use the attnlab package, not this module directly)";
  attnlab::python::register_error_translators();
  attnlab::python::bind_attend(m);
  attnlab::python::bind_analysis(m);
  attnlab::python::bind_models(m);
  attnlab::python::bind_report(m);
  m.attr("__version__") = attnlab::attnlab_version();
}
