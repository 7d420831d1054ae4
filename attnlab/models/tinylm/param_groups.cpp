#include "attnlab/models/tinylm/param_groups.hpp"

#include <string>

#include "attnlab/core/error.hpp"
#include "attnlab/models/gpt2/weights.hpp"

namespace attnlab::models::tinylm {

using gpt2::Gpt2Config;
using gpt2::Gpt2Layout;
using gpt2::PositionMode;

void add_parameter_groups(nn::AdamW<float>& opt, const Gpt2Config& c) {
  const Gpt2Layout g(c);
  const auto C = static_cast<std::size_t>(c.n_embd), F = static_cast<std::size_t>(c.ffn_dim());
  const auto V = static_cast<std::size_t>(c.vocab_size),
             P = static_cast<std::size_t>(c.n_positions), H = static_cast<std::size_t>(c.n_head);
  auto add = [&](std::size_t off, std::size_t size, bool decay, std::string name,
                 bool frozen = false, bool nonneg = false) {
    opt.add_group({off, size, decay, frozen, nonneg, std::move(name)});
  };
  add(g.wte, V * C, true, "wte");
  add(g.wpe, P * C, c.position_mode == PositionMode::learned, "wpe",
      c.position_mode != PositionMode::learned);
  for (Index l = 0; l < c.n_layer; ++l) {
    const std::size_t b = g.layer_base(l);
    const std::string p = str_cat("h.", l, ".");
    add(b + g.ln1_w, C, false, p + "ln_1.weight");
    add(b + g.ln1_b, C, false, p + "ln_1.bias");
    add(b + g.qkv_w, 3 * C * C, true, p + "attn.c_attn.weight");
    add(b + g.qkv_b, 3 * C, false, p + "attn.c_attn.bias");
    add(b + g.proj_w, C * C, true, p + "attn.c_proj.weight");
    add(b + g.proj_b, C, false, p + "attn.c_proj.bias");
    add(b + g.ln2_w, C, false, p + "ln_2.weight");
    add(b + g.ln2_b, C, false, p + "ln_2.bias");
    add(b + g.fc_w, C * F, true, p + "mlp.c_fc.weight");
    add(b + g.fc_b, F, false, p + "mlp.c_fc.bias");
    add(b + g.fcproj_w, F * C, true, p + "mlp.c_proj.weight");
    add(b + g.fcproj_b, C, false, p + "mlp.c_proj.bias");
    if (g.decay_rate != Gpt2Layout::kAbsent) {
      add(b + g.decay_rate, H, false, p + "attn.decay_rate", false, true);
    }
    if (g.sink_k != Gpt2Layout::kAbsent) {
      add(b + g.sink_k, C, false, p + "attn.sink_k");
      add(b + g.sink_v, C, false, p + "attn.sink_v");
    }
  }
  add(g.lnf_w, C, false, "ln_f.weight");
  add(g.lnf_b, C, false, "ln_f.bias");
  if (!c.tie_word_embeddings) add(g.lm_head, V * C, true, "lm_head.weight");
}

}  // namespace attnlab::models::tinylm
