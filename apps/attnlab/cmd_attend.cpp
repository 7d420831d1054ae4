// attnlab attend — run one attention spec on NPY q/k/v and write the output (and weights).
//
//   attnlab attend --q Q.npy --k K.npy --v V.npy --out O.npy [--weights-out A.npy]
//                  [--normalizer softmax|sparsemax|entmax15|ssmax|none] [--temperature T]
//                  [--causal] [--window W [--sinks S]] [--decay G[,G...]] [--alibi] [--topk K]
//                  [--key-mask MASK.npy] [--json R.json]
//
// q [N, d] or [H, N, d]; k [M, d] / [H, M, d]; v [M, dv] / [H, M, dv]. The output keeps the rank
// and float dtype of q. All outputs are written together or not at all.
#include <cmath>

#include "apps/attnlab/command.hpp"
#include "attnlab/attention/attend.hpp"
#include "attnlab/attention/reference_attention.hpp"
#include "attnlab/attention/spec.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/threads.hpp"
#include "attnlab/io/npy.hpp"

namespace attnlab::cli {
namespace {

using attention::AttentionSpec;

struct AttendOptions {
  CommonOptions common;
  std::string q_path, k_path, v_path, out_path, weights_path, key_mask_path;
  std::string normalizer = "softmax";
  double temperature = 0.0;
  double ssmax_s = 1.0;
  bool causal = false;
  Index window = 0;
  Index sinks = 0;
  std::vector<double> decay;
  bool alibi = false;
  Index topk = 0;
  std::string kernel = "auto";
  bool diagnostics = false;
  Index block_q = 64, block_k = 256;
};

// Mean of the finite entries of one row of a [H, N] statistic.
double finite_mean(const MatrixD& m, Index h) {
  double sum = 0.0;
  Index count = 0;
  for (Index i = 0; i < m.cols(); ++i)
    if (std::isfinite(m(h, i))) {
      sum += m(h, i);
      ++count;
    }
  return count ? sum / static_cast<double>(count) : std::nan("");
}

nlohmann::json per_head_summary(const attention::RowDiagnostics& d) {
  nlohmann::json heads = nlohmann::json::array();
  for (Index h = 0; h < d.heads(); ++h) {
    heads.push_back({{"head", h},
                     {"norm_entropy", finite_mean(d.norm_entropy, h)},
                     {"entropy", finite_mean(d.entropy, h)},
                     {"sink_mass", finite_mean(d.sink_mass, h)},
                     {"max_weight", finite_mean(d.max_weight, h)},
                     {"below_1pct_max", finite_mean(d.below_1pct_max, h)},
                     {"wasted_share", finite_mean(d.wasted_share, h)},
                     {"wasted_mass", finite_mean(d.wasted_mass, h)},
                     {"top8_mass", finite_mean(d.top8_mass, h)}});
  }
  return heads;
}

struct LoadedOperand {
  Tensor3d values;  // [H, rows, cols]
  bool was_2d = false;
  bool float32 = false;
};

LoadedOperand load_operand(const std::string& path, const char* what) {
  LoadedOperand op;
  const io::NpyHeader header = io::parse_npy_header(read_file(path, what), path);
  op.was_2d = header.shape.size() == 2;
  op.float32 = header.dtype == io::NpyDtype::kF32;
  op.values = io::load_npy_tensor3(path, what);
  return op;
}

std::string shape_string(const Tensor3d& t, bool as_2d) {
  if (as_2d) return str_cat("[", t.dim1(), ", ", t.dim2(), "]");
  return str_cat("[", t.dim0(), ", ", t.dim1(), ", ", t.dim2(), "]");
}

std::string encode_like(const Tensor3d& t, bool as_2d, bool float32) {
  std::vector<Index> shape = as_2d ? std::vector<Index>{t.dim1(), t.dim2()}
                                   : std::vector<Index>{t.dim0(), t.dim1(), t.dim2()};
  if (float32) {
    const Tensor3f f = t.cast<float>();
    return io::encode_npy(f.data(), shape);
  }
  return io::encode_npy(t.data(), shape);
}

void run_attend(const AttendOptions& o) {
  RunInfo info = begin_run("attend", o.common);
  Timings timings;
  LoadedOperand q, k, v;
  {
    auto t = timings.scope("load");
    q = load_operand(o.q_path, "q");
    k = load_operand(o.k_path, "k");
    v = load_operand(o.v_path, "v");
  }
  const Tensor3d &Q = q.values, &K = k.values, &V = v.values;
  if (Q.dim0() != K.dim0() || Q.dim0() != V.dim0()) {
    throw InputError(str_cat("attend: head counts differ: q ", shape_string(Q, q.was_2d), " (",
                             o.q_path, "), k ", shape_string(K, k.was_2d), " (", o.k_path, "), v ",
                             shape_string(V, v.was_2d), " (", o.v_path, ")"));
  }
  if (Q.dim2() != K.dim2()) {
    throw InputError(str_cat("attend: q and k need the same last dimension d: q ",
                             shape_string(Q, q.was_2d), " (", o.q_path, "), k ",
                             shape_string(K, k.was_2d), " (", o.k_path, ")"));
  }
  if (K.dim1() != V.dim1()) {
    throw InputError(str_cat("attend: k and v need the same number of rows M: k ",
                             shape_string(K, k.was_2d), " (", o.k_path, "), v ",
                             shape_string(V, v.was_2d), " (", o.v_path, ")"));
  }
  const Index H = Q.dim0(), N = Q.dim1(), M = K.dim1(), d = Q.dim2();

  AttentionSpec spec;
  spec.normalizer = attention::parse_normalizer(o.normalizer);
  spec.temperature = o.temperature;
  spec.ssmax_s = o.ssmax_s;
  spec.causal = o.causal;
  spec.window = o.window;
  spec.sinks = o.sinks;
  spec.decay = o.decay;
  spec.alibi = o.alibi;
  spec.topk = o.topk;
  if (!o.key_mask_path.empty()) {
    spec.key_mask = io::load_npy_mask(o.key_mask_path);
    if (static_cast<Index>(spec.key_mask.size()) != M) {
      throw InputError(str_cat("attend: key mask '", o.key_mask_path, "' has ",
                               spec.key_mask.size(), " entries but k has M=", M, " rows"));
    }
  }
  spec.validate(H, N, M, d);
  if (!o.weights_path.empty() && H * N * M > (Index{1} << 31)) {
    throw UsageError(str_cat("attend: --weights-out would write H*N*M = ", H * N * M,
                             " values (over 2^31); drop --weights-out or use smaller inputs"));
  }

  // Kernel choice: auto = fused fp32 for float32 inputs and supported specs (no weights wanted);
  // float64 inputs stay on the fp64 reference unless --kernel fused asks for fp32.
  attention::Kernel kernel = attention::parse_kernel(o.kernel);
  const bool wants_weights = !o.weights_path.empty();
  if (kernel == attention::Kernel::fused && wants_weights) {
    throw UsageError(
        "attend: --weights-out needs materialized weights; use --kernel reference or auto");
  }
  std::string why;
  if (kernel == attention::Kernel::fused && !attention::fused_supports(spec, &why)) {
    throw UsageError("attend: --kernel fused: " + why);
  }
  if (kernel == attention::Kernel::automatic) {
    kernel = q.float32 && !wants_weights && attention::fused_supports(spec)
                 ? attention::Kernel::fused
                 : attention::Kernel::reference;
  }
  if (o.diagnostics && spec.normalizer == attention::Normalizer::none) {
    throw UsageError(
        "attend: --diagnostics needs a normalizer (weights of 'none' are not a distribution)");
  }
  Tensor3d out, weights;
  attention::RowDiagnostics diag;
  {
    auto t = timings.scope("attention");
    if (kernel == attention::Kernel::fused) {
      attention::AttendOptions ao;
      ao.kernel = attention::Kernel::fused;
      ao.diagnostics = o.diagnostics;
      ao.fused.block_q = o.block_q;
      ao.fused.block_k = o.block_k;
      attention::AttendResult r =
          attention::attend(Q.cast<float>(), K.cast<float>(), V.cast<float>(), spec, ao);
      out = r.out.cast<double>();
      diag = std::move(r.diagnostics);
    } else {
      attention::ReferenceForward fwd = attention::attention_forward_reference(Q, K, V, spec);
      out = std::move(fwd.out);
      if (o.diagnostics) diag = attention::row_diagnostics_reference(fwd);
      weights = std::move(fwd.weights);
    }
  }
  for (Index i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out.data()[i])) {
      throw NumericError(
          str_cat("attend: non-finite output at flat index ", i, " (spec: ", spec.describe(), ")"));
    }
  }

  OutputSet outputs;
  outputs.add(o.out_path, encode_like(out, q.was_2d, q.float32));
  if (!o.weights_path.empty()) {
    outputs.add(o.weights_path, encode_like(weights, q.was_2d, q.float32));
  }
  if (!o.common.json_path.empty()) {
    nlohmann::json result;
    result["spec"] = spec.to_json();
    result["spec_text"] = spec.describe();
    result["kernel"] = std::string(attention::to_string(kernel));
    if (kernel == attention::Kernel::fused) {
      result["simd"] = attention::to_string(attention::best_simd_level());
    }
    if (o.diagnostics) result["heads"] = per_head_summary(diag);
    result["shapes"] = {{"H", H}, {"N", N}, {"M", M}, {"d", d}, {"dv", V.dim2()}};
    result["inputs"] = {{"q", o.q_path}, {"k", o.k_path}, {"v", o.v_path}};
    result["outputs"] = {{"out", o.out_path}, {"weights", o.weights_path}};
    outputs.add(o.common.json_path, dump_json(make_result_envelope(info, timings, result)));
  }
  outputs.commit();
}

}  // namespace

namespace {
void register_attend(CLI::App& app) {
  auto opts = std::make_shared<AttendOptions>();
  auto* cmd = app.add_subcommand(
      "attend",
      "Run one attention spec on NPY q/k/v.\n"
      "Shapes: q [N, d] or [H, N, d]; k [M, d]/[H, M, d]; v [M, dv]/[H, M, dv] (float32/float64).\n"
      "Query i sits at position i + (M - N), so the last query aligns with the last key.");
  cmd->add_option("--q", opts->q_path, "Queries, NPY [N, d] or [H, N, d]")->required();
  cmd->add_option("--k", opts->k_path, "Keys, NPY [M, d] or [H, M, d]")->required();
  cmd->add_option("--v", opts->v_path, "Values, NPY [M, dv] or [H, M, dv]")->required();
  cmd->add_option("--out", opts->out_path, "Output NPY [N, dv] / [H, N, dv] (dtype of q)")
      ->required();
  cmd->add_option("--weights-out", opts->weights_path,
                  "Also write the attention weights, NPY [N, M] / [H, N, M]");
  cmd->add_option("--normalizer", opts->normalizer,
                  "softmax | sparsemax | entmax15 | ssmax (scalable-softmax) | none (linearized)")
      ->check(CLI::IsMember({"softmax", "sparsemax", "entmax15", "ssmax", "none"}))
      ->default_val("softmax");
  cmd->add_option("--temperature", opts->temperature, "Logits = q.k / T (default: T = sqrt(d))")
      ->check(positive_number());
  cmd->add_option("--ssmax-s", opts->ssmax_s,
                  "Scalable-softmax s: logits x s*log(n), n = visible keys (default 1)")
      ->check(positive_number());
  cmd->add_flag("--causal", opts->causal, "Keep keys at or before the query position");
  cmd->add_option("--window", opts->window,
                  "Sliding window W: keep |pos(i) - j| < W (with --causal: 0 <= pos(i) - j < W)")
      ->check(positive_number());
  cmd->add_option("--sinks", opts->sinks,
                  "With --window: also keep the first S keys (StreamingLLM attention sinks)")
      ->check(positive_number());
  cmd->add_option("--decay", opts->decay,
                  "Exponential recency decay: bias -g_h*|pos(i) - j|; one rate or one per head")
      ->delimiter(',')
      ->check(non_negative_number());
  cmd->add_flag("--alibi", opts->alibi,
                "ALiBi bias -slope_h*|pos(i) - j|, slope_h = 2^(-8(h+1)/H)");
  cmd->add_option("--topk", opts->topk, "Keep the K largest logits of each row (after other mods)")
      ->check(positive_number());
  cmd->add_option("--kernel", opts->kernel,
                  "auto (fused fp32 for float32 inputs when supported, else the fp64 reference) | "
                  "fused | reference")
      ->check(CLI::IsMember({"auto", "fused", "reference"}))
      ->default_val("auto");
  cmd->add_flag("--diagnostics", opts->diagnostics,
                "Add per-head means of the row diagnostics (entropy, sink mass, sparsity, ...) "
                "to the --json result (streamed by the fused kernel)");
  cmd->add_option("--block-q", opts->block_q, "Fused kernel: query rows per task (default 64)")
      ->check(positive_number());
  cmd->add_option("--block-k", opts->block_k, "Fused kernel: keys per tile (default 256)")
      ->check(positive_number());
  cmd->add_option("--key-mask", opts->key_mask_path,
                  "Key padding mask NPY [M] of 0/1 (0 = padded key, never attended)");
  add_common_options(cmd, opts->common);
  cmd->callback([opts] { run_attend(*opts); });
}

}  // namespace

static const CommandRegistrar registrar(10, register_attend);

}  // namespace attnlab::cli
