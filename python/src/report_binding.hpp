// python/src/report_binding.hpp — `attnlab report` from Python: attnlab.report() runs the
// studies (or re-renders saved data) and writes the same index.html + data/*.json as the CLI
// (report/report_builder.hpp); attnlab.report_sections() lists the section ids.
#pragma once

#include <nanobind/nanobind.h>

namespace attnlab::python {

void bind_report(nanobind::module_& m);

}  // namespace attnlab::python
