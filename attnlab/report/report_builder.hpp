// attnlab/report/report_builder.hpp — `attnlab report`: run every study, save its JSON, render
// HTML.
//
// The report is a list of study sections. For each, the builder either runs the study (within
// the quick or default budget) and saves its result envelope as <out>/data/<id>.json, or — with
// `from_dir` — reads <from>/data/<id>.json back and only renders. Sections read Result JSON only
// (never live objects), so a re-render from saved data gives the same page.
//
// All files (data JSON and index.html) are written together at the end through one OutputSet:
// a failure leaves no partial report.
//
// Usage:
//   ReportOptions o;  o.out_dir = "report";  o.quick = true;
//   ReportSummary s = build_report(o);       // s.index_html = "report/index.html"
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace attnlab::report {

struct ReportOptions {
  std::filesystem::path out_dir = "report";
  std::optional<std::filesystem::path> from_dir;  // re-render saved data instead of running
  bool quick = false;                             // smallest budgets (about a minute in all)
  std::uint64_t seed = 0;
  int threads = 0;
  std::vector<std::string> only;          // section ids to include; empty = all
  std::vector<std::string> command_line;  // recorded in each result envelope
};

// One study as the report sees it.
struct StudySection {
  std::string id;  // file name under data/ and the HTML anchor
  std::string title;
  // Runs the study and returns its result JSON (the envelope is added by the builder).
  std::function<nlohmann::json(const ReportOptions&)> run;
  // Renders the section body from the result JSON.
  std::function<std::string(const nlohmann::json& result)> render;
};

// Every section, in page order.
const std::vector<StudySection>& study_sections();

struct ReportSummary {
  std::filesystem::path index_html;
  std::vector<std::string> sections;  // ids rendered
  double seconds = 0.0;
};

ReportSummary build_report(const ReportOptions& options);

}  // namespace attnlab::report
