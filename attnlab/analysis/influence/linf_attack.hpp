// attnlab/analysis/influence/linf_attack.hpp — l∞ attacks (FGSM, PGD, MIM) that maximize a
// model's training loss at given points, in [0, 1] pixel space (SCIENCE.md §0, §3 M1).
//
// For rows x [B, D] with labels/targets, objective J(x) = Σ_b ℓ(f(x_b), y_b) (ℓ: the model's
// training loss, MSE or cross-entropy; rows are independent, so one batch gradient is every row's
// gradient). The model takes RAW rows (wrap the network in nn::NormalizedInput). Every iterate is
// projected onto {‖x' − x‖∞ ≤ ε} ∩ [0, 1]^D.
//   fgsm  x' = Π(x + ε sign ∇J)                                   (one step)
//   pgd   x ← Π(x + α sign ∇J), `steps` times, α = step_fraction·ε (default 10 steps, ε/4), no
//         random start
//   mim   g ← μ g + ∇J / ‖∇J‖₁ (per row), x ← Π(x + α sign g), α = ε / steps, μ = momentum (1.0)
// A zero gradient component leaves that pixel unchanged (sign 0).
//
// Usage:
//   AttackOptions o{.kind = AttackKind::pgd, .epsilon = 0.3};
//   MatrixD x_adv = linf_attack(pixel_model, x_raw, targets, nn::LossKind::mse, o);   // [B, D]
#pragma once

#include <string_view>

#include "attnlab/nn/losses.hpp"
#include "attnlab/nn/model.hpp"

namespace attnlab::analysis::influence {

enum class AttackKind { fgsm, pgd, mim };
std::string_view to_string(AttackKind k);
AttackKind parse_attack_kind(std::string_view name);  // UsageError listing fgsm, pgd, mim

struct AttackOptions {
  AttackKind kind = AttackKind::pgd;
  double epsilon = 0.3;
  Index steps = 10;             // pgd, mim
  double step_fraction = 0.25;  // pgd: α = step_fraction · ε
  double momentum = 1.0;        // mim
};

// x [B, D] raw rows in [0, 1]; targets with B rows. Returns the perturbed rows [B, D].
MatrixD linf_attack(const nn::Model& model, const MatrixD& x, const nn::Targets& targets,
                    nn::LossKind loss, const AttackOptions& options);

}  // namespace attnlab::analysis::influence
