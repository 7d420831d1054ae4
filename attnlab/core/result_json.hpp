// attnlab/core/result_json.hpp — the JSON envelope around every result attnlab writes.
//
// Every `--json` output and every report data file has the same outer shape, so a result can
// always be traced to the code, command, seed and machine that produced it:
//
//   { "schema": "attnlab.result", "schema_version": 1, "kind": "<command or study>",
//     "attnlab_version": "0.1.0", "git_revision": "1a2b3c4d5e6f[-dirty]",
//     "command_line": ["attnlab", "attend", ...], "seed": 0, "threads": 2,
//     "host": {"cpu": "...", "hardware_threads": 2}, "created_utc": "2026-11-23T10:44:00Z",
//     "timings_s": {"forward": 0.01, ...}, "peak_rss_mib": 112.4,
//     "result": { ...study-specific... } }
// peak_rss_mib: the process's peak resident memory (VmHWM) when the envelope was made.
//
// Non-finite doubles are written as null (JSON has no NaN); readers treat null as "not defined".
//
// Usage:
//   RunInfo info{"attend", argv_vector, seed, num_threads()};
//   nlohmann::json env = make_result_envelope(info, timings, result_json);
//   write_file_atomic(path, dump_json(env));
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnlab/core/timer.hpp"

namespace attnlab {

inline constexpr int kResultSchemaVersion = 1;

struct RunInfo {
  std::string kind;                       // command or study name
  std::vector<std::string> command_line;  // argv as given
  std::uint64_t seed = 0;
  int threads = 1;
};

nlohmann::json make_result_envelope(const RunInfo& info, const Timings& timings,
                                    nlohmann::json result);

// Checks the outer shape of an envelope read back from disk (schema, version, kind);
// FormatError naming `source` otherwise. Returns the "result" member.
const nlohmann::json& check_result_envelope(const nlohmann::json& env, const std::string& kind,
                                            const std::string& source);

// Pretty JSON text with a trailing newline.
std::string dump_json(const nlohmann::json& j);

std::string attnlab_version();
std::string git_revision();
std::string cpu_model();
std::string utc_timestamp();

}  // namespace attnlab
