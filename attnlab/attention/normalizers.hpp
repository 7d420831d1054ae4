// attnlab/attention/normalizers.hpp — row normalizers (logits -> weights) and their backward.
//
// Each function maps one row of logits ℓ [M] to weights α [M]. Masked keys carry ℓ = −∞ and get
// α = 0; a row whose keys are all masked gives α = 0 everywhere (documented, never NaN).
//
//   softmax:   α = exp(ℓ − max ℓ) / Σ exp(ℓ − max ℓ)          (max-subtraction: stable at any
//   scale) sparsemax: α = [ℓ − τ]₊ with τ so that Σα = 1             (sort-based, exact) entmax15:
//   α = [ℓ/2 − τ]₊² with τ so that Σα = 1          (sort-based, exact) none:      α = ℓ on visible
//   keys                          (linearized attention)
// ssmax is softmax here: its difference (the s·log n factor) lives in the logits (spec.hpp).
//
// Backward (vector–Jacobian products, dℓ = Jᵀ dα, all J symmetric):
//   softmax:   dℓ = α ⊙ (dα − ⟨α, dα⟩)
//   sparsemax: dℓ = 1_S ⊙ (dα − mean_S dα)                    S = support of α
//   entmax15:  dℓ = s ⊙ dα − s ⟨s, dα⟩ / Σ s,  s = √α         (closed form, Peters et al.)
//   none:      dℓ = dα on visible keys, 0 on masked keys
//
// Templated on the scalar: double for the references, float for fast-path fallbacks.
//
// Usage:
//   normalize_row(Normalizer::entmax15, logits, weights);
//   normalize_row_backward(Normalizer::entmax15, logits, weights, dweights, dlogits);
#pragma once

#include <span>

#include "attnlab/attention/spec.hpp"

namespace attnlab::attention {

template <class T>
void normalize_row(Normalizer normalizer, std::span<const T> logits, std::span<T> weights);

// `logits` and `weights` are the forward's input and output for this row.
template <class T>
void normalize_row_backward(Normalizer normalizer, std::span<const T> logits,
                            std::span<const T> weights, std::span<const T> dweights,
                            std::span<T> dlogits);

// The dense Jacobian J[a][b] = ∂α_a/∂ℓ_b of one row, [M, M] (for the selectivity study).
template <class T>
Matrix<T> normalizer_jacobian(Normalizer normalizer, std::span<const T> logits);

}  // namespace attnlab::attention
