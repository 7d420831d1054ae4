#include "attnlab/models/tinylm/sink_metrics.hpp"

#include <algorithm>

#include "attnlab/core/error.hpp"

namespace attnlab::models::tinylm {

nlohmann::json SinkMetrics::to_json() const {
  nlohmann::json heads = nlohmann::json::array();
  for (Index l = 0; l < head_mass.rows(); ++l) {
    std::vector<double> row(head_mass.cols());
    for (Index h = 0; h < head_mass.cols(); ++h) row[h] = head_mass(l, h);
    heads.push_back(row);
  }
  nlohmann::json j = {{"eps", eps},
                      {"seq", seq},
                      {"sequences", sequences},
                      {"sink1", sink1},
                      {"layer_mass", layer_mass},
                      {"head_mass", heads},
                      {"has_slot", has_slot}};
  if (has_slot) {
    j["slot_sink"] = slot_sink;
    j["slot_layer_mass"] = slot_layer_mass;
  }
  return j;
}

SinkMetrics measure_sinks(const gpt2::Gpt2Model& model, std::span<const std::int32_t> tokens,
                          const SinkOptions& o) {
  const auto& c = model.config();
  const Index L = c.n_layer, H = c.n_head, T = o.seq;
  if (T < 2 || T > c.n_positions || static_cast<Index>(tokens.size()) < T) {
    throw UsageError(str_cat("measure_sinks: need 2 <= seq <= n_positions (", c.n_positions,
                             ") and at least seq tokens; seq = ", T, ", tokens = ", tokens.size()));
  }
  const Index available = static_cast<Index>(tokens.size()) / T;
  const Index S = std::max<Index>(1, std::min(o.sequences, available));
  const Index slot = c.attention.learnable_sink ? 1 : 0;  // key index of the first token
  SinkMetrics m;
  m.eps = o.eps;
  m.seq = T;
  m.sequences = S;
  m.has_slot = slot == 1;
  m.head_mass = MatrixD::Zero(L, H);
  MatrixD slot_mass = MatrixD::Zero(L, H);
  double sink_count = 0, slot_count = 0;
  gpt2::ForwardOptions fo;
  fo.logits = gpt2::LogitsMode::none;
  for (Index l = 0; l < L; ++l)
    for (Index h = 0; h < H; ++h) fo.maps.push_back({l, h});
  fo.max_map_entries = L * H * T * (T + slot);
  // Sequences spread evenly over the tokens.
  const Index stride = static_cast<Index>(tokens.size()) / S;
  for (Index s = 0; s < S; ++s) {
    const auto window =
        tokens.subspan(static_cast<std::size_t>(s * stride), static_cast<std::size_t>(T));
    const gpt2::ForwardResult r = model.forward(window, fo);
    for (const gpt2::CapturedMap& map : r.maps) {
      // α of a key k: mean over the queries that see it (all T rows see the slot and token 0).
      auto alpha = [&](Index key) {
        double sum = 0;
        for (Index i = 0; i < T; ++i) {
          const double a = map.weights(i, key);
          if (!std::isnan(a)) sum += a;
        }
        return sum / static_cast<double>(T);
      };
      const double first = alpha(slot);
      m.head_mass(map.layer, map.head) += first / static_cast<double>(S);
      if (first > o.eps) sink_count += 1;
      if (slot) {
        const double a = alpha(0);
        slot_mass(map.layer, map.head) += a / static_cast<double>(S);
        if (a > o.eps) slot_count += 1;
      }
    }
  }
  const double pairs = static_cast<double>(L * H * S);
  m.sink1 = sink_count / pairs;
  m.slot_sink = slot_count / pairs;
  for (Index l = 0; l < L; ++l) {
    m.layer_mass.push_back(m.head_mass.row(l).mean());
    if (slot) m.slot_layer_mass.push_back(slot_mass.row(l).mean());
  }
  return m;
}

}  // namespace attnlab::models::tinylm
