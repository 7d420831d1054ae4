// python/src/attend_binding.cpp — see attend_binding.hpp.
#include "attend_binding.hpp"

#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "arrays.hpp"
#include "attnlab/attention/attend.hpp"
#include "attnlab/attention/fused_attention.hpp"
#include "attnlab/attention/reference_attention.hpp"
#include "attnlab/attention/row_diagnostics.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/io/json_strict.hpp"
#include "attnlab/models/gpt2/attention_override.hpp"

namespace attnlab::python {
namespace {

using attention::AttentionSpec;

// Parsed specs are remembered per thread by their text: a Python loop over small calls passes
// the same text every time, and parsing it again would cost a few microseconds per call.
AttentionSpec spec_from_json_text(const std::string& text) {
  if (text.empty()) return {};
  thread_local std::string last_text;
  thread_local AttentionSpec last_spec;
  if (text != last_text) {
    last_spec = AttentionSpec::from_json(io::parse_json_strict(text, "attnlab.attend: spec"));
    last_text = text;
  }
  return last_spec;
}

// The CLI's --attention language as AttentionSpec JSON text (the language implies causal).
std::string parse_spec_text(const std::string& text) {
  return models::gpt2::parse_attention_override(text).to_json().dump();
}

nb::dict attend_f32(const InArray3<float>& q, const InArray3<float>& k, const InArray3<float>& v,
                    const std::string& spec_json, const std::string& kernel, bool diagnostics) {
  const AttentionSpec spec = spec_from_json_text(spec_json);
  attention::AttendOptions o;
  o.kernel = attention::parse_kernel(kernel);
  o.diagnostics = diagnostics;
  const Tensor3f tq = view_of(q), tk = view_of(k), tv = view_of(v);
  attention::AttendResult r;
  {
    nb::gil_scoped_release unlocked;
    r = attention::attend(tq, tk, tv, spec, o);
  }
  nb::dict out;
  out["out"] = hand_out(std::move(r.out));
  out["lse"] = hand_out(std::move(r.lse));
  out["kernel"] = std::string(attention::to_string(r.kernel));
  if (diagnostics) out["diagnostics"] = diagnostics_dict(std::move(r.diagnostics));
  return out;
}

nb::dict attend_f64(const InArray3<double>& q, const InArray3<double>& k, const InArray3<double>& v,
                    const std::string& spec_json, const std::string& kernel, bool diagnostics) {
  const AttentionSpec spec = spec_from_json_text(spec_json);
  if (attention::parse_kernel(kernel) == attention::Kernel::fused) {
    throw UsageError(
        "attnlab.attend: the fused kernel is float32; float64 inputs run the fp64 "
        "reference (kernel='auto' or 'reference')");
  }
  const Tensor3d tq = view_of(q), tk = view_of(k), tv = view_of(v);
  attention::ReferenceForward f;
  MatrixD lse;
  attention::RowDiagnostics diag;
  {
    nb::gil_scoped_release unlocked;
    f = attention::attention_forward_reference(tq, tk, tv, spec);
    if (spec.is_softmax_family()) lse = attention::log_sum_exp_rows(f.logits);
    if (diagnostics) diag = attention::row_diagnostics_reference(f);
  }
  nb::dict out;
  out["out"] = hand_out(std::move(f.out));
  out["lse"] = hand_out(std::move(lse));
  out["kernel"] = std::string("reference");
  if (diagnostics) out["diagnostics"] = diagnostics_dict(std::move(diag));
  return out;
}

using Grads32 = std::tuple<OutArray<float>, OutArray<float>, OutArray<float>>;
using Grads64 = std::tuple<OutArray<double>, OutArray<double>, OutArray<double>>;

Grads32 backward_f32(
    const InArray3<float>& q, const InArray3<float>& k, const InArray3<float>& v,
    const InArray3<float>& out,
    const nb::ndarray<const float, nb::ndim<2>, nb::c_contig, nb::device::cpu>& lse,
    const InArray3<float>& dout, const std::string& spec_json) {
  const AttentionSpec spec = spec_from_json_text(spec_json);
  const Tensor3f tq = view_of(q), tk = view_of(k), tv = view_of(v), to = view_of(out),
                 tg = view_of(dout);
  Tensor3f dq, dk, dv;
  if (!attention::fused_supports(spec)) {  // e.g. sparsemax, top-k: the fp64 reference
    nb::gil_scoped_release unlocked;
    const attention::AttentionGrads g = attention::attention_backward_reference(
        tq.cast<double>(), tk.cast<double>(), tv.cast<double>(), spec, tg.cast<double>());
    dq = g.dq.cast<float>(), dk = g.dk.cast<float>(), dv = g.dv.cast<float>();
  } else {
    if (lse.shape(0) != static_cast<std::size_t>(tq.dim0()) ||
        lse.shape(1) != static_cast<std::size_t>(tq.dim1())) {
      throw UsageError(str_cat("attnlab.attend_backward: lse must be [H, N] = [", tq.dim0(), ", ",
                               tq.dim1(), "], got [", lse.shape(0), ", ", lse.shape(1), "]"));
    }
    MatrixF tl(tq.dim0(), tq.dim1());
    std::memcpy(tl.data(), lse.data(), sizeof(float) * static_cast<std::size_t>(tl.size()));
    nb::gil_scoped_release unlocked;
    attention::FusedGrads g = attention::attention_backward_fused(tq, tk, tv, spec, to, tl, tg);
    dq = std::move(g.dq), dk = std::move(g.dk), dv = std::move(g.dv);
  }
  return {hand_out(std::move(dq)), hand_out(std::move(dk)), hand_out(std::move(dv))};
}

Grads64 backward_f64(const InArray3<double>& q, const InArray3<double>& k,
                     const InArray3<double>& v, const InArray3<double>& dout,
                     const std::string& spec_json) {
  const AttentionSpec spec = spec_from_json_text(spec_json);
  const Tensor3d tq = view_of(q), tk = view_of(k), tv = view_of(v), tg = view_of(dout);
  attention::AttentionGrads g;
  {
    nb::gil_scoped_release unlocked;
    g = attention::attention_backward_reference(tq, tk, tv, spec, tg);
  }
  return {hand_out(std::move(g.dq)), hand_out(std::move(g.dk)), hand_out(std::move(g.dv))};
}

// Median seconds of `repeats` attention::attend calls on tensors already in C++ (after one
// warm-up): the baseline the Python path's overhead is measured against (bench/python).
double time_attend_cpp(const InArray3<float>& q, const InArray3<float>& k, const InArray3<float>& v,
                       const std::string& spec_json, int repeats) {
  const AttentionSpec spec = spec_from_json_text(spec_json);
  const Tensor3f tq = view_of(q), tk = view_of(k), tv = view_of(v);
  nb::gil_scoped_release unlocked;
  std::vector<double> seconds;
  for (int r = 0; r <= std::max(repeats, 1); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const attention::AttendResult res = attention::attend(tq, tk, tv, spec);
    const auto t1 = std::chrono::steady_clock::now();
    if (r > 0) seconds.push_back(std::chrono::duration<double>(t1 - t0).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

}  // namespace

nb::dict diagnostics_dict(attention::RowDiagnostics&& d) {
  nb::dict out;
  out["entropy"] = hand_out(std::move(d.entropy));
  out["norm_entropy"] = hand_out(std::move(d.norm_entropy));
  out["sink_mass"] = hand_out(std::move(d.sink_mass));
  out["max_weight"] = hand_out(std::move(d.max_weight));
  out["below_1pct_max"] = hand_out(std::move(d.below_1pct_max));
  out["wasted_share"] = hand_out(std::move(d.wasted_share));
  out["wasted_mass"] = hand_out(std::move(d.wasted_mass));
  out["top8_mass"] = hand_out(std::move(d.top8_mass));
  out["visible"] = hand_out(std::move(d.visible));
  return out;
}

void bind_attend(nb::module_& m) {
  m.def("time_attend_cpp", &time_attend_cpp, nb::arg("q"), nb::arg("k"), nb::arg("v"),
        nb::arg("spec_json"), nb::arg("repeats"),
        "Benchmark helper: median seconds of attend() called from C++ on float32 inputs.");
  m.def(
      "default_spec", [] { return AttentionSpec{}.to_json().dump(); },
      "AttentionSpec JSON text of the default spec (softmax over all keys, T = sqrt(d)).");
  m.def("parse_spec", &parse_spec_text, nb::arg("text"),
        "The CLI's --attention language (e.g. 'window=256,sinks=4'; implies causal) as "
        "AttentionSpec JSON text.");
  m.def("attend", &attend_f32, nb::arg("q"), nb::arg("k"), nb::arg("v"), nb::arg("spec_json"),
        nb::arg("kernel"), nb::arg("diagnostics"),
        "float32 q [H, N, d], k [H, M, d], v [H, M, dv] -> dict(out, lse, kernel[, diagnostics]).");
  m.def("attend", &attend_f64, nb::arg("q"), nb::arg("k"), nb::arg("v"), nb::arg("spec_json"),
        nb::arg("kernel"), nb::arg("diagnostics"), "float64 inputs: the fp64 reference kernel.");
  m.def("attend_backward", &backward_f32, nb::arg("q"), nb::arg("k"), nb::arg("v"), nb::arg("out"),
        nb::arg("lse"), nb::arg("dout"), nb::arg("spec_json"),
        "float32 gradients (dq, dk, dv) of <dout, attend(q, k, v)>: the fused backward from out "
        "and lse, or the fp64 reference for specs the fused kernel does not support.");
  m.def("attend_backward_f64", &backward_f64, nb::arg("q"), nb::arg("k"), nb::arg("v"),
        nb::arg("dout"), nb::arg("spec_json"), "float64 gradients from the fp64 reference.");
}

}  // namespace attnlab::python
