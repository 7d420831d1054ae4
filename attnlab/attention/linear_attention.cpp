#include "attnlab/attention/linear_attention.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "attnlab/attention/reference_attention.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/io/json_strict.hpp"

namespace attnlab::attention {
namespace {

enum class Role { query, key };

using RefMatrix = Eigen::Ref<const MatrixD>;

// Keys [0, visible_end) are visible to query i under the causal alignment of spec.hpp
// (query i at position i + (M − N) sees keys j ≤ i + (M − N)).
Index visible_end(Index i, Index offset, Index M) {
  return std::clamp<Index>(i + offset + 1, 0, M);
}

// Features φ of every row of one head's q or k [n, d] -> [n, F] (the fast path: stabilized FAVOR+
// when normalized; see the header for why that is exact).
MatrixD features(const RefMatrix& x, const LinearAttentionSpec& spec, Role role, const MatrixD& w) {
  switch (spec.feature_map) {
    case FeatureMap::identity:
      if (role == Role::query) return x / spec.temperature;
      return x;
    case FeatureMap::elu1: {
      MatrixD f(x.rows(), x.cols());
      f.array() = (x.array() > 0.0).select(x.array() + 1.0, x.array().exp());
      return f;
    }
    case FeatureMap::favor: {
      FavorStabilizer st = FavorStabilizer::none;
      if (spec.normalized())
        st = role == Role::query ? FavorStabilizer::per_row : FavorStabilizer::global;
      return favor_features(x, w, st);
    }
  }
  return x;
}

// Pulls ∂φ [n, F] back to ∂x [n, d] through the feature map (stabilizers held constant).
MatrixD features_backward(const RefMatrix& x, const MatrixD& phi, const MatrixD& dphi,
                          const LinearAttentionSpec& spec, Role role, const MatrixD& w) {
  switch (spec.feature_map) {
    case FeatureMap::identity:
      if (role == Role::query) return dphi / spec.temperature;
      return dphi;
    case FeatureMap::elu1: {
      // φ' = 1 for x > 0, eˣ = φ otherwise.
      MatrixD dx(x.rows(), x.cols());
      dx.array() = dphi.array() * (x.array() > 0.0).select(1.0, phi.array());
      return dx;
    }
    case FeatureMap::favor: {
      // φ_l = exp(w_l·x̂ − ‖x̂‖²/2 − s)/√m, x̂ = c x  =>  ∂φ_l/∂x = c φ_l (w_l − x̂).
      const double c = std::pow(static_cast<double>(x.cols()), -0.25);
      const MatrixD p = dphi.cwiseProduct(phi);  // [n, m]
      MatrixD dx = c * (p * w.transpose());      // [n, d]
      const VectorD ps = p.rowwise().sum();      // [n]
      dx.array() -= (c * c) * (x.array().colwise() * ps.array());
      return dx;
    }
  }
  return dphi;
}

// out_i = num_i / den_i, or 0 when den_i == 0.
template <class Row>
void divide_row(Row&& row, double den) {
  if (den == 0.0)
    row.setZero();
  else
    row /= den;
}

// One head of the forward pass. a [N, F], b [M, F], v [M, dv] -> o [N, dv].
void forward_head(const MatrixD& a, const MatrixD& b, const RefMatrix& v, bool causal,
                  bool normalize, MatrixMap<double> o) {
  const Index N = a.rows(), M = b.rows(), F = a.cols(), dv = v.cols(), offset = M - N;
  if (M == 0) {
    o.setZero();
    return;
  }
  if (!causal) {
    const MatrixD s = b.transpose() * v;              // [F, dv]
    const VectorD z = b.colwise().sum().transpose();  // [F]
    o.noalias() = a * s;
    if (normalize) {
      for (Index i = 0; i < N; ++i) divide_row(o.row(i), a.row(i).dot(z));
    }
    return;
  }
  MatrixD s = MatrixD::Zero(F, dv);  // prefix sum of φ_k(k_j) v_jᵀ
  VectorD z = VectorD::Zero(F);      // prefix sum of φ_k(k_j)
  Index j = 0;
  for (Index i = 0; i < N; ++i) {
    const Index hi = visible_end(i, offset, M);
    for (; j < hi; ++j) {
      s.noalias() += b.row(j).transpose() * v.row(j);
      z += b.row(j).transpose();
    }
    if (hi == 0) {
      o.row(i).setZero();
      continue;
    }
    o.row(i).noalias() = a.row(i) * s;
    if (normalize) divide_row(o.row(i), a.row(i).dot(z));
  }
}

struct HeadGrads {
  MatrixD da;  // [N, F]
  MatrixD db;  // [M, F]
};

// One head of the backward pass. a [N, F], b [M, F], v [M, dv], g = ∂out [N, dv];
// writes dv_out [M, dv] and returns ∂φ_q, ∂φ_k.
HeadGrads backward_head(const MatrixD& a, const MatrixD& b, const RefMatrix& v, const RefMatrix& g,
                        bool causal, bool normalize, MatrixMap<double> dv_out) {
  const Index N = a.rows(), M = b.rows(), F = a.cols(), dv = v.cols(), offset = M - N;
  HeadGrads r{MatrixD::Zero(N, F), MatrixD::Zero(M, F)};
  if (M == 0 || N == 0) {
    dv_out.setZero();
    return r;
  }
  // g̃_i = ∂loss/∂num_i and e_i = ∂loss/∂den_i for one row with numerator num and denominator den.
  MatrixD gt(N, dv);  // [N, dv]
  VectorD e(N);       // [N]
  auto row_coefficients = [&](Index i, const auto& num, double den) {
    if (!normalize) {
      gt.row(i) = g.row(i);
      e(i) = 0.0;
    } else if (den == 0.0) {  // the forward output 0: constant row, no gradient
      gt.row(i).setZero();
      e(i) = 0.0;
    } else {
      gt.row(i) = g.row(i) / den;
      e(i) = -(g.row(i).dot(num) / den) / den;
    }
  };

  if (!causal) {
    const MatrixD s = b.transpose() * v;              // [F, dv]
    const VectorD z = b.colwise().sum().transpose();  // [F]
    const MatrixD num = a * s;                        // [N, dv]
    for (Index i = 0; i < N; ++i) {
      row_coefficients(i, num.row(i), normalize ? a.row(i).dot(z) : 1.0);
    }
    r.da.noalias() = gt * s.transpose();
    r.da.noalias() += e * z.transpose();
    const MatrixD rr = a.transpose() * gt;  // [F, dv]  Σ_i φ_q(q_i) g̃_iᵀ
    const VectorD rv = a.transpose() * e;   // [F]      Σ_i e_i φ_q(q_i)
    r.db.noalias() = v * rr.transpose();
    r.db.rowwise() += rv.transpose();
    dv_out.noalias() = b * rr;
    return r;
  }

  // Causal, forward sweep: prefix sums S_i, z_i give the rows' coefficients and ∂φ_q(q_i).
  {
    MatrixD s = MatrixD::Zero(F, dv);
    VectorD z = VectorD::Zero(F);
    Vector<double> num(dv);
    Index j = 0;
    for (Index i = 0; i < N; ++i) {
      const Index hi = visible_end(i, offset, M);
      for (; j < hi; ++j) {
        s.noalias() += b.row(j).transpose() * v.row(j);
        z += b.row(j).transpose();
      }
      if (hi == 0) {
        gt.row(i).setZero();
        e(i) = 0.0;
        continue;
      }
      num.noalias() = s.transpose() * a.row(i).transpose();
      row_coefficients(i, num.transpose(), normalize ? a.row(i).dot(z) : 1.0);
      r.da.row(i).noalias() = gt.row(i) * s.transpose();
      r.da.row(i) += e(i) * z.transpose();
    }
  }
  // Causal, reverse sweep over keys: the queries that see key j are a suffix i ≥ i₀(j) (visible_end
  // is nondecreasing in i), so R_j = Σ_{i ≥ i₀(j)} φ_q(q_i) g̃_iᵀ and r_j = Σ e_i φ_q(q_i) grow as j
  // decreases.
  MatrixD rr = MatrixD::Zero(F, dv);
  VectorD rv = VectorD::Zero(F);
  Index i = N - 1;
  for (Index j = M - 1; j >= 0; --j) {
    for (; i >= 0 && visible_end(i, offset, M) > j; --i) {
      rr.noalias() += a.row(i).transpose() * gt.row(i);
      rv += e(i) * a.row(i).transpose();
    }
    r.db.row(j).noalias() = v.row(j) * rr.transpose();
    r.db.row(j) += rv.transpose();
    dv_out.row(j).noalias() = b.row(j) * rr;
  }
  return r;
}

void check_finite(const Tensor3d& t, const char* what) {
  for (Index i = 0; i < t.size(); ++i) {
    if (!std::isfinite(t.data()[i])) {
      const Index per_head = t.dim1() * t.dim2();
      throw NumericError(str_cat(what, ": non-finite value ", t.data()[i], " at head ",
                                 i / per_head, " row ", (i % per_head) / t.dim2(),
                                 " (inputs too large for the feature map, or non-finite inputs)"));
    }
  }
}

MatrixD projection_for(const LinearAttentionSpec& spec, Index d) {
  if (spec.feature_map != FeatureMap::favor) return MatrixD();
  return favor_projection(d, spec.feature_count(d), spec.seed, spec.orthogonal);
}

void check_qk_shapes(const Tensor3d& q, const Tensor3d& k) {
  if (q.dim0() != k.dim0()) {
    throw UsageError(
        str_cat("linear attention: head counts differ: q has ", q.dim0(), ", k ", k.dim0()));
  }
  if (q.dim2() != k.dim2()) {
    throw UsageError(
        str_cat("linear attention: q and k head dims differ: ", q.dim2(), " vs ", k.dim2()));
  }
}

}  // namespace

std::string_view to_string(FeatureMap f) {
  switch (f) {
    case FeatureMap::identity:
      return "identity";
    case FeatureMap::elu1:
      return "elu1";
    case FeatureMap::favor:
      return "favor";
  }
  return "unknown";
}

FeatureMap parse_feature_map(std::string_view name) {
  if (name == "identity") return FeatureMap::identity;
  if (name == "elu1" || name == "elu+1") return FeatureMap::elu1;
  if (name == "favor" || name == "favor+") return FeatureMap::favor;
  throw UsageError(str_cat("unknown linear-attention feature map '", name,
                           "' (expected identity, elu1 or favor)"));
}

void LinearAttentionSpec::validate(Index H, Index N, Index M, Index d) const {
  if (H <= 0 || N < 0 || M < 0 || d <= 0) {
    throw UsageError(
        str_cat("linear attention: invalid shapes H=", H, " N=", N, " M=", M, " d=", d));
  }
  if (!std::isfinite(temperature) || !(temperature > 0.0)) {
    throw UsageError(
        str_cat("linear attention: temperature must be finite and > 0, got ", temperature));
  }
  if (feature_map != FeatureMap::identity && temperature != 1.0) {
    throw UsageError(str_cat("linear attention: temperature=", temperature,
                             " applies only to the identity feature map (", to_string(feature_map),
                             " needs 1)"));
  }
  if (num_features < 0) {
    throw UsageError(str_cat("linear attention: num_features must be >= 0, got ", num_features));
  }
  if (num_features != 0 && feature_map != FeatureMap::favor) {
    throw UsageError(str_cat("linear attention: num_features=", num_features,
                             " applies only to the favor feature map, not ",
                             to_string(feature_map)));
  }
}

Index LinearAttentionSpec::feature_count(Index d) const {
  if (feature_map != FeatureMap::favor) return d;
  return num_features > 0 ? num_features : default_favor_features(d);
}

std::string LinearAttentionSpec::describe() const {
  std::ostringstream os;
  os << "linear " << to_string(feature_map);
  if (feature_map == FeatureMap::identity && temperature != 1.0) os << " T=" << temperature;
  if (feature_map == FeatureMap::favor) {
    os << " m=" << (num_features > 0 ? str_cat(num_features) : std::string("auto"))
       << (orthogonal ? " orthogonal" : " iid") << " seed=" << seed;
  }
  if (causal) os << " causal";
  os << (normalized() ? " normalized" : " unnormalized");
  return os.str();
}

nlohmann::json LinearAttentionSpec::to_json() const {
  nlohmann::json j;
  j["feature_map"] = std::string(to_string(feature_map));
  j["causal"] = causal;
  j["normalize"] = normalized();
  j["temperature"] = temperature;
  j["num_features"] = num_features;
  j["seed"] = seed;
  j["orthogonal"] = orthogonal;
  return j;
}

LinearAttentionSpec LinearAttentionSpec::from_json(const nlohmann::json& j) {
  LinearAttentionSpec s;
  try {
    const std::string name = j.at("feature_map").get<std::string>();
    try {
      s.feature_map = parse_feature_map(name);
    } catch (const UsageError& e) {
      throw FormatError(str_cat("linear attention spec JSON: ", e.what()));
    }
    s.causal = j.value("causal", false);
    if (j.contains("normalize")) s.normalize = j.at("normalize").get<bool>();
    s.temperature = j.value("temperature", 1.0);
    s.num_features =
        io::json_int64_or(j, "num_features", 0, "linear attention spec JSON: 'num_features'");
    s.seed = j.contains("seed")
                 ? io::json_uint64(j.at("seed"), "linear attention spec JSON: 'seed'")
                 : std::uint64_t{0};
    s.orthogonal = j.value("orthogonal", true);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(str_cat("linear attention spec JSON: ", e.what()));
  }
  return s;
}

Index default_favor_features(Index d) {
  if (d < 1) throw UsageError(str_cat("default_favor_features: d must be >= 1, got ", d));
  const double dd = static_cast<double>(d);
  return std::max<Index>(1, static_cast<Index>(std::llround(dd * std::log(dd))));
}

MatrixD favor_projection(Index d, Index m, std::uint64_t seed, bool orthogonal) {
  if (d < 1 || m < 1) {
    throw UsageError(str_cat("favor_projection: d and m must be >= 1, got d=", d, " m=", m));
  }
  Rng rng(seed);
  MatrixD w(d, m);
  if (!orthogonal) {
    for (Index l = 0; l < m; ++l)
      for (Index r = 0; r < d; ++r) w(r, l) = rng.normal();
    return w;
  }
  for (Index start = 0; start < m; start += d) {
    const Index count = std::min(d, m - start);
    MatrixD basis(count, d);  // rows: the block's vectors
    for (Index t = 0; t < count; ++t)
      for (Index r = 0; r < d; ++r) basis(t, r) = rng.normal();
    // Modified Gram–Schmidt, two passes for orthogonality to rounding.
    for (Index t = 0; t < count; ++t) {
      const double original = basis.row(t).norm();
      for (int pass = 0; pass < 2; ++pass) {
        for (Index s = 0; s < t; ++s) {
          basis.row(t) -= basis.row(s).dot(basis.row(t)) * basis.row(s);
        }
      }
      const double norm = basis.row(t).norm();
      if (!(norm > 1e-10 * original)) {
        throw NumericError(str_cat("favor_projection: Gram–Schmidt lost rank at feature ",
                                   start + t, " (d=", d, " m=", m, " seed=", seed, ")"));
      }
      basis.row(t) /= norm;
    }
    for (Index t = 0; t < count; ++t) {
      double sumsq = 0.0;
      for (Index r = 0; r < d; ++r) {
        const double z = rng.normal();
        sumsq += z * z;
      }
      w.col(start + t) = std::sqrt(sumsq) * basis.row(t).transpose();
    }
  }
  return w;
}

MatrixD favor_features(const MatrixD& x, const MatrixD& w, FavorStabilizer stabilizer) {
  if (x.cols() != w.rows()) {
    throw UsageError(str_cat("favor_features: x has ", x.cols(), " columns but the projection has ",
                             w.rows(), " rows"));
  }
  const Index n = x.rows(), d = x.cols(), m = w.cols();
  if (n == 0 || m == 0) return MatrixD::Zero(n, m);
  const double c = std::pow(static_cast<double>(d), -0.25);
  const MatrixD xh = c * x;  // [n, d]
  MatrixD u = xh * w;        // [n, m] exponents
  u.array().colwise() -= 0.5 * xh.rowwise().squaredNorm().array();
  if (stabilizer == FavorStabilizer::per_row) {
    u.array().colwise() -= u.rowwise().maxCoeff().array();
  } else if (stabilizer == FavorStabilizer::global) {
    u.array() -= u.maxCoeff();
  }
  return u.array().exp() / std::sqrt(static_cast<double>(m));
}

Tensor3d linear_attention_forward(const Tensor3d& q, const Tensor3d& k, const Tensor3d& v,
                                  const LinearAttentionSpec& spec) {
  check_attention_shapes(q, k, v);
  const Index H = q.dim0(), N = q.dim1(), M = k.dim1(), d = q.dim2(), dv = v.dim2();
  spec.validate(H, N, M, d);
  const MatrixD w = projection_for(spec, d);
  const bool normalize = spec.normalized();
  Tensor3d out(H, N, dv);
#pragma omp parallel for schedule(static)
  for (Index h = 0; h < H; ++h) {
    const MatrixD a = features(q.slice(h), spec, Role::query, w);
    const MatrixD b = features(k.slice(h), spec, Role::key, w);
    forward_head(a, b, v.slice(h), spec.causal, normalize, out.slice(h));
  }
  check_finite(out, "linear_attention_forward");
  return out;
}

LinearAttentionGrads linear_attention_backward(const Tensor3d& q, const Tensor3d& k,
                                               const Tensor3d& v, const LinearAttentionSpec& spec,
                                               const Tensor3d& dout) {
  check_attention_shapes(q, k, v);
  const Index H = q.dim0(), N = q.dim1(), M = k.dim1(), d = q.dim2(), dv = v.dim2();
  spec.validate(H, N, M, d);
  if (dout.dim0() != H || dout.dim1() != N || dout.dim2() != dv) {
    throw UsageError(str_cat("linear_attention_backward: dout is [", dout.dim0(), ", ", dout.dim1(),
                             ", ", dout.dim2(), "], expected [", H, ", ", N, ", ", dv, "]"));
  }
  const MatrixD w = projection_for(spec, d);
  const bool normalize = spec.normalized();
  LinearAttentionGrads g{Tensor3d(H, N, d), Tensor3d(H, M, d), Tensor3d(H, M, dv)};
#pragma omp parallel for schedule(static)
  for (Index h = 0; h < H; ++h) {
    const MatrixD a = features(q.slice(h), spec, Role::query, w);
    const MatrixD b = features(k.slice(h), spec, Role::key, w);
    const HeadGrads hg =
        backward_head(a, b, v.slice(h), dout.slice(h), spec.causal, normalize, g.dv.slice(h));
    g.dq.slice(h) = features_backward(q.slice(h), a, hg.da, spec, Role::query, w);
    g.dk.slice(h) = features_backward(k.slice(h), b, hg.db, spec, Role::key, w);
  }
  check_finite(g.dq, "linear_attention_backward (dq)");
  check_finite(g.dk, "linear_attention_backward (dk)");
  check_finite(g.dv, "linear_attention_backward (dv)");
  return g;
}

Tensor3d linear_attention_weights_reference(const Tensor3d& q, const Tensor3d& k,
                                            const LinearAttentionSpec& spec) {
  check_qk_shapes(q, k);
  const Index H = q.dim0(), N = q.dim1(), M = k.dim1(), d = q.dim2(), offset = M - N;
  spec.validate(H, N, M, d);
  const MatrixD w = projection_for(spec, d);
  const Index F = spec.feature_count(d);
  const double c = std::pow(static_cast<double>(d), -0.25);
  // φ of one row, straight from the definitions (no stabilizers; identity handled by the caller).
  auto phi = [&](const double* x) {
    std::vector<double> f(static_cast<std::size_t>(F));
    if (spec.feature_map == FeatureMap::elu1) {
      for (Index t = 0; t < d; ++t) f[t] = x[t] > 0.0 ? x[t] + 1.0 : std::exp(x[t]);
    } else {
      double sq = 0.0;
      for (Index t = 0; t < d; ++t) sq += (c * x[t]) * (c * x[t]);
      for (Index l = 0; l < F; ++l) {
        double dot = 0.0;
        for (Index t = 0; t < d; ++t) dot += w(t, l) * (c * x[t]);
        f[l] = std::exp(dot - 0.5 * sq) / std::sqrt(static_cast<double>(F));
      }
    }
    return f;
  };
  Tensor3d a(H, N, M);
  for (Index h = 0; h < H; ++h) {
    std::vector<std::vector<double>> fk;
    if (spec.feature_map != FeatureMap::identity) {
      for (Index j = 0; j < M; ++j) fk.push_back(phi(&k(h, j, 0)));
    }
    for (Index i = 0; i < N; ++i) {
      std::vector<double> fq;
      if (spec.feature_map != FeatureMap::identity) fq = phi(&q(h, i, 0));
      double sum = 0.0;
      for (Index j = 0; j < M; ++j) {
        double s = 0.0;
        if (!spec.causal || j <= i + offset) {
          if (spec.feature_map == FeatureMap::identity) {
            for (Index t = 0; t < d; ++t) s += q(h, i, t) * k(h, j, t);
            s /= spec.temperature;
          } else {
            for (Index l = 0; l < F; ++l) s += fq[l] * fk[j][l];
          }
        }
        a(h, i, j) = s;
        sum += s;
      }
      if (spec.normalized()) {
        for (Index j = 0; j < M; ++j) a(h, i, j) = sum == 0.0 ? 0.0 : a(h, i, j) / sum;
      }
    }
  }
  return a;
}

Tensor3d linear_attention_reference(const Tensor3d& q, const Tensor3d& k, const Tensor3d& v,
                                    const LinearAttentionSpec& spec) {
  check_attention_shapes(q, k, v);
  const Tensor3d a = linear_attention_weights_reference(q, k, spec);
  Tensor3d out(q.dim0(), q.dim1(), v.dim2());
  for (Index h = 0; h < q.dim0(); ++h) {
    for (Index i = 0; i < q.dim1(); ++i) {
      for (Index c = 0; c < v.dim2(); ++c) {
        double s = 0.0;
        for (Index j = 0; j < k.dim1(); ++j) s += a(h, i, j) * v(h, j, c);
        out(h, i, c) = s;
      }
    }
  }
  return out;
}

}  // namespace attnlab::attention
