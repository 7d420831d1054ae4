#include "attnlab/attention/positional.hpp"

#include <cmath>
#include <vector>

#include "attnlab/attention/spec.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"

namespace attnlab::attention {
namespace {

void check_base(const char* fn, double base) {
  if (!std::isfinite(base) || !(base > 0.0)) {
    throw UsageError(str_cat(fn, ": base must be finite and > 0, got ", base));
  }
}

void check_position(const char* fn, Index p, Index t, Index max_length) {
  if (p < 0 || p >= max_length) {
    throw InputError(str_cat(fn, ": position ", p, " of row ", t,
                             " is outside the learned table [0, ", max_length, ")"));
  }
}

void check_learned_dims(const char* fn, const MatrixD& x, const MatrixD& table) {
  if (x.cols() != table.cols()) {
    throw UsageError(str_cat(fn, ": x has D=", x.cols(), " but the table has D=", table.cols()));
  }
}

// Shared body of apply_rope (sign +1) and its backward (sign −1).
void rotate(Tensor3d& x, Index position_offset, double base, RopeStyle style, double sign,
            const char* fn) {
  const Index H = x.dim0(), L = x.dim1(), d = x.dim2();
  if (d % 2 != 0) throw UsageError(str_cat(fn, ": head dim d must be even, got ", d));
  check_base(fn, base);
  const Index half = d / 2;
  std::vector<double> theta(static_cast<std::size_t>(half));
  for (Index i = 0; i < half; ++i) {
    theta[i] = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(d));
  }
  std::vector<double> cs(static_cast<std::size_t>(half)), sn(static_cast<std::size_t>(half));
  for (Index t = 0; t < L; ++t) {
    const double p = static_cast<double>(position_offset + t);
    for (Index i = 0; i < half; ++i) {
      const double angle = p * theta[i];
      cs[i] = std::cos(angle);
      sn[i] = sign * std::sin(angle);
    }
    for (Index h = 0; h < H; ++h) {
      double* row = &x(h, t, 0);
      for (Index i = 0; i < half; ++i) {
        const Index ia = style == RopeStyle::half ? i : 2 * i;
        const Index ib = style == RopeStyle::half ? i + half : 2 * i + 1;
        const double a = row[ia], b = row[ib];
        row[ia] = a * cs[i] - b * sn[i];
        row[ib] = a * sn[i] + b * cs[i];
      }
    }
  }
}

}  // namespace

std::string_view to_string(PositionalEncoding p) {
  switch (p) {
    case PositionalEncoding::none:
      return "none";
    case PositionalEncoding::sinusoidal:
      return "sinusoidal";
    case PositionalEncoding::learned:
      return "learned";
    case PositionalEncoding::rope:
      return "rope";
    case PositionalEncoding::alibi:
      return "alibi";
  }
  return "unknown";
}

PositionalEncoding parse_positional_encoding(std::string_view name) {
  for (PositionalEncoding p :
       {PositionalEncoding::none, PositionalEncoding::sinusoidal, PositionalEncoding::learned,
        PositionalEncoding::rope, PositionalEncoding::alibi}) {
    if (name == to_string(p)) return p;
  }
  throw UsageError(str_cat("unknown positional encoding '", name,
                           "' (expected none, sinusoidal, learned, rope or alibi)"));
}

MatrixD sinusoidal_table(Index L, Index D, Index position_offset, double base) {
  if (L < 0 || D < 1) {
    throw UsageError(str_cat("sinusoidal_table: need L >= 0 and D >= 1, got L=", L, " D=", D));
  }
  check_base("sinusoidal_table", base);
  MatrixD pe(L, D);
  for (Index c = 0; c < D; ++c) {
    const Index i = c / 2;
    const double omega = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(D));
    for (Index t = 0; t < L; ++t) {
      const double angle = static_cast<double>(position_offset + t) * omega;
      pe(t, c) = c % 2 == 0 ? std::sin(angle) : std::cos(angle);
    }
  }
  return pe;
}

void add_sinusoidal(MatrixD& x, Index position_offset, double base) {
  if (x.cols() < 1) throw UsageError("add_sinusoidal: x must have D >= 1 columns");
  x += sinusoidal_table(x.rows(), x.cols(), position_offset, base);
}

LearnedPositions LearnedPositions::initialize(Index L_max, Index D, std::uint64_t seed,
                                              double stddev) {
  if (L_max < 1 || D < 1) {
    throw UsageError(str_cat(
        "LearnedPositions::initialize: need L_max >= 1 and D >= 1, got L_max=", L_max, " D=", D));
  }
  if (!std::isfinite(stddev) || stddev < 0.0) {
    throw UsageError(
        str_cat("LearnedPositions::initialize: stddev must be finite and >= 0, got ", stddev));
  }
  LearnedPositions p;
  p.table.resize(L_max, D);
  Rng rng(seed);
  rng.fill_normal(p.table.data(), p.table.size(), 0.0, stddev);
  return p;
}

void LearnedPositions::apply(MatrixD& x, Index position_offset) const {
  check_learned_dims("LearnedPositions::apply", x, table);
  for (Index t = 0; t < x.rows(); ++t) {
    check_position("LearnedPositions::apply", position_offset + t, t, max_length());
  }
  for (Index t = 0; t < x.rows(); ++t) x.row(t) += table.row(position_offset + t);
}

void LearnedPositions::apply(MatrixD& x, std::span<const Index> positions) const {
  check_learned_dims("LearnedPositions::apply", x, table);
  if (static_cast<Index>(positions.size()) != x.rows()) {
    throw UsageError(str_cat("LearnedPositions::apply: ", positions.size(), " positions for ",
                             x.rows(), " rows"));
  }
  for (Index t = 0; t < x.rows(); ++t) {
    check_position("LearnedPositions::apply", positions[t], t, max_length());
  }
  for (Index t = 0; t < x.rows(); ++t) x.row(t) += table.row(positions[t]);
}

MatrixD LearnedPositions::backward(const MatrixD& dx, Index position_offset) const {
  check_learned_dims("LearnedPositions::backward", dx, table);
  for (Index t = 0; t < dx.rows(); ++t) {
    check_position("LearnedPositions::backward", position_offset + t, t, max_length());
  }
  MatrixD g = MatrixD::Zero(table.rows(), table.cols());
  for (Index t = 0; t < dx.rows(); ++t) g.row(position_offset + t) += dx.row(t);
  return g;
}

MatrixD LearnedPositions::backward(const MatrixD& dx, std::span<const Index> positions) const {
  check_learned_dims("LearnedPositions::backward", dx, table);
  if (static_cast<Index>(positions.size()) != dx.rows()) {
    throw UsageError(str_cat("LearnedPositions::backward: ", positions.size(), " positions for ",
                             dx.rows(), " rows"));
  }
  for (Index t = 0; t < dx.rows(); ++t) {
    check_position("LearnedPositions::backward", positions[t], t, max_length());
  }
  MatrixD g = MatrixD::Zero(table.rows(), table.cols());
  for (Index t = 0; t < dx.rows(); ++t) g.row(positions[t]) += dx.row(t);
  return g;
}

std::string_view to_string(RopeStyle s) {
  switch (s) {
    case RopeStyle::half:
      return "half";
    case RopeStyle::interleaved:
      return "interleaved";
  }
  return "unknown";
}

RopeStyle parse_rope_style(std::string_view name) {
  if (name == "half") return RopeStyle::half;
  if (name == "interleaved") return RopeStyle::interleaved;
  throw UsageError(str_cat("unknown RoPE style '", name, "' (expected half or interleaved)"));
}

void apply_rope(Tensor3d& x, Index position_offset, double base, RopeStyle style) {
  rotate(x, position_offset, base, style, 1.0, "apply_rope");
}

void apply_rope_backward(Tensor3d& dx, Index position_offset, double base, RopeStyle style) {
  rotate(dx, position_offset, base, style, -1.0, "apply_rope_backward");
}

void apply_rope_qk(Tensor3d& q, Tensor3d& k, double base, RopeStyle style) {
  if (q.dim0() != k.dim0() || q.dim2() != k.dim2()) {
    throw UsageError(str_cat("apply_rope_qk: q is [", q.dim0(), ", ", q.dim1(), ", ", q.dim2(),
                             "] but k is [", k.dim0(), ", ", k.dim1(), ", ", k.dim2(), "]"));
  }
  // Validate before touching either tensor, so a failure leaves both unchanged.
  if (q.dim2() % 2 != 0) {
    throw UsageError(str_cat("apply_rope_qk: head dim d must be even, got ", q.dim2()));
  }
  check_base("apply_rope_qk", base);
  apply_rope(q, k.dim1() - q.dim1(), base, style);
  apply_rope(k, 0, base, style);
}

MatrixD alibi_bias(double slope, Index N, Index M) {
  if (N < 0 || M < 0) {
    throw UsageError(str_cat("alibi_bias: need N >= 0 and M >= 0, got N=", N, " M=", M));
  }
  MatrixD b(N, M);
  for (Index i = 0; i < N; ++i) {
    for (Index j = 0; j < M; ++j) {
      const Index delta = i + (M - N) - j;
      b(i, j) = -slope * static_cast<double>(delta < 0 ? -delta : delta);
    }
  }
  return b;
}

MatrixD alibi_head_bias(Index h, Index H, Index N, Index M) {
  if (H < 1 || h < 0 || h >= H) {
    throw UsageError(str_cat("alibi_head_bias: need 0 <= h < H, got h=", h, " H=", H));
  }
  return alibi_bias(alibi_slope(h, H), N, M);
}

}  // namespace attnlab::attention
