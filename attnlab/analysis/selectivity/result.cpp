#include "attnlab/analysis/selectivity/result.hpp"

#include <cmath>
#include <sstream>

#include "attnlab/core/error.hpp"

namespace attnlab::analysis::selectivity {
namespace {

using nlohmann::json;

json num(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}
double get_num(const json& j) {
  return j.is_null() ? kNaN : j.get<double>();
}
json vec(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(num(x));
  return a;
}
std::vector<double> get_vec(const json& j) {
  if (!j.is_array()) throw FormatError("selectivity result JSON: expected an array of numbers");
  std::vector<double> v;
  v.reserve(j.size());
  for (const auto& x : j) v.push_back(get_num(x));
  return v;
}
json index_or_null(Index v) {
  return v >= 0 ? json(v) : json(nullptr);
}
Index get_index_or(const json& j, Index fallback) {
  return j.is_null() ? fallback : j.get<Index>();
}

json agg_json(const Aggregate& a) {
  return {{"mean", num(a.mean)}, {"max_head", num(a.max_head)}, {"max_row", num(a.max_row)}};
}
Aggregate get_agg(const json& j) {
  return {get_num(j.at("mean")), get_num(j.at("max_head")), get_num(j.at("max_row"))};
}

json ks_json(const KsPoint& k) {
  return {{"N", k.count}, {"D", num(k.statistic)}, {"p", num(k.p_value)}, {"n", k.n}, {"m", k.m}};
}
KsPoint get_ks(const json& j) {
  return {j.at("N").get<Index>(), get_num(j.at("D")), get_num(j.at("p")), j.at("n").get<Index>(),
          j.at("m").get<Index>()};
}

json distance_json(const DistancePoint& p) {
  return {{"L", p.length},
          {"N", p.count},
          {"rows", p.rows},
          {"top_sum", vec(p.top_sum)},
          {"random_sum", vec(p.random_sum)},
          {"top_norm", vec(p.top_norm)},
          {"random_norm", vec(p.random_norm)},
          {"mass", vec(p.mass)},
          {"max_weight", vec(p.max_weight)},
          {"separable", vec(p.separable)},
          {"ks_D", num(p.ks_statistic)},
          {"ks_p", num(p.ks_p_value)}};
}
DistancePoint get_distance(const json& j) {
  DistancePoint p;
  p.length = j.at("L").get<Index>();
  p.count = j.at("N").get<Index>();
  p.rows = j.at("rows").get<Index>();
  p.top_sum = get_vec(j.at("top_sum"));
  p.random_sum = get_vec(j.at("random_sum"));
  p.top_norm = get_vec(j.at("top_norm"));
  p.random_norm = get_vec(j.at("random_norm"));
  p.mass = get_vec(j.at("mass"));
  p.max_weight = get_vec(j.at("max_weight"));
  p.separable = get_vec(j.at("separable"));
  p.ks_statistic = get_num(j.at("ks_D"));
  p.ks_p_value = get_num(j.at("ks_p"));
  return p;
}

json summary_json(const NormalizerSummary& s) {
  return {{"critical_ratio", num(s.critical_ratio)},
          {"critical_found", s.critical_found},
          {"critical_tested", s.critical_tested},
          {"ns_plateau", num(s.ns_plateau)},
          {"ns_minimum", num(s.ns_minimum)},
          {"ns_minimum_count", s.ns_minimum_count},
          {"distance_slope", num(s.distance_slope)},
          {"random_slope", num(s.random_slope)},
          {"max_weight_slope", num(s.max_weight_slope)},
          {"spectral_slope_small_t", num(s.spectral_slope_small_t)},
          {"spectral_slope_large_t", num(s.spectral_slope_large_t)},
          {"tied_slope_small_t", num(s.tied_slope_small_t)},
          {"fd_slope_small_t", num(s.fd_slope_small_t)},
          {"tied_spectral_times_t", num(s.tied_spectral_times_t)},
          {"band_inside_share", num(s.band_inside_share)}};
}
NormalizerSummary get_summary(const json& j) {
  NormalizerSummary s;
  s.critical_ratio = get_num(j.at("critical_ratio"));
  s.critical_found = j.at("critical_found").get<Index>();
  s.critical_tested = j.at("critical_tested").get<Index>();
  s.ns_plateau = get_num(j.at("ns_plateau"));
  s.ns_minimum = get_num(j.at("ns_minimum"));
  s.ns_minimum_count = j.at("ns_minimum_count").get<Index>();
  s.distance_slope = get_num(j.at("distance_slope"));
  s.random_slope = get_num(j.at("random_slope"));
  s.max_weight_slope = get_num(j.at("max_weight_slope"));
  s.spectral_slope_small_t = get_num(j.at("spectral_slope_small_t"));
  s.spectral_slope_large_t = get_num(j.at("spectral_slope_large_t"));
  s.tied_slope_small_t = get_num(j.at("tied_slope_small_t"));
  s.fd_slope_small_t = get_num(j.at("fd_slope_small_t"));
  s.tied_spectral_times_t = get_num(j.at("tied_spectral_times_t"));
  s.band_inside_share = get_num(j.at("band_inside_share"));
  return s;
}

json normalizer_json(const NormalizerResult& r) {
  json j;
  j["name"] = r.name;
  j["summary"] = summary_json(r.summary);
  j["length_sweep"] = json::array();
  for (const auto& p : r.length_sweep) j["length_sweep"].push_back(distance_json(p));
  j["count_sweep"] = json::array();
  for (const auto& p : r.count_sweep) j["count_sweep"].push_back(distance_json(p));
  j["critical"] = json::array();
  for (const auto& c : r.critical) {
    json scan = json::array(), refine = json::array();
    for (const auto& k : c.scan) scan.push_back(ks_json(k));
    for (const auto& k : c.refine) refine.push_back(ks_json(k));
    j["critical"].push_back({{"L", c.length},
                             {"critical_N", index_or_null(c.critical)},
                             {"bracket", {c.bracket_low, c.bracket_high}},
                             {"scan", scan},
                             {"refine", refine}});
  }
  j["separability"] = json::array();
  for (const auto& s : r.separability) {
    j["separability"].push_back(
        {{"N", s.count}, {"ratio", vec(s.ratio)}, {"radius", vec(s.radius)}});
  }
  j["sensitivity"] = json::array();
  for (const auto& s : r.sensitivity) {
    json fd = json::array();
    for (const auto& f : s.fd) {
      fd.push_back({{"eps", f.eps},
                    {"random", agg_json(f.random)},
                    {"top", agg_json(f.top)},
                    {"entry", agg_json(f.entry)},
                    {"tied_top", agg_json(f.tied_top)}});
    }
    j["sensitivity"].push_back({{"T", s.temperature},
                                {"scale", s.scale},
                                {"bound_spectral", s.bound_spectral},
                                {"bound_entry", s.bound_entry},
                                {"rows", s.rows},
                                {"spectral", agg_json(s.spectral)},
                                {"entry", agg_json(s.entry)},
                                {"tied_spectral", agg_json(s.tied_spectral)},
                                {"tied_entry", agg_json(s.tied_entry)},
                                {"fd", fd}});
  }
  j["band"] = json::array();
  for (const auto& b : r.band) {
    j["band"].push_back({{"L", b.length},
                         {"rows", b.rows},
                         {"inside_share", num(b.inside_share)},
                         {"upper_use_mean", num(b.upper_use_mean)},
                         {"upper_use_max", num(b.upper_use_max)},
                         {"lower_use_mean", num(b.lower_use_mean)},
                         {"zero_share", num(b.zero_share)},
                         {"exponent_mean", num(b.exponent_mean)},
                         {"max_weight_times_length", num(b.max_weight_times_length)}});
  }
  return j;
}

NormalizerResult get_normalizer(const json& j) {
  NormalizerResult r;
  r.name = j.at("name").get<std::string>();
  r.summary = get_summary(j.at("summary"));
  for (const auto& p : j.at("length_sweep")) r.length_sweep.push_back(get_distance(p));
  for (const auto& p : j.at("count_sweep")) r.count_sweep.push_back(get_distance(p));
  for (const auto& c : j.at("critical")) {
    CriticalPoint cp;
    cp.length = c.at("L").get<Index>();
    cp.critical = get_index_or(c.at("critical_N"), -1);
    cp.bracket_low = c.at("bracket").at(0).get<Index>();
    cp.bracket_high = c.at("bracket").at(1).get<Index>();
    for (const auto& k : c.at("scan")) cp.scan.push_back(get_ks(k));
    for (const auto& k : c.at("refine")) cp.refine.push_back(get_ks(k));
    r.critical.push_back(std::move(cp));
  }
  for (const auto& s : j.at("separability")) {
    r.separability.push_back(
        {s.at("N").get<Index>(), get_vec(s.at("ratio")), get_vec(s.at("radius"))});
  }
  for (const auto& s : j.at("sensitivity")) {
    SensitivityPoint p;
    p.temperature = s.at("T").get<double>();
    p.scale = s.at("scale").get<double>();
    p.bound_spectral = s.at("bound_spectral").get<double>();
    p.bound_entry = s.at("bound_entry").get<double>();
    p.rows = s.at("rows").get<Index>();
    p.spectral = get_agg(s.at("spectral"));
    p.entry = get_agg(s.at("entry"));
    p.tied_spectral = get_agg(s.at("tied_spectral"));
    p.tied_entry = get_agg(s.at("tied_entry"));
    for (const auto& f : s.at("fd")) {
      p.fd.push_back({f.at("eps").get<double>(), get_agg(f.at("random")), get_agg(f.at("top")),
                      get_agg(f.at("entry")), get_agg(f.at("tied_top"))});
    }
    r.sensitivity.push_back(std::move(p));
  }
  for (const auto& b : j.at("band")) {
    BandPoint p;
    p.length = b.at("L").get<Index>();
    p.rows = b.at("rows").get<Index>();
    p.inside_share = get_num(b.at("inside_share"));
    p.upper_use_mean = get_num(b.at("upper_use_mean"));
    p.upper_use_max = get_num(b.at("upper_use_max"));
    p.lower_use_mean = get_num(b.at("lower_use_mean"));
    p.zero_share = get_num(b.at("zero_share"));
    p.exponent_mean = get_num(b.at("exponent_mean"));
    p.max_weight_times_length = get_num(b.at("max_weight_times_length"));
    r.band.push_back(p);
  }
  return r;
}

std::vector<Index> get_indices(const json& j) {
  return j.get<std::vector<Index>>();
}

}  // namespace

std::string_view to_string(KsUnit unit) {
  return unit == KsUnit::head ? "head" : "query";
}

KsUnit parse_ks_unit(std::string_view name) {
  if (name == "head") return KsUnit::head;
  if (name == "query") return KsUnit::query;
  throw UsageError(str_cat("selectivity: KS unit must be 'head' or 'query', got '", name, "'"));
}

std::vector<double> SelectivityOptions::default_temperatures() {
  std::vector<double> t;
  for (int i = 0; i <= 12; ++i) t.push_back(std::pow(10.0, -3.0 + i / 3.0));
  return t;
}

SelectivityOptions SelectivityOptions::quick() {
  SelectivityOptions o;
  o.lengths = {32, 64, 128, 256};
  o.counts = {1, 5, 10, 20, 50, 100};
  o.separability_counts = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128};
  o.draws = 100;
  o.ks_draws = 8;
  o.max_queries = 8;
  o.sensitivity_queries = 2;
  for (int i = 0; i <= 8; ++i) o.temperatures.push_back(std::pow(10.0, -3.0 + i / 2.0));
  return o;
}

nlohmann::json SelectivityOptions::to_json() const {
  json names = json::array();
  for (auto n : normalizers) names.push_back(std::string(attention::to_string(n)));
  return {{"normalizers", names},
          {"temperature", temperature},
          {"ssmax_s", ssmax_s},
          {"form", std::string(selectivity::to_string(form))},
          {"lengths", lengths},
          {"length_sweep_count", length_sweep_count},
          {"counts", counts},
          {"reference_length", reference_length},
          {"separability_counts", separability_counts},
          {"critical_lengths", critical_lengths},
          {"critical_grid", critical_grid},
          {"critical_refine", critical_refine},
          {"ks_level", ks_level},
          {"ks_unit", std::string(selectivity::to_string(ks_unit))},
          {"draws", draws},
          {"ks_draws", ks_draws},
          {"max_queries", max_queries},
          {"sensitivity_queries", sensitivity_queries},
          {"temperatures", temperatures},
          {"fd_eps", fd_eps},
          {"sweeps",
           {{"length", sweep_length},
            {"count", sweep_count},
            {"critical", sweep_critical},
            {"separability", sweep_separability},
            {"sensitivity", sweep_sensitivity}}},
          {"seed", seed}};
}

SelectivityOptions SelectivityOptions::from_json(const nlohmann::json& j) {
  SelectivityOptions o;
  o.normalizers.clear();
  for (const auto& n : j.at("normalizers")) {
    o.normalizers.push_back(attention::parse_normalizer(n.get<std::string>()));
  }
  o.temperature = j.at("temperature").get<double>();
  o.ssmax_s = j.at("ssmax_s").get<double>();
  o.form = parse_distance_form(j.at("form").get<std::string>());
  o.lengths = get_indices(j.at("lengths"));
  o.length_sweep_count = j.at("length_sweep_count").get<Index>();
  o.counts = get_indices(j.at("counts"));
  o.reference_length = j.at("reference_length").get<Index>();
  o.separability_counts = get_indices(j.at("separability_counts"));
  o.critical_lengths = get_indices(j.at("critical_lengths"));
  o.critical_grid = get_indices(j.at("critical_grid"));
  o.critical_refine = j.at("critical_refine").get<bool>();
  o.ks_level = j.at("ks_level").get<double>();
  o.ks_unit = parse_ks_unit(j.at("ks_unit").get<std::string>());
  o.draws = j.at("draws").get<Index>();
  o.ks_draws = j.at("ks_draws").get<Index>();
  o.max_queries = j.at("max_queries").get<Index>();
  o.sensitivity_queries = j.at("sensitivity_queries").get<Index>();
  o.temperatures = j.at("temperatures").get<std::vector<double>>();
  o.fd_eps = j.at("fd_eps").get<std::vector<double>>();
  const auto& s = j.at("sweeps");
  o.sweep_length = s.at("length").get<bool>();
  o.sweep_count = s.at("count").get<bool>();
  o.sweep_critical = s.at("critical").get<bool>();
  o.sweep_separability = s.at("separability").get<bool>();
  o.sweep_sensitivity = s.at("sensitivity").get<bool>();
  o.seed = j.at("seed").get<std::uint64_t>();
  return o;
}

const NormalizerResult* SelectivityResult::find(const std::string& name) const {
  for (const auto& n : normalizers)
    if (n.name == name) return &n;
  return nullptr;
}

nlohmann::json to_json(const SelectivityResult& r) {
  json j;
  j["schema"] = "attnlab.selectivity";
  j["version"] = kSelectivitySchemaVersion;
  j["options"] = r.options.to_json();
  j["source"] = r.source;
  j["temperature"] = r.temperature;
  j["reference_length"] = r.reference_length;
  j["normalizers"] = json::array();
  for (const auto& n : r.normalizers) j["normalizers"].push_back(normalizer_json(n));
  j["spread_sweep"] = json::array();
  for (const auto& s : r.spread_sweep) {
    json crit = json::array();
    for (Index c : s.critical) crit.push_back(index_or_null(c));
    j["spread_sweep"].push_back({{"spread", s.spread},
                                 {"L", s.length},
                                 {"normalizers", s.normalizers},
                                 {"critical_N", crit}});
  }
  j["timings_s"] = r.timings;
  j["seconds"] = r.seconds;
  return j;
}

SelectivityResult selectivity_from_json(const nlohmann::json& j) {
  try {
    if (j.at("schema").get<std::string>() != "attnlab.selectivity") {
      throw FormatError("selectivity result JSON: schema is not 'attnlab.selectivity'");
    }
    if (j.at("version").get<int>() != kSelectivitySchemaVersion) {
      throw FormatError(str_cat("selectivity result JSON: version ", j.at("version").dump(),
                                ", this build reads ", kSelectivitySchemaVersion));
    }
    SelectivityResult r;
    r.options = SelectivityOptions::from_json(j.at("options"));
    r.source = j.at("source");
    r.temperature = j.at("temperature").get<double>();
    r.reference_length = j.at("reference_length").get<Index>();
    for (const auto& n : j.at("normalizers")) r.normalizers.push_back(get_normalizer(n));
    for (const auto& s : j.at("spread_sweep")) {
      SpreadPoint p;
      p.spread = s.at("spread").get<double>();
      p.length = s.at("L").get<Index>();
      p.normalizers = s.at("normalizers").get<std::vector<std::string>>();
      for (const auto& c : s.at("critical_N")) p.critical.push_back(get_index_or(c, -1));
      r.spread_sweep.push_back(std::move(p));
    }
    r.timings = j.at("timings_s").get<std::map<std::string, double>>();
    r.seconds = j.at("seconds").get<double>();
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(str_cat("selectivity result JSON: ", e.what()));
  } catch (const UsageError& e) {
    throw FormatError(str_cat("selectivity result JSON: ", e.what()));
  }
}

namespace {

std::string csv_num(double v) {
  if (!std::isfinite(v)) return "";
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

}  // namespace

std::vector<std::pair<std::string, std::string>> to_csv_tables(const SelectivityResult& r) {
  std::ostringstream len, cnt, crit, sep, sens, band;
  const char* dist_header =
      "normalizer,L,N,head,top_sum,random_sum,top_norm,random_norm,mass,max_weight,separable\n";
  len << dist_header;
  cnt << dist_header;
  crit << "normalizer,L,N,phase,D,p,n,m,critical_N\n";
  sep << "normalizer,N,head,ratio,radius\n";
  sens << "normalizer,T,metric,eps,mean,max_head,max_row,bound\n";
  band << "normalizer,L,rows,inside_share,upper_use_mean,upper_use_max,lower_use_mean,zero_share,"
          "exponent_mean,max_weight_times_length\n";
  auto dist_rows = [](std::ostringstream& os, const std::string& name,
                      const std::vector<DistancePoint>& pts) {
    for (const auto& p : pts) {
      for (std::size_t h = 0; h < p.top_sum.size(); ++h) {
        os << name << ',' << p.length << ',' << p.count << ',' << h << ',' << csv_num(p.top_sum[h])
           << ',' << csv_num(p.random_sum[h]) << ',' << csv_num(p.top_norm[h]) << ','
           << csv_num(p.random_norm[h]) << ',' << csv_num(p.mass[h]) << ','
           << csv_num(p.max_weight[h]) << ',' << csv_num(p.separable[h]) << '\n';
      }
    }
  };
  auto agg_row = [&](const std::string& name, double T, const char* metric, double eps,
                     const Aggregate& a, double bound) {
    sens << name << ',' << csv_num(T) << ',' << metric << ',' << csv_num(eps) << ','
         << csv_num(a.mean) << ',' << csv_num(a.max_head) << ',' << csv_num(a.max_row) << ','
         << csv_num(bound) << '\n';
  };
  for (const auto& n : r.normalizers) {
    dist_rows(len, n.name, n.length_sweep);
    dist_rows(cnt, n.name, n.count_sweep);
    for (const auto& c : n.critical) {
      const std::string cn = c.critical >= 0 ? std::to_string(c.critical) : "";
      for (const auto& k : c.scan) {
        crit << n.name << ',' << c.length << ',' << k.count << ",scan," << csv_num(k.statistic)
             << ',' << csv_num(k.p_value) << ',' << k.n << ',' << k.m << ',' << cn << '\n';
      }
      for (const auto& k : c.refine) {
        crit << n.name << ',' << c.length << ',' << k.count << ",refine," << csv_num(k.statistic)
             << ',' << csv_num(k.p_value) << ',' << k.n << ',' << k.m << ',' << cn << '\n';
      }
    }
    for (const auto& s : n.separability) {
      for (std::size_t h = 0; h < s.ratio.size(); ++h) {
        sep << n.name << ',' << s.count << ',' << h << ',' << csv_num(s.ratio[h]) << ','
            << csv_num(s.radius[h]) << '\n';
      }
    }
    for (const auto& p : n.sensitivity) {
      agg_row(n.name, p.temperature, "spectral", kNaN, p.spectral, p.bound_spectral);
      agg_row(n.name, p.temperature, "entry", kNaN, p.entry, p.bound_entry);
      agg_row(n.name, p.temperature, "tied_spectral", kNaN, p.tied_spectral, p.bound_spectral);
      agg_row(n.name, p.temperature, "tied_entry", kNaN, p.tied_entry, p.bound_entry);
      for (const auto& f : p.fd) {
        agg_row(n.name, p.temperature, "fd_random", f.eps, f.random, p.bound_spectral);
        agg_row(n.name, p.temperature, "fd_top", f.eps, f.top, p.bound_spectral);
        agg_row(n.name, p.temperature, "fd_entry", f.eps, f.entry, p.bound_entry);
        agg_row(n.name, p.temperature, "fd_tied_top", f.eps, f.tied_top, p.bound_spectral);
      }
    }
    for (const auto& b : n.band) {
      band << n.name << ',' << b.length << ',' << b.rows << ',' << csv_num(b.inside_share) << ','
           << csv_num(b.upper_use_mean) << ',' << csv_num(b.upper_use_max) << ','
           << csv_num(b.lower_use_mean) << ',' << csv_num(b.zero_share) << ','
           << csv_num(b.exponent_mean) << ',' << csv_num(b.max_weight_times_length) << '\n';
    }
  }
  return {{"length_sweep.csv", len.str()}, {"count_sweep.csv", cnt.str()},
          {"critical.csv", crit.str()},    {"separability.csv", sep.str()},
          {"sensitivity.csv", sens.str()}, {"band.csv", band.str()}};
}

}  // namespace attnlab::analysis::selectivity
