// attnlab attend — run one attention spec on NPY q/k/v and write the output (and weights).
//
//   attnlab attend --q Q.npy --k K.npy --v V.npy --out O.npy [--weights-out A.npy]
//                  [--normalizer softmax|sparsemax|entmax15|ssmax|none] [--temperature T]
//                  [--causal] [--window W [--sinks S]] [--decay G[,G...]] [--alibi] [--topk K]
//                  [--key-mask MASK.npy] [--json R.json]
//
// q [N, d], [H, N, d] or [B, H, N, d]; k [M, d] / [H, M, d] / [B, H, M, d]; v likewise with dv.
// A 4-D input is B batch items of H heads each: every (b, h) is an independent head, and the
// per-head mods (--decay rates, ALiBi slopes) go by h, the same for every b. q, k and v must
// agree on [B, H]. Arrays may be C- or Fortran-order. The output keeps the rank, the leading
// dims and the float dtype of q. All outputs are written together or not at all.
#include <algorithm>
#include <cmath>
#include <span>

#include "apps/attnlab/command.hpp"
#include "attnlab/attention/attend.hpp"
#include "attnlab/attention/reference_attention.hpp"
#include "attnlab/attention/spec.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/memory_limit.hpp"
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
  std::string max_memory;
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

// Per-head means of the row diagnostics of one batch item (`batch` < 0: the input had no batch
// dim), appended to `heads`.
void append_head_summaries(const attention::RowDiagnostics& d, Index batch, nlohmann::json& heads) {
  for (Index h = 0; h < d.heads(); ++h) {
    nlohmann::json entry;
    if (batch >= 0) entry["batch"] = batch;
    entry["head"] = h;
    entry.update({{"norm_entropy", finite_mean(d.norm_entropy, h)},
                  {"entropy", finite_mean(d.entropy, h)},
                  {"sink_mass", finite_mean(d.sink_mass, h)},
                  {"max_weight", finite_mean(d.max_weight, h)},
                  {"below_1pct_max", finite_mean(d.below_1pct_max, h)},
                  {"wasted_share", finite_mean(d.wasted_share, h)},
                  {"wasted_mass", finite_mean(d.wasted_mass, h)},
                  {"top8_mass", finite_mean(d.top8_mass, h)}});
    heads.push_back(std::move(entry));
  }
}

std::string shape_string(std::span<const Index> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += str_cat(i > 0 ? ", " : "", shape[i]);
  return s + "]";
}

// "q [2, 3, 8, 4] (q.npy)"
std::string operand_text(const char* what, const io::NpyHeads& op, const std::string& path) {
  return str_cat(what, " ", shape_string(op.shape), " (", path, ")");
}

// `like`'s shape with the last dim replaced by `last` ([.., N, d] -> [.., N, last]).
std::vector<Index> shape_like(const std::vector<Index>& like, Index last) {
  std::vector<Index> shape = like;
  shape.back() = last;
  return shape;
}

std::string encode_as(const Tensor3d& t, const std::vector<Index>& shape, bool float32) {
  if (float32) {
    const Tensor3f f = t.cast<float>();
    return io::encode_npy(f.data(), shape);
  }
  return io::encode_npy(t.data(), shape);
}

// Heads [b·H, (b+1)·H) of x [B·H, R, C]: batch item b as [H, R, C].
template <class T>
Tensor3<T> batch_item(const Tensor3<T>& x, Index b, Index H) {
  Tensor3<T> out(H, x.dim1(), x.dim2());
  std::copy_n(x.slice_data(b * H), out.size(), out.data());
  return out;
}

// Writes batch item b ([H, R, C]) into its heads of `all` [B·H, R, C].
template <class T>
void put_batch_item(const Tensor3<T>& item, Index b, Tensor3<T>& all) {
  std::copy_n(item.data(), item.size(), all.slice_data(b * item.dim0()));
}

// The heads of `op` in fp32: the loaded tensor itself for a float32 file (no copy), else a
// rounded copy in `scratch`.
const Tensor3f& heads_f32(const io::NpyHeads& op, Tensor3f& scratch) {
  if (op.in_f32) return op.values_f32;
  scratch = op.values.cast<float>();
  return scratch;
}

// The heads of `op` in fp64 (exact for a float32 file), in `scratch` when a conversion is needed.
const Tensor3d& heads_f64(const io::NpyHeads& op, Tensor3d& scratch) {
  if (!op.in_f32) return op.values;
  scratch = op.values_f32.cast<double>();
  return scratch;
}

// Index of the first non-finite value of t, or -1.
template <class T>
Index first_non_finite(const Tensor3<T>& t) {
  for (Index i = 0; i < t.size(); ++i)
    if (!std::isfinite(t.data()[i])) return i;
  return -1;
}

void run_attend(const AttendOptions& o) {
  RunInfo info = begin_run("attend", o.common);
  Timings timings;
  io::NpyHeads q, k, v;
  {
    auto t = timings.scope("load");
    // Float32 files stay float32 (the fused kernel's type): no fp64 copy of the inputs.
    q = io::load_npy_heads(o.q_path, "q", io::NpyStorage::as_stored);
    k = io::load_npy_heads(o.k_path, "k", io::NpyStorage::as_stored);
    v = io::load_npy_heads(o.v_path, "v", io::NpyStorage::as_stored);
  }
  const std::string q_text = operand_text("q", q, o.q_path),
                    k_text = operand_text("k", k, o.k_path),
                    v_text = operand_text("v", v, o.v_path);
  const bool batched = q.shape.size() == 4 || k.shape.size() == 4 || v.shape.size() == 4;
  if (q.batch() != k.batch() || q.batch() != v.batch() || q.heads() != k.heads() ||
      q.heads() != v.heads()) {
    throw InputError(
        batched ? str_cat("attend: q, k and v need the same batch and head dims "
                          "[B, H]: ",
                          q_text, ", ", k_text, ", ", v_text)
                : str_cat("attend: head counts differ: ", q_text, ", ", k_text, ", ", v_text));
  }
  if (q.cols() != k.cols()) {
    throw InputError(
        str_cat("attend: q and k need the same last dimension d: ", q_text, ", ", k_text));
  }
  if (k.rows() != v.rows()) {
    throw InputError(
        str_cat("attend: k and v need the same number of rows M: ", k_text, ", ", v_text));
  }
  const Index B = q.batch(), H = q.heads(), N = q.rows(), M = k.rows(), d = q.cols(), dv = v.cols();
  const bool q_float32 = q.dtype == io::NpyDtype::kF32;

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
  // Output sizes combine dims of different files: count them in double, which cannot overflow.
  const double heads_total = static_cast<double>(B) * static_cast<double>(H);
  const double out_count = heads_total * static_cast<double>(N) * static_cast<double>(dv);
  if (out_count > static_cast<double>(io::kNpyMaxElements)) {
    throw InputError(str_cat("attend: the output [B*H, N, dv] = [", B * H, ", ", N, ", ", dv,
                             "] of ", q_text, " and ", v_text,
                             " would exceed 2^34 elements, the NPY reader's limit"));
  }
  const double weight_count = heads_total * static_cast<double>(N) * static_cast<double>(M);
  if (!o.weights_path.empty() && weight_count > static_cast<double>(Index{1} << 31)) {
    throw UsageError(str_cat("attend: --weights-out would write B*H*N*M = ", weight_count,
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
    kernel = q_float32 && !wants_weights && attention::fused_supports(spec)
                 ? attention::Kernel::fused
                 : attention::Kernel::reference;
  }
  // Memory before any large allocation: the reference kernel materializes logits and weights
  // [H, N, M] in fp64 per batch item; the fused one keeps O(N·d) tiles.
  const double hd = static_cast<double>(H), nd = static_cast<double>(N),
               md = static_cast<double>(M);
  const bool fused = kernel == attention::Kernel::fused;
  const double item_inputs =
      (fused ? 4.0 : 8.0) * hd * (nd * static_cast<double>(d) + md * static_cast<double>(d + dv));
  const double kernel_bytes = fused ? item_inputs : 16.0 * hd * nd * md;
  require_memory(
      str_cat("attend: --kernel ", attention::to_string(kernel), " on H=", H, ", N=", N, ", M=", M),
      (fused ? 4.0 : 8.0) * out_count + (wants_weights ? 8.0 * weight_count : 0.0) + item_inputs +
          kernel_bytes,
      memory_limit(o.max_memory),
      fused ? "the fp32 outputs, per-item copies of q, k, v and the fused kernel's packed panels"
            : "fp64 logits and weights [H, N, M] of the reference kernel, plus the outputs");
  if (o.diagnostics && spec.normalizer == attention::Normalizer::none) {
    throw UsageError(
        "attend: --diagnostics needs a normalizer (weights of 'none' are not a distribution)");
  }
  // Batch items run one after another, each as an [H, N, d] problem, so that head h of every
  // item gets the spec's head-h mods; without a batch dim (B = 1) the input runs as it is.
  // The fused kernel reads and writes fp32 (inputs used in place when the files are float32);
  // the reference kernel runs in fp64.
  Tensor3f out_f32;       // [B·H, N, dv], fused kernel
  Tensor3d out, weights;  // [B·H, N, dv] and [B·H, N, M], reference kernel
  nlohmann::json head_summaries = nlohmann::json::array();
  {
    auto t = timings.scope("attention");
    if (fused) {
      Tensor3f scratch_q, scratch_k, scratch_v;
      const Tensor3f &Q = heads_f32(q, scratch_q), &K = heads_f32(k, scratch_k),
                     &V = heads_f32(v, scratch_v);  // [B·H, N, d], [B·H, M, d], [B·H, M, dv]
      if (B > 1) out_f32 = Tensor3f(B * H, N, dv);
      for (Index b = 0; b < B; ++b) {
        Tensor3f item_q, item_k, item_v;
        if (B > 1) {
          item_q = batch_item(Q, b, H);
          item_k = batch_item(K, b, H);
          item_v = batch_item(V, b, H);
        }
        attention::AttendOptions ao;
        ao.kernel = attention::Kernel::fused;
        ao.diagnostics = o.diagnostics;
        ao.fused.block_q = o.block_q;
        ao.fused.block_k = o.block_k;
        attention::AttendResult r =
            attention::attend(B > 1 ? item_q : Q, B > 1 ? item_k : K, B > 1 ? item_v : V, spec, ao);
        if (B > 1)
          put_batch_item(r.out, b, out_f32);
        else
          out_f32 = std::move(r.out);
        if (o.diagnostics) append_head_summaries(r.diagnostics, batched ? b : -1, head_summaries);
      }
    } else {
      Tensor3d scratch_q, scratch_k, scratch_v;
      const Tensor3d &Q = heads_f64(q, scratch_q), &K = heads_f64(k, scratch_k),
                     &V = heads_f64(v, scratch_v);
      out = Tensor3d(B * H, N, dv);
      if (wants_weights) weights = Tensor3d(B * H, N, M);
      for (Index b = 0; b < B; ++b) {
        Tensor3d item_q, item_k, item_v;
        if (B > 1) {
          item_q = batch_item(Q, b, H);
          item_k = batch_item(K, b, H);
          item_v = batch_item(V, b, H);
        }
        const Tensor3d &bq = B > 1 ? item_q : Q, &bk = B > 1 ? item_k : K,
                       &bv = B > 1 ? item_v : V;  // [H, N, d], [H, M, d], [H, M, dv]
        attention::ReferenceForward fwd = attention::attention_forward_reference(bq, bk, bv, spec);
        put_batch_item(fwd.out, b, out);
        if (o.diagnostics)
          append_head_summaries(attention::row_diagnostics_reference(fwd), batched ? b : -1,
                                head_summaries);
        if (wants_weights) put_batch_item(fwd.weights, b, weights);
      }
    }
  }
  if (const Index bad = fused ? first_non_finite(out_f32) : first_non_finite(out); bad >= 0) {
    throw NumericError(
        str_cat("attend: non-finite output at flat index ", bad, " (spec: ", spec.describe(), ")"));
  }

  OutputSet outputs;
  const std::vector<Index> out_shape = shape_like(q.shape, dv);
  if (fused && q_float32) {
    // Header, then the kernel's own output buffer: no encoded copy of the array.
    outputs.add(o.out_path, io::npy_header_f32(out_shape),
                std::string_view(reinterpret_cast<const char*>(out_f32.data()),
                                 static_cast<std::size_t>(out_f32.size()) * sizeof(float)));
  } else {
    outputs.add(o.out_path, encode_as(fused ? out_f32.cast<double>() : out, out_shape, q_float32));
  }
  if (wants_weights) {
    outputs.add(o.weights_path, encode_as(weights, shape_like(q.shape, M), q_float32));
  }
  if (!o.common.json_path.empty()) {
    nlohmann::json result;
    result["spec"] = spec.to_json();
    result["spec_text"] = spec.describe();
    result["kernel"] = std::string(attention::to_string(kernel));
    if (kernel == attention::Kernel::fused) {
      result["simd"] = attention::to_string(attention::best_simd_level());
    }
    if (o.diagnostics) result["heads"] = std::move(head_summaries);
    result["shapes"] = {{"H", H}, {"N", N}, {"M", M}, {"d", d}, {"dv", dv}};
    if (batched) result["shapes"]["B"] = B;
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
      "Shapes: q [N, d], [H, N, d] or [B, H, N, d]; k [M, d]/[H, M, d]/[B, H, M, d]; v likewise\n"
      "with dv (float32/float64, C or Fortran order). A batch dim B runs B items of H heads.\n"
      "Query i sits at position i + (M - N), so the last query aligns with the last key.");
  cmd->add_option("--q", opts->q_path, "Queries, NPY [N, d], [H, N, d] or [B, H, N, d]")
      ->required();
  cmd->add_option("--k", opts->k_path, "Keys, NPY [M, d], [H, M, d] or [B, H, M, d]")->required();
  cmd->add_option("--v", opts->v_path, "Values, NPY [M, dv], [H, M, dv] or [B, H, M, dv]")
      ->required();
  cmd->add_option("--out", opts->out_path, "Output NPY [.., N, dv], leading dims and dtype of q")
      ->required();
  cmd->add_option("--weights-out", opts->weights_path,
                  "Also write the attention weights, NPY [.., N, M] (leading dims of q)");
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
  add_max_memory_option(cmd, opts->max_memory);
  add_common_options(cmd, opts->common);
  cmd->callback([opts] { run_attend(*opts); });
}

}  // namespace

static const CommandRegistrar registrar(10, register_attend);

}  // namespace attnlab::cli
