#include "attnlab/core/result_json.hpp"

#include "attnlab/core/memory.hpp"

#include <ctime>
#include <fstream>

#include "attnlab/core/blas_core.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/threads.hpp"

namespace attnlab {

std::string attnlab_version() {
  return "0.1.0";
}

std::string git_revision() {
  static const char* const kRevision =
#include "git_revision.inc"
      ;
  return kRevision;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto s = line.substr(colon + 1);
        const auto first = s.find_first_not_of(" \t");
        return first == std::string::npos ? std::string() : s.substr(first);
      }
    }
  }
  return "unknown";
}

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json make_result_envelope(const RunInfo& info, const Timings& timings,
                                    nlohmann::json result) {
  nlohmann::json env;
  env["schema"] = "attnlab.result";
  env["schema_version"] = kResultSchemaVersion;
  env["kind"] = info.kind;
  env["attnlab_version"] = attnlab_version();
  env["git_revision"] = git_revision();
  env["command_line"] = info.command_line;
  env["seed"] = info.seed;
  env["threads"] = info.threads;
  const BlasCoreChoice blas = current_blas_core();
  env["host"] = {{"cpu", cpu_model()},
                 {"hardware_threads", hardware_threads()},
                 {"blas", {{"core", blas.detected}, {"best", blas.best}, {"reason", blas.reason}}}};
  env["created_utc"] = utc_timestamp();
  nlohmann::json t = nlohmann::json::object();
  for (const auto& [name, seconds] : timings.totals()) t[name] = seconds;
  env["timings_s"] = t;
  // Peak resident memory of the process so far (VmHWM; the outputs are encoded by then).
  env["peak_rss_mib"] = static_cast<double>(peak_rss_bytes()) / (1 << 20);
  env["result"] = std::move(result);
  return env;
}

const nlohmann::json& check_result_envelope(const nlohmann::json& env, const std::string& kind,
                                            const std::string& source) {
  if (!env.is_object() || env.value("schema", "") != "attnlab.result") {
    throw FormatError(str_cat("'", source, "': not an attnlab result (missing schema field)"));
  }
  if (!env.contains("schema_version") || !env["schema_version"].is_number_integer() ||
      env["schema_version"].get<int>() != kResultSchemaVersion) {
    throw FormatError(str_cat("'", source, "': unsupported schema_version (expected ",
                              kResultSchemaVersion, ")"));
  }
  if (env.value("kind", "") != kind) {
    throw FormatError(str_cat("'", source, "': result kind is '", env.value("kind", ""),
                              "', expected '", kind, "'"));
  }
  if (!env.contains("result")) throw FormatError(str_cat("'", source, "': no 'result' member"));
  return env["result"];
}

std::string dump_json(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace attnlab
