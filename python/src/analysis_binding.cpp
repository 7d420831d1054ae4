// python/src/analysis_binding.cpp — see analysis_binding.hpp.
//
// Inputs are float64 arrays (the analysis kernels run in fp64); 2-D arrays are copied into
// MatrixD (O(n·D), far below the kernels' O(n²D) or O(n³)), 3-D heads are read in place.
// Study-shaped results (spectrum rows, selectivity) come back as the JSON text the CLI writes
// for the same computation; python/attnlab parses it into dicts.
#include "analysis_binding.hpp"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "arrays.hpp"
#include "attnlab/analysis/influence/kernel_influence.hpp"
#include "attnlab/analysis/ntk/analytic_ntk.hpp"
#include "attnlab/analysis/ntk/empirical_ntk.hpp"
#include "attnlab/analysis/selectivity/source.hpp"
#include "attnlab/analysis/selectivity/sweeps.hpp"
#include "attnlab/analysis/spectral/spectrum.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/io/json_strict.hpp"
#include "attnlab/nn/mlp_attn.hpp"
#include "attnlab/nn/two_layer_relu.hpp"

namespace attnlab::python {
namespace {

using Array2 = InArray2<double>;

// Full [n1·C, n2·C] or traced NTK of `model` between x1 and x2 (x1 with itself when x2 is null:
// the symmetric SYRK form).
template <class Model>
MatrixD ntk_of(const Model& model, const MatrixD& x1, const MatrixD* x2, bool full) {
  namespace ntk = analysis::ntk;
  if (full) return ntk::empirical_ntk_full(model, x1, x2 ? *x2 : x1);
  return x2 ? ntk::empirical_ntk(model, x1, *x2) : ntk::empirical_ntk(model, x1);
}

// The 2-layer ReLU net with these weights, or MLP-Attn over `context` when one is given.
MatrixD empirical_matrix(const Array2& w, const Array2& a, const std::optional<Array2>& context,
                         const Array2& x1, const std::optional<Array2>& x2, bool full) {
  nn::TwoLayerRelu net(matrix_in(w), matrix_in(a));
  const MatrixD m1 = matrix_in(x1);
  const MatrixD m2 = x2 ? matrix_in(*x2) : MatrixD();
  if (m1.cols() != net.input_dim() || (x2 && m2.cols() != net.input_dim())) {
    throw UsageError(str_cat("attnlab.ntk.empirical: x has ", m1.cols(), x2 ? "/" : "",
                             x2 ? std::to_string(m2.cols()) : "",
                             " columns, w [m, D] has D = ", net.input_dim()));
  }
  const std::optional<MatrixD> ctx =
      context ? std::optional<MatrixD>(matrix_in(*context)) : std::nullopt;
  nb::gil_scoped_release unlocked;  // reacquired before the caller touches Python objects
  if (ctx) return ntk_of(nn::MlpAttn(*ctx, std::move(net)), m1, x2 ? &m2 : nullptr, full);
  return ntk_of(net, m1, x2 ? &m2 : nullptr, full);
}

MatrixD infinite_matrix(const Array2& x1, const std::optional<Array2>& x2,
                        const std::string& kind) {
  if (kind != "ntk" && kind != "nngp") {
    throw UsageError(
        str_cat("attnlab.ntk.infinite: kind must be 'ntk' or 'nngp', got '", kind, "'"));
  }
  const MatrixD m1 = matrix_in(x1);
  const MatrixD m2 = x2 ? matrix_in(*x2) : MatrixD();
  if (x2 && m2.cols() != m1.cols()) {
    throw UsageError(
        str_cat("attnlab.ntk.infinite: x1 has ", m1.cols(), " columns, x2 has ", m2.cols()));
  }
  nb::gil_scoped_release unlocked;  // reacquired before the caller touches Python objects
  namespace ntk = analysis::ntk;
  if (kind == "ntk") return x2 ? ntk::relu_ntk_infinite(m1, m2) : ntk::relu_ntk_infinite(m1);
  return x2 ? ntk::relu_nngp(m1, m2) : ntk::relu_nngp(m1);
}

OutArray<double> empirical(const Array2& w, const Array2& a, const std::optional<Array2>& context,
                           const Array2& x1, const std::optional<Array2>& x2, bool full) {
  return hand_out(empirical_matrix(w, a, context, x1, x2, full));
}

OutArray<double> infinite(const Array2& x1, const std::optional<Array2>& x2,
                          const std::string& kind) {
  return hand_out(infinite_matrix(x1, x2, kind));
}

// (w [m, D], a [m, C]) of TwoLayerRelu::random: the initialization the studies use.
std::pair<OutArray<double>, OutArray<double>> init_relu(Index input_dim, Index width, Index outputs,
                                                        double w_std, bool antisymmetric,
                                                        std::uint64_t seed) {
  nn::TwoLayerRelu net = nn::TwoLayerRelu::random(
      input_dim, width, outputs, {.w_std = w_std, .antisymmetric = antisymmetric}, seed);
  MatrixD w = net.w(), a = net.a();
  return {hand_out(std::move(w)), hand_out(std::move(a))};
}

std::string spectrum_row_json(const Array2& x, double bernstein_delta) {
  const MatrixD m = matrix_in(x);
  analysis::spectral::SpectrumRow row;
  {
    nb::gil_scoped_release unlocked;
    row = analysis::spectral::spectrum_row(m, bernstein_delta);
  }
  return analysis::spectral::to_json(row).dump();
}

// LOO influence [T, n] of every training point on every test point.
OutArray<double> loo_influence(const Array2& k_train, const Array2& y, const Array2& k_test_train,
                               const Array2& y_test, const std::vector<int>& labels_test,
                               double ridge, const std::string& target, const std::string& kind) {
  namespace inf = analysis::influence;
  const inf::InfluenceTarget t = inf::parse_influence_target(target);
  if (kind != "exact" && kind != "first_order") {
    throw UsageError(
        str_cat("attnlab.influence.loo: kind must be 'exact' or 'first_order', got '", kind, "'"));
  }
  const MatrixD kt = matrix_in(k_train), yy = matrix_in(y), ktt = matrix_in(k_test_train);
  if (kt.rows() != kt.cols() || yy.rows() != kt.rows() || ktt.cols() != kt.rows()) {
    throw UsageError(str_cat("attnlab.influence.loo: shapes do not agree: k_train [", kt.rows(),
                             ", ", kt.cols(), "], y [", yy.rows(), ", ", yy.cols(),
                             "], k_test_train [", ktt.rows(), ", ", ktt.cols(),
                             "] (want [n, n], [n, C], [T, n])"));
  }
  inf::InfluenceTargets targets{matrix_in(y_test), labels_test};
  if (t == inf::InfluenceTarget::loss &&
      (targets.values.rows() != ktt.rows() || targets.values.cols() != yy.cols())) {
    throw UsageError(str_cat("attnlab.influence.loo: y_test must be [T, C] = [", ktt.rows(), ", ",
                             yy.cols(), "]"));
  }
  if (t == inf::InfluenceTarget::margin &&
      static_cast<Index>(targets.labels.size()) != ktt.rows()) {
    throw UsageError(str_cat("attnlab.influence.loo: the margin target needs ", ktt.rows(),
                             " test labels, got ", targets.labels.size()));
  }
  MatrixD out;
  {
    nb::gil_scoped_release unlocked;
    const inf::KernelInfluence model(kt, yy, ridge);
    out = model.influence(ktt, targets, t,
                          kind == "exact" ? inf::LooKind::exact : inf::LooKind::first_order);
  }
  return hand_out(std::move(out));
}

std::string selectivity_default_options() {
  return analysis::selectivity::SelectivityOptions{}.to_json().dump();
}

std::string selectivity_quick_options() {
  return analysis::selectivity::SelectivityOptions::quick().to_json().dump();
}

// The selectivity study on heads q [H, Q, dk], k [H, L, dk], x [H or 1, L, dx].
std::string selectivity_run(const InArray3<double>& q, const InArray3<double>& k,
                            const InArray3<double>& x, bool causal, const std::string& tokens,
                            const std::string& options_json) {
  namespace sel = analysis::selectivity;
  sel::SelectivityOptions options;
  try {
    options = sel::SelectivityOptions::from_json(
        io::parse_json_strict(options_json, "attnlab.selectivity: options"));
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(str_cat("attnlab.selectivity: bad options: ", e.what()));
  }
  options.progress = false;
  const sel::SelectivitySource source =
      sel::source_from_arrays(view_of(q), view_of(k), view_of(x), causal, tokens,
                              str_cat(q.shape(0), " heads from Python arrays"));
  sel::SelectivityResult result;
  {
    nb::gil_scoped_release unlocked;
    result = sel::run_selectivity(source, options);
  }
  return sel::to_json(result).dump();
}

}  // namespace

void bind_analysis(nb::module_& m) {
  m.def("ntk_empirical", &empirical, nb::arg("w"), nb::arg("a"), nb::arg("context").none(),
        nb::arg("x1"), nb::arg("x2").none(), nb::arg("full"),
        "Empirical NTK of the 2-layer ReLU net (w [m, D], a [m, C]) or of MLP-Attn over "
        "`context`: traced [n1, n2] or full [n1*C, n2*C].");
  m.def("ntk_infinite", &infinite, nb::arg("x1"), nb::arg("x2").none(), nb::arg("kind"),
        "Infinite-width ReLU NTK ('ntk') or NNGP ('nngp') between the rows of x1 and x2.");
  m.def("ntk_init_relu", &init_relu, nb::arg("input_dim"), nb::arg("width"), nb::arg("outputs"),
        nb::arg("w_std"), nb::arg("antisymmetric"), nb::arg("seed"),
        "(w, a) of TwoLayerRelu::random: w_r ~ N(0, w_std^2 I), a = +-1.");
  m.def("spectrum_row", &spectrum_row_json, nb::arg("x_unit"), nb::arg("bernstein_delta"),
        "JSON text of one spectrum-study row for unit rows x [n, D].");
  m.def("influence_loo", &loo_influence, nb::arg("k_train"), nb::arg("y"), nb::arg("k_test_train"),
        nb::arg("y_test"), nb::arg("labels_test"), nb::arg("ridge"), nb::arg("target"),
        nb::arg("kind"), "Exact (or first-order) LOO influence [T, n] of kernel ridge regression.");
  m.def("selectivity_default_options", &selectivity_default_options,
        "SelectivityOptions JSON text of the defaults.");
  m.def("selectivity_quick_options", &selectivity_quick_options,
        "SelectivityOptions JSON text of the --quick sizes.");
  m.def("selectivity_run", &selectivity_run, nb::arg("q"), nb::arg("k"), nb::arg("x"),
        nb::arg("causal"), nb::arg("tokens"), nb::arg("options_json"),
        "JSON text of the selectivity study on float64 heads q [H, Q, dk], k [H, L, dk], "
        "x [H or 1, L, dx].");
}

}  // namespace attnlab::python
