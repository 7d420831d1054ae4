// attnlab/nn/layers/rope.hpp — rotary position embedding (RoPE) on rows of a head, and its backward.
//
// Half style (GPT-NeoX / Llama, the same as attention/positional.hpp's apply_rope): for a row x
// [d] at position p, pairs (x_i, x_{i+d/2}), i < d/2, rotate by angle p·θ_i, θ_i = base^(−2i/d):
//   x_i' = x_i cos − x_{i+d/2} sin,    x_{i+d/2}' = x_i sin + x_{i+d/2} cos
// A rotation is orthogonal, so the backward is the rotation by −p·θ_i applied to the upstream
// gradient. Angles are computed in fp64 once per (position, pair) in RopeTable.
//
// Usage:
//   RopeTable rope(/*positions=*/256, d);
//   rope.rotate(x, n, p0);            // rows x [n, d] at positions p0 .. p0+n−1, in place
//   rope.rotate_back(dx, n, p0);      // the transpose: gradient through rotate()
#pragma once

#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::nn {

class RopeTable {
 public:
  RopeTable() = default;
  // UsageError if d is odd or < 2, positions < 1 or base <= 1.
  RopeTable(Index positions, Index d, double base = 10000.0);
  Index positions() const { return positions_; }
  Index head_dim() const { return d_; }
  // UsageError when p0 + n exceeds positions().
  template <class T>
  void rotate(T* x, Index n, Index p0) const;
  template <class T>
  void rotate_back(T* x, Index n, Index p0) const;

 private:
  template <class T>
  void apply(T* x, Index n, Index p0, double sign) const;
  Index positions_ = 0, d_ = 0;
  std::vector<double> cos_, sin_;  // [positions, d/2]
};

}  // namespace attnlab::nn
