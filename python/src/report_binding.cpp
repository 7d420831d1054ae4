// python/src/report_binding.cpp — see report_binding.hpp.
#include "report_binding.hpp"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "attnlab/report/report_builder.hpp"

namespace attnlab::python {
namespace {

namespace nb = nanobind;

nb::dict build(const std::string& out_dir, bool quick, const std::vector<std::string>& only,
               const std::optional<std::string>& from_dir, std::uint64_t seed, int threads) {
  report::ReportOptions o;
  o.out_dir = out_dir;
  if (from_dir) o.from_dir = *from_dir;
  o.quick = quick;
  o.only = only;
  o.seed = seed;
  o.threads = threads;
  o.command_line = {"python", "attnlab.report"};
  report::ReportSummary s;
  {
    nb::gil_scoped_release unlocked;
    s = report::build_report(o);
  }
  nb::dict out;
  out["index_html"] = s.index_html.string();
  out["sections"] = s.sections;
  out["seconds"] = s.seconds;
  return out;
}

std::vector<std::pair<std::string, std::string>> sections() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const report::StudySection& s : report::study_sections()) out.emplace_back(s.id, s.title);
  return out;
}

}  // namespace

void bind_report(nb::module_& m) {
  m.def("report", &build, nb::arg("out_dir"), nb::arg("quick"), nb::arg("only"),
        nb::arg("from_dir").none(), nb::arg("seed"), nb::arg("threads"),
        "Runs the report's studies (or re-renders from_dir's data) into out_dir -> "
        "dict(index_html, sections, seconds).");
  m.def("report_sections", &sections, "(id, title) of every report section, in page order.");
}

}  // namespace attnlab::python
