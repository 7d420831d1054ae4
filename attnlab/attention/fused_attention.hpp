// attnlab/attention/fused_attention.hpp — tiled fp32 attention at near-GEMM speed, O(N·d) memory.
//
// The fast path for softmax-family specs (softmax, ssmax) with any combination of causal, key
// padding mask, sliding window, sinks + window, exponential decay, ALiBi and temperature — the
// exact semantics of spec.hpp. No [N, M] buffer exists anywhere:
//
//   forward   flash-style online softmax. Tasks = (head, block of Br queries), claimed
//             dynamically by OpenMP threads; each task walks the key blocks (Bc keys) that can be
//             visible to its queries (causal skips the upper triangle, windows skip blocks outside
//             the band), computes S = Q Kᵀ in a register-tiled micro-GEMM, applies biases and
//             masks in registers, updates the running max m and sum ℓ (exp2 domain: the query is
//             pre-scaled by c_i·log2 e), and accumulates O += P V. It saves lse = log Σ exp(ℓ).
//   backward  FlashAttention-2 recomputation: per head, key blocks in parallel (static schedule),
//             each walking its visible query blocks: P = exp(ℓ − lse), dP = dO Vᵀ,
//             dℓ = P ⊙ (dP − rowsum(dO ⊙ O)), dV += Pᵀ dO, dK += dSᵀ Q, dQ += dS K, with dQ in
//             per-thread buffers summed in thread order.
//   packing  Kᵀ (and, for the backward, Vᵀ) is packed as one contiguous [d, Bc] panel per key
//             block, so a micro-GEMM's depth steps are Bc floats apart whatever N is (no
//             4 KiB-strided steps that alias cache sets at N a multiple of 1024); the backward's
//             key-side products read P and dS transposed in place (tiles::gemm_atb_acc).
//   diagnostics (optional) streamed in the same forward pass, per row: entropy (a third running
//             accumulator rescaled like ℓ), sink mass, max weight, top-8 mass, and the shares of
//             entries below 1% of the row max / below 1% of the row mass. The last two are exact:
//             every entry that can end above the threshold is within log2(100) of the running
//             max when seen, so only those candidates are kept (few for peaked rows).
//
// Invariants: results are deterministic for a fixed thread count (forward rows are computed by
// the same instruction sequence whatever thread runs them; the backward's dQ reduction follows a
// static schedule). A row with no visible key yields out = 0 and lse = −∞. Positions must be
// below 2^24 (indices are compared in fp32 lanes). Precision: scores are fp32, so a score ℓ
// carries an error of ~2⁻²⁴(√d·Σ|q_t k_t|/T + |ℓ|) and weights inherit it (tests/attention/
// stress_numerics_test.cpp checks exactly this bound, logits up to ~1e4, T down to 1e-4). The
// backward's P = exp(ℓ − lse) is clamped to ≤ 1, so even at |ℓ| beyond 2^24, where the fp32 lse
// is coarser than the score, no gradient overflows. Unsupported specs (sparsemax, entmax15, none,
// top-k) throw UsageError here; attend() (attend.hpp) routes them to the reference kernel.
//
// Vector ISA: the best of AVX-512 / AVX2 / scalar compiled into this build and supported by the
// CPU, or the one named in FusedOptions::simd (tests run every available level).
//
// Usage:
//   FusedForward f = attention_forward_fused(q, k, v, spec);          // f.out [H, N, dv], f.lse
//   FusedGrads g = attention_backward_fused(q, k, v, spec, f.out, f.lse, dout);
//   FusedOptions o;  o.diagnostics = true;  auto d = attention_forward_fused(q, k, v, spec, o);
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "attnlab/attention/row_diagnostics.hpp"
#include "attnlab/attention/spec.hpp"
#include "attnlab/core/tensor.hpp"

namespace attnlab::attention {

enum class SimdLevel { scalar, avx2, avx512 };
const char* to_string(SimdLevel level);
// Levels compiled into this build that this CPU can run, fastest last.
std::vector<SimdLevel> available_simd_levels();
SimdLevel best_simd_level();

// How the two products of a forward tile (S = Q Kᵀ and O += P V) are computed: attnlab's
// register-tiled micro-kernels (fused_tiles.hpp), or one OpenBLAS sgemm call per product and
// tile. Both are kept so the benchmark can measure which wins; `tiles` is the default.
enum class MicroKernel { tiles, blas };

struct FusedOptions {
  Index block_q = 64;   // Br: query rows per task
  Index block_k = 256;  // Bc: keys per tile (rounded up to the vector width)
  bool diagnostics = false;
  std::optional<SimdLevel> simd;                 // default: best_simd_level()
  MicroKernel microkernel = MicroKernel::tiles;  // forward only; the backward always uses tiles
};

struct FusedForward {
  Tensor3f out;  // [H, N, dv]
  MatrixF lse;   // [H, N] log Σ_j exp(ℓ_ij) in nats; −∞ for rows with no visible key
  RowDiagnostics diagnostics;  // [H, N] per statistic; empty unless requested
  SimdLevel simd = SimdLevel::scalar;
};

struct FusedGrads {
  Tensor3f dq;                 // [H, N, d]
  Tensor3f dk;                 // [H, M, d]
  Tensor3f dv;                 // [H, M, dv]
  std::vector<double> dslope;  // [H] ∂loss/∂(γ_h + slope_h)
};

// True when the fused kernel computes this spec; otherwise `why` (if given) says which part is not.
bool fused_supports(const AttentionSpec& spec, std::string* why = nullptr);

FusedForward attention_forward_fused(const Tensor3f& q, const Tensor3f& k, const Tensor3f& v,
                                     const AttentionSpec& spec, const FusedOptions& options = {});

// `out` and `lse` are the forward's results for the same inputs.
FusedGrads attention_backward_fused(const Tensor3f& q, const Tensor3f& k, const Tensor3f& v,
                                    const AttentionSpec& spec, const Tensor3f& out,
                                    const MatrixF& lse, const Tensor3f& dout,
                                    const FusedOptions& options = {});

}  // namespace attnlab::attention
