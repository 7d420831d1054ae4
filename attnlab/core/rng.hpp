// attnlab/core/rng.hpp — seeded, platform-independent random numbers.
//
// Every random draw in attnlab comes from an Rng built from an explicit seed. The generator is
// xoshiro256** seeded through splitmix64, and the distributions (uniform, normal, integers,
// shuffles) are implemented here rather than taken from <random>, whose distributions differ
// between standard libraries. So the same seed gives bit-identical draws on every platform.
//
// Parallel loops must not share one Rng: derive an independent stream per work item with
// `Rng::stream(seed, item)`, which keeps results identical for any thread count.
//
// Usage:
//   Rng rng(42);
//   double u = rng.uniform();             // [0, 1)
//   double z = rng.normal();              // N(0, 1)
//   auto perm = rng.permutation(10);      // uniformly random permutation of 0..9
//   Rng per_head = Rng::stream(42, h);    // independent stream for head h
#pragma once

#include <cstdint>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0);
  // An independent stream derived from (seed, stream id); stream(s, 0) != Rng(s).
  static Rng stream(std::uint64_t seed, std::uint64_t stream_id);

  std::uint64_t next_u64();
  // Uniform double in [0, 1) with 53 random bits.
  double uniform();
  // Uniform double in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Standard normal (Box–Muller; pairs are cached, so draws are deterministic in order).
  double normal();
  // Uniform integer in [0, n) without modulo bias; n must be > 0.
  std::uint64_t uniform_int(std::uint64_t n);
  // Uniformly random permutation of 0..n-1 (Fisher–Yates).
  std::vector<Index> permutation(Index n);
  // k distinct indices from 0..n-1, uniformly (partial Fisher–Yates), in draw order.
  std::vector<Index> sample_without_replacement(Index n, Index k);

  // Fill helpers.
  void fill_normal(double* x, Index count, double mean = 0.0, double stddev = 1.0);
  void fill_normal(float* x, Index count, double mean = 0.0, double stddev = 1.0);
  void fill_uniform(double* x, Index count, double lo, double hi);
  void fill_uniform(float* x, Index count, double lo, double hi);

 private:
  std::uint64_t s_[4];
  double cached_normal_ = 0.0;
  bool has_cached_normal_ = false;
};

}  // namespace attnlab
