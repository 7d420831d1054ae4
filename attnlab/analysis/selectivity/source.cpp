#include "attnlab/analysis/selectivity/source.hpp"

#include <cmath>

#include "attnlab/analysis/selectivity/parallel_for.hpp"
#include "attnlab/analysis/selectivity/synthetic_tokens.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"

namespace attnlab::analysis::selectivity {
namespace {

void check_finite(const MatrixD& m, const std::string& label, const char* field) {
  for (Index i = 0; i < m.rows(); ++i) {
    for (Index c = 0; c < m.cols(); ++c) {
      if (!std::isfinite(m(i, c))) {
        throw InputError(str_cat("selectivity source: head ", label, " field ", field,
                                 " has a non-finite value at [", i, ", ", c, "]"));
      }
    }
  }
}

std::string shape(const Tensor3d& t) {
  return str_cat("[", t.dim0(), ", ", t.dim1(), ", ", t.dim2(), "]");
}

}  // namespace

void SelectivitySource::validate() const {
  if (heads.empty()) throw InputError("selectivity source: no heads");
  const Index Q = num_queries(), L = max_length(), dk = key_dim(), dx = token_dim();
  if (Q < 1 || L < 2 || dk < 1 || dx < 1) {
    throw InputError(str_cat("selectivity source (", kind, "): need Q >= 1 queries, L >= 2 keys, ",
                             "dk >= 1 and dx >= 1, got Q=", Q, " L=", L, " dk=", dk, " dx=", dx));
  }
  if (causal && Q > L) {
    throw InputError(str_cat("selectivity source (", kind, "): causal source with more queries (",
                             Q, ") than keys (", L, ")"));
  }
  for (const auto& h : heads) {
    if (h.q.rows() != Q || h.q.cols() != dk || h.k.rows() != L || h.k.cols() != dk ||
        h.x.rows() != L || h.x.cols() != dx) {
      throw InputError(str_cat("selectivity source: head ", h.label, " has q [", h.q.rows(), ", ",
                               h.q.cols(), "], k [", h.k.rows(), ", ", h.k.cols(), "], x [",
                               h.x.rows(), ", ", h.x.cols(), "]; expected q [", Q, ", ", dk,
                               "], k [", L, ", ", dk, "], x [", L, ", ", dx, "]"));
    }
    check_finite(h.q, h.label, "q");
    check_finite(h.k, h.label, "k");
    check_finite(h.x, h.label, "x");
  }
}

nlohmann::json SelectivitySource::describe_json() const {
  nlohmann::json labels = nlohmann::json::array();
  for (const auto& h : heads) labels.push_back(h.label);
  return {{"kind", kind},           {"description", description}, {"tokens", tokens},
          {"causal", causal},       {"heads", num_heads()},       {"queries", num_queries()},
          {"length", max_length()}, {"key_dim", key_dim()},       {"token_dim", token_dim()},
          {"labels", labels}};
}

double SyntheticOptions::resolved_radius() const {
  return radius > 0.0 ? radius : std::sqrt(static_cast<double>(dim));
}

double SyntheticOptions::resolved_spacing() const {
  return spacing >= 0.0 ? spacing : 0.5 * resolved_radius();
}

nlohmann::json SyntheticOptions::to_json() const {
  return {{"heads", heads},
          {"queries", queries},
          {"length", length},
          {"dim", dim},
          {"radius", resolved_radius()},
          {"spacing", resolved_spacing()},
          {"independent_tokens", independent_tokens},
          {"gain_spread", gain_spread},
          {"value_spread", value_spread},
          {"seed", seed}};
}

SyntheticOptions SyntheticOptions::from_json(const nlohmann::json& j) {
  SyntheticOptions o;
  o.heads = j.at("heads").get<Index>();
  o.queries = j.at("queries").get<Index>();
  o.length = j.at("length").get<Index>();
  o.dim = j.at("dim").get<Index>();
  o.radius = j.at("radius").get<double>();
  o.spacing = j.at("spacing").get<double>();
  o.independent_tokens = j.at("independent_tokens").get<bool>();
  o.gain_spread = j.at("gain_spread").get<double>();
  o.value_spread = j.at("value_spread").get<double>();
  o.seed = j.at("seed").get<std::uint64_t>();
  return o;
}

double synthetic_source_bytes(const SyntheticOptions& o) {
  const double per_head =
      static_cast<double>(o.queries + 2 * o.length) * static_cast<double>(o.dim) * 8.0 + 65536.0;
  return static_cast<double>(o.heads) * per_head;
}

SelectivitySource make_synthetic_source(const SyntheticOptions& o) {
  if (o.heads < 1 || o.queries < 1 || o.length < 2 || o.dim < 1) {
    throw UsageError(str_cat("make_synthetic_source: need heads >= 1, queries >= 1, length >= 2, ",
                             "dim >= 1; got heads=", o.heads, " queries=", o.queries,
                             " length=", o.length, " dim=", o.dim));
  }
  if (!(o.gain_spread >= 0.0) || !(o.value_spread >= 0.0) || o.gain_spread > 5 ||
      o.value_spread > 5) {
    throw UsageError(str_cat("make_synthetic_source: spreads must be in [0, 5], got gain ",
                             o.gain_spread, ", value ", o.value_spread));
  }
  const double M = o.resolved_radius(), delta = o.resolved_spacing();
  SelectivitySource src;
  src.kind = "synthetic";
  src.tokens = "token";
  src.causal = false;
  src.description = str_cat(o.heads, " synthetic heads: L=", o.length, " tokens uniform on the ",
                            o.dim, "-sphere of radius M=", M, " with spacing δ=", delta, ", ",
                            o.queries, " queries per head, token vectors ",
                            o.independent_tokens ? "independent of the keys" : "= keys",
                            ", spreads σ_gain=", o.gain_spread, " σ_value=", o.value_spread);
  src.heads.resize(static_cast<std::size_t>(o.heads));
  parallel_for(o.heads, [&](Index h) {
    Rng rng = Rng::stream(o.seed, static_cast<std::uint64_t>(h));
    SelectivityHead& head = src.heads[static_cast<std::size_t>(h)];
    head.label = str_cat("synthetic.", h);
    const double gain = std::exp(o.gain_spread * rng.normal());
    const double value_scale = std::exp(o.value_spread * rng.normal());
    head.k = sample_sphere_points(o.length, o.dim, M, delta, rng);  // [L, d]
    head.x = o.independent_tokens ? sample_sphere_points(o.length, o.dim, M, delta, rng)
                                  : head.k;  // [L, d]
    head.x *= value_scale;
    head.q = sample_sphere_points(o.queries, o.dim, M, delta, rng);  // [Q, d]
    head.q *= gain;
  });
  return src;
}

SelectivitySource source_from_arrays(const Tensor3d& q, const Tensor3d& k, const Tensor3d& x,
                                     bool causal, std::string tokens, std::string description) {
  const Index H = q.dim0();
  if (k.dim0() != H || (x.dim0() != H && x.dim0() != 1)) {
    throw InputError(str_cat("selectivity: head counts differ: q ", shape(q), ", k ", shape(k),
                             ", token vectors ", shape(x),
                             " (token vectors may also have 1 head)"));
  }
  if (q.dim2() != k.dim2()) {
    throw InputError(str_cat("selectivity: q and k need the same last dimension: q ", shape(q),
                             ", k ", shape(k)));
  }
  if (x.dim1() != k.dim1()) {
    throw InputError(str_cat("selectivity: token vectors need one row per key: k ", shape(k),
                             ", token vectors ", shape(x)));
  }
  SelectivitySource src;
  src.kind = "npy";
  src.tokens = std::move(tokens);
  src.causal = causal;
  src.description = std::move(description);
  for (Index h = 0; h < H; ++h) {
    SelectivityHead head;
    head.label = str_cat("h", h);
    head.q = q.slice(h);
    head.k = k.slice(h);
    head.x = x.slice(x.dim0() == 1 ? 0 : h);
    src.heads.push_back(std::move(head));
  }
  src.validate();
  return src;
}

}  // namespace attnlab::analysis::selectivity
