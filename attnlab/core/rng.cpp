#include "attnlab/core/rng.hpp"

#include <cmath>
#include <numbers>

#include "attnlab/core/error.hpp"

namespace attnlab {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

}  // namespace

Rng::Rng(std::uint64_t seed) {
  std::uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
}

Rng Rng::stream(std::uint64_t seed, std::uint64_t stream_id) {
  // Mix the stream id through splitmix64 so that nearby ids give unrelated states.
  std::uint64_t x = seed ^ 0xD1B54A32D192ED03ull;
  std::uint64_t a = splitmix64(x);
  std::uint64_t y = stream_id + 0x8CB92BA72F3D8DD7ull;
  std::uint64_t b = splitmix64(y);
  return Rng(a ^ rotl(b, 17) ^ 0x5851F42D4C957F2Dull);
}

std::uint64_t Rng::next_u64() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

double Rng::normal() {
  if (has_cached_normal_) {
    has_cached_normal_ = false;
    return cached_normal_;
  }
  double u1;
  do {
    u1 = uniform();
  } while (u1 <= 0.0);
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = 2.0 * std::numbers::pi * u2;
  cached_normal_ = r * std::sin(theta);
  has_cached_normal_ = true;
  return r * std::cos(theta);
}

std::uint64_t Rng::uniform_int(std::uint64_t n) {
  if (n == 0) throw UsageError("Rng::uniform_int: n must be > 0");
  // Rejection sampling on the top of the range: unbiased.
  const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);
  std::uint64_t x;
  do {
    x = next_u64();
  } while (x >= limit);
  return x % n;
}

std::vector<Index> Rng::permutation(Index n) {
  std::vector<Index> p(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) p[i] = i;
  for (Index i = n - 1; i > 0; --i) {
    const auto j = static_cast<Index>(uniform_int(static_cast<std::uint64_t>(i + 1)));
    std::swap(p[i], p[j]);
  }
  return p;
}

std::vector<Index> Rng::sample_without_replacement(Index n, Index k) {
  if (k < 0 || k > n) {
    throw UsageError(
        str_cat("Rng::sample_without_replacement: need 0 <= k <= n, got k=", k, " n=", n));
  }
  std::vector<Index> p(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) p[i] = i;
  for (Index i = 0; i < k; ++i) {
    const auto j = i + static_cast<Index>(uniform_int(static_cast<std::uint64_t>(n - i)));
    std::swap(p[i], p[j]);
  }
  p.resize(static_cast<std::size_t>(k));
  return p;
}

void Rng::fill_normal(double* x, Index count, double mean, double stddev) {
  for (Index i = 0; i < count; ++i) x[i] = mean + stddev * normal();
}
void Rng::fill_normal(float* x, Index count, double mean, double stddev) {
  for (Index i = 0; i < count; ++i) x[i] = static_cast<float>(mean + stddev * normal());
}
void Rng::fill_uniform(double* x, Index count, double lo, double hi) {
  for (Index i = 0; i < count; ++i) x[i] = uniform(lo, hi);
}
void Rng::fill_uniform(float* x, Index count, double lo, double hi) {
  for (Index i = 0; i < count; ++i) x[i] = static_cast<float>(uniform(lo, hi));
}

}  // namespace attnlab
