#include "attnlab/report/report_builder.hpp"

#include <algorithm>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/progress.hpp"
#include "attnlab/core/result_json.hpp"
#include "attnlab/core/threads.hpp"
#include "attnlab/core/timer.hpp"
#include "attnlab/report/gnuplot.hpp"
#include "attnlab/report/html.hpp"
#include "attnlab/report/sections/encoder_section.hpp"
#include "attnlab/report/sections/gallery_section.hpp"
#include "attnlab/report/sections/influence_section.hpp"
#include "attnlab/report/sections/inspect_section.hpp"
#include "attnlab/report/sections/ntk_section.hpp"
#include "attnlab/report/sections/selectivity_section.hpp"
#include "attnlab/report/sections/speed_section.hpp"
#include "attnlab/report/sections/tradeoff_section.hpp"
#include "attnlab/report/sections/training_section.hpp"
#include "attnlab/report/studies/tradeoff_report_study.hpp"
#include "attnlab/report/studies/training_study.hpp"

namespace attnlab::report {
namespace fs = std::filesystem;

const std::vector<StudySection>& study_sections() {
  static const std::vector<StudySection> sections = {
      {"variants", "Attention variants at a glance", run_gallery_study, render_gallery_section},
      {"speed", "Speed and memory of the fused kernel", run_speed_study, render_speed_section},
      {"training", "A tiny LM trained by attnlab (training curve, baselines, sinks)",
       run_training_study, render_training_section},
      {"tradeoff", "What long-context heuristics cost (trained variants, frontier, sinks)",
       run_tradeoff_report_study, render_tradeoff_section},
      {"inspect", "What the heads do (per-head diagnostics of the trained tiny LM)",
       run_inspect_study, render_inspect_section},
      {"encoder", "What a trained encoder's heads do (all-MiniLM-L6-v2)", run_encoder_study,
       render_encoder_section},
      {"ntk", "Gram spectrum and NTK (non-)convergence", run_ntk_study, render_ntk_section},
      {"influence", "Influence malleability and poisoning", run_influence_study,
       render_influence_section},
      {"selectivity", "Selection limits of softmax (and of its alternatives)",
       run_selectivity_study, render_selectivity_section},
  };
  return sections;
}

ReportSummary build_report(const ReportOptions& options) {
  Timer total;
  // The page goes to --out: a file there, or an unwritable place, fails now, not after the
  // studies have run.
  check_output_directory(options.out_dir, "report: --out");
  set_num_threads(options.threads);
  begin_figure_page();  // figure ids depend only on this page's content
  for (const auto& id : options.only) {
    const auto& all = study_sections();
    if (std::none_of(all.begin(), all.end(), [&](const auto& s) { return s.id == id; })) {
      throw UsageError(str_cat("report: unknown section '", id, "'"));
    }
  }
  HtmlPage page("attnlab report");
  page.set_intro_html(paragraph(
      "What attention trades away, measured: each section below is one study, computed by "
      "attnlab on this machine. The data behind every figure is saved next to this page in "
      "data/<section>.json (with the command line, seed, thread count and git revision), and "
      "`attnlab report --from DIR` re-renders the page from it without recomputing."));
  OutputSet outputs;
  ReportSummary summary;
  std::vector<const StudySection*> todo;
  for (const auto& s : study_sections()) {
    if (!options.only.empty() &&
        std::find(options.only.begin(), options.only.end(), s.id) == options.only.end())
      continue;
    todo.push_back(&s);
  }
  Progress bar("report", static_cast<std::int64_t>(todo.size()));
  for (const StudySection* s : todo) {
    nlohmann::json result;
    if (options.from_dir) {
      const fs::path file = *options.from_dir / "data" / (s->id + ".json");
      nlohmann::json env;
      try {
        env = nlohmann::json::parse(read_file(file, "report data"));
      } catch (const nlohmann::json::parse_error& e) {
        throw FormatError(str_cat("'", file.string(), "': invalid JSON: ", e.what()));
      }
      result = check_result_envelope(env, s->id, file.string());
    } else {
      Timings timings;
      {
        auto t = timings.scope("study");
        result = s->run(options);
      }
      RunInfo info{s->id, options.command_line, options.seed, num_threads()};
      nlohmann::json env = make_result_envelope(info, timings, result);
      env["quick"] = options.quick;
      outputs.add(options.out_dir / "data" / (s->id + ".json"), dump_json(env));
    }
    page.add_section(s->id, s->title, s->render(result));
    summary.sections.push_back(s->id);
    bar.advance();
  }
  bar.finish();
  std::error_code ec;
  fs::create_directories(options.out_dir / "data", ec);
  if (ec) {
    throw InputError(str_cat("report: cannot create '", (options.out_dir / "data").string(),
                             "': ", ec.message()));
  }
  summary.index_html = options.out_dir / "index.html";
  outputs.add(summary.index_html, page.render());
  outputs.commit();
  summary.seconds = total.seconds();
  return summary;
}

}  // namespace attnlab::report
