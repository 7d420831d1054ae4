#include "attnlab/models/tinylm/train_options.hpp"

#include <cmath>

#include "attnlab/core/error.hpp"
#include "attnlab/io/json_strict.hpp"

namespace attnlab::models::tinylm {

void TrainOptions::validate() const {
  auto need = [](bool ok, const char* field, auto value, const char* rule) {
    if (!ok) throw UsageError(str_cat("train: --", field, " = ", value, " (", rule, ")"));
  };
  need(layers >= 1 && layers <= 64, "layers", layers, "need 1..64");
  need(heads >= 1 && heads <= 64, "heads", heads, "need 1..64");
  need(width >= heads && width <= 4096 && width % heads == 0, "width", width,
       "need a multiple of --heads, at most 4096");
  need(context >= 2 && context <= 8192, "context", context, "need 2..8192");
  need(mlp_ratio >= 1 && mlp_ratio <= 16, "mlp-ratio", mlp_ratio, "need 1..16");
  need(batch >= 1 && batch <= 4096, "batch", batch, "need 1..4096");
  need(steps >= 1 && steps <= (std::int64_t{1} << 31), "steps", steps, "need 1..2^31");
  need(std::isfinite(lr) && lr > 0 && lr < 1, "lr", lr, "need 0 < lr < 1");
  need(std::isfinite(min_lr) && min_lr >= 0 && min_lr <= lr, "min-lr", min_lr,
       "need 0 <= min-lr <= lr");
  need(warmup >= -1 && warmup <= steps, "warmup", warmup, "need 0..steps (-1 = auto)");
  need(std::isfinite(weight_decay) && weight_decay >= 0 && weight_decay <= 10, "weight-decay",
       weight_decay, "need 0..10");
  need(beta1 >= 0 && beta1 < 1, "beta1", beta1, "need [0, 1)");
  need(beta2 >= 0 && beta2 < 1, "beta2", beta2, "need [0, 1)");
  need(eps > 0 && eps < 1, "adam-eps", eps, "need (0, 1)");
  need(std::isfinite(clip) && clip >= 0, "clip", clip, "need >= 0 (0 = off)");
  need(eval_every >= 1, "eval-every", eval_every, "need >= 1");
  need(eval_windows >= 1 && eval_windows <= 100000, "eval-windows", eval_windows, "need 1..1e5");
  need(sink_seq >= 2 && sink_seq <= context, "sink-seq", sink_seq, "need 2..context");
  need(sink_sequences >= 1 && sink_sequences <= 10000, "sink-sequences", sink_sequences,
       "need 1..10000");
  need(sink_eps > 0 && sink_eps < 1, "sink-eps", sink_eps, "need (0, 1)");
  model_config(256).validate("train");
}

gpt2::Gpt2Config TrainOptions::model_config(Index vocab_size) const {
  gpt2::Gpt2Config c;
  c.n_layer = layers;
  c.n_head = heads;
  c.n_embd = width;
  c.n_positions = context;
  c.n_inner = mlp_ratio * width;
  c.vocab_size = vocab_size;
  c.position_mode = positions;
  c.attention = attention;
  c.bos_token_id = c.eos_token_id = 0;
  return c;
}

nlohmann::json TrainOptions::identity_json() const {
  return {{"layers", layers},
          {"width", width},
          {"heads", heads},
          {"context", context},
          {"mlp_ratio", mlp_ratio},
          {"positions", std::string(gpt2::to_string(positions))},
          {"attention", attention.to_json()},
          {"batch", batch},
          {"steps", steps},
          {"lr", lr},
          {"min_lr", min_lr},
          {"warmup", warmup_steps()},
          {"weight_decay", weight_decay},
          {"beta1", beta1},
          {"beta2", beta2},
          {"eps", eps},
          {"clip", clip},
          {"seed", seed}};
}

nlohmann::json TrainOptions::to_json() const {
  nlohmann::json j = identity_json();
  j["eval_every"] = eval_every;
  j["eval_windows"] = eval_windows;
  j["sink_seq"] = sink_seq;
  j["sink_sequences"] = sink_sequences;
  j["sink_eps"] = sink_eps;
  return j;
}

TrainOptions TrainOptions::from_json(const nlohmann::json& j, std::string_view source) {
  TrainOptions o;
  if (!j.is_object()) throw FormatError(str_cat(source, ": train options must be an object"));
  // Integer fields must be JSON integers (2.5 layers is an error, not 2).
  auto what = [&](const char* key) { return str_cat(source, ": train options: '", key, "'"); };
  auto int_at = [&](const char* key) { return io::json_int64(j.at(key), what(key)); };
  auto int_or = [&](const char* key, std::int64_t fallback) {
    return io::json_int64_or(j, key, fallback, what(key));
  };
  try {
    o.layers = int_at("layers");
    o.width = int_at("width");
    o.heads = int_at("heads");
    o.context = int_at("context");
    o.mlp_ratio = int_at("mlp_ratio");
    o.positions = gpt2::parse_position_mode(j.at("positions").get<std::string>());
    o.attention = gpt2::ModelAttention::from_json(j.at("attention"), source);
    o.batch = int_at("batch");
    o.steps = int_at("steps");
    o.lr = j.at("lr").get<double>();
    o.min_lr = j.at("min_lr").get<double>();
    o.warmup = int_at("warmup");
    o.weight_decay = j.at("weight_decay").get<double>();
    o.beta1 = j.at("beta1").get<double>();
    o.beta2 = j.at("beta2").get<double>();
    o.eps = j.at("eps").get<double>();
    o.clip = j.at("clip").get<double>();
    o.seed = io::json_uint64(j.at("seed"), str_cat(source, ": train options: 'seed'"));
    o.eval_every = int_or("eval_every", o.eval_every);
    o.eval_windows = int_or("eval_windows", o.eval_windows);
    o.sink_seq = int_or("sink_seq", o.sink_seq);
    o.sink_sequences = int_or("sink_sequences", o.sink_sequences);
    o.sink_eps = j.value("sink_eps", o.sink_eps);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(str_cat(source, ": train options: ", e.what()));
  } catch (const UsageError& e) {
    throw FormatError(str_cat(source, ": train options: ", e.what()));
  }
  try {
    o.validate();
  } catch (const UsageError& e) {
    throw FormatError(str_cat(source, ": ", e.what()));
  }
  return o;
}

}  // namespace attnlab::models::tinylm
