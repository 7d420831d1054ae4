#include "attnlab/nn/layers/rope.hpp"

#include <cmath>

#include "attnlab/core/error.hpp"

namespace attnlab::nn {

RopeTable::RopeTable(Index positions, Index d, double base) : positions_(positions), d_(d) {
  if (d < 2 || d % 2 != 0) throw UsageError(str_cat("RopeTable: head dim must be even, got ", d));
  if (positions < 1)
    throw UsageError(str_cat("RopeTable: positions must be >= 1, got ", positions));
  if (!(base > 1.0)) throw UsageError(str_cat("RopeTable: base must be > 1, got ", base));
  const Index half = d / 2;
  cos_.resize(static_cast<std::size_t>(positions * half));
  sin_.resize(cos_.size());
  for (Index p = 0; p < positions; ++p)
    for (Index i = 0; i < half; ++i) {
      const double theta = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(d));
      const double angle = static_cast<double>(p) * theta;
      cos_[static_cast<std::size_t>(p * half + i)] = std::cos(angle);
      sin_[static_cast<std::size_t>(p * half + i)] = std::sin(angle);
    }
}

template <class T>
void RopeTable::apply(T* x, Index n, Index p0, double sign) const {
  if (p0 < 0 || p0 + n > positions_) {
    throw UsageError(str_cat("RopeTable: positions ", p0, "..", p0 + n - 1,
                             " outside the table of ", positions_));
  }
  const Index half = d_ / 2;
  for (Index t = 0; t < n; ++t) {
    const double* c = cos_.data() + (p0 + t) * half;
    const double* s = sin_.data() + (p0 + t) * half;
    T* row = x + t * d_;
    for (Index i = 0; i < half; ++i) {
      const double a = row[i], b = row[i + half], si = sign * s[i];
      row[i] = static_cast<T>(a * c[i] - b * si);
      row[i + half] = static_cast<T>(a * si + b * c[i]);
    }
  }
}

template <class T>
void RopeTable::rotate(T* x, Index n, Index p0) const {
  apply(x, n, p0, 1.0);
}
template <class T>
void RopeTable::rotate_back(T* x, Index n, Index p0) const {
  apply(x, n, p0, -1.0);
}

template void RopeTable::rotate<float>(float*, Index, Index) const;
template void RopeTable::rotate<double>(double*, Index, Index) const;
template void RopeTable::rotate_back<float>(float*, Index, Index) const;
template void RopeTable::rotate_back<double>(double*, Index, Index) const;

}  // namespace attnlab::nn
