// attnlab bench — speed measurements against named peers, measured in the same run.
//
//   attnlab bench attention [--lengths 512,1024,...] [--dims 64,128] [--heads 8]
//                           [--causal both|yes|no] [--pass fwd|fwd+bwd|both] [--repeats 3]
//                           [--no-peer] [--sdpa-python .venv/bin/python]
//                           [--composite-python /usr/bin/python3] [--probe-length 65536]
#include <cstdio>

#include "apps/attnlab/command.hpp"
#include "attnlab/analysis/speed/attention_speed.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"

namespace attnlab::cli {
namespace {

void register_bench(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Speed benchmarks against named peers (same run)");
  bench->require_subcommand(1);

  struct Options {
    CommonOptions common;
    std::vector<Index> lengths = {512, 1024, 2048, 4096, 8192, 16384};
    std::vector<Index> dims = {64, 128};
    Index heads = 8;
    std::string causal = "both";
    std::string pass = "both";
    int repeats = 3;
    bool no_peer = false;
    std::string sdpa_python = analysis::default_attention_peers()[0].python;
    std::string composite_python = analysis::default_attention_peers()[1].python;
    Index probe_length = 65536;
    double peer_memory_gb = 8.0;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = bench->add_subcommand(
      "attention",
      "Fused attention GFLOP/s and peak memory vs N, against PyTorch 2 flash SDPA (.venv)\n"
      "and the PyTorch composite softmax(QK^T/sqrt(d))V (python3-torch), with the FMA peak\n"
      "and OpenBLAS sgemm as ceilings, in one run.\n"
      "FLOPs: forward 4*H*N^2*d (half when causal); forward+backward 3.5x forward.");
  cmd->add_option("--lengths", opts->lengths, "Sequence lengths N (= M)")->delimiter(',');
  cmd->add_option("--dims", opts->dims, "Head dims d")->delimiter(',');
  cmd->add_option("--heads", opts->heads, "Heads H")->check(positive_number());
  cmd->add_option("--causal", opts->causal, "both | yes | no")
      ->check(CLI::IsMember({"both", "yes", "no"}));
  cmd->add_option("--pass", opts->pass, "fwd | fwd+bwd | both")
      ->check(CLI::IsMember({"fwd", "fwd+bwd", "both"}));
  cmd->add_option("--repeats", opts->repeats, "Timed runs per case (median; one warm-up more)")
      ->check(positive_number());
  cmd->add_flag("--no-peer", opts->no_peer, "Skip the PyTorch peers");
  cmd->add_option("--sdpa-python", opts->sdpa_python,
                  "Python with torch >= 2.3 for the flash SDPA peer (\"\" = skip it)");
  cmd->add_option("--composite-python", opts->composite_python,
                  "Python with torch for the composite peer (\"\" = skip it)");
  cmd->add_option("--peer-memory-gb", opts->peer_memory_gb,
                  "Skip peer cases whose N x N temporaries exceed this")
      ->check(positive_number());
  cmd->add_option("--probe-length", opts->probe_length,
                  "Long-context memory probe length (H=1, d=64; 0 = skip)")
      ->check(non_negative_number());
  add_common_options(cmd, opts->common);
  cmd->callback([opts] {
    RunInfo info = begin_run("bench-attention", opts->common);
    analysis::SpeedOptions o;
    o.lengths = opts->lengths;
    o.dims = opts->dims;
    o.heads = opts->heads;
    o.causal = opts->causal == "both"  ? std::vector<bool>{false, true}
               : opts->causal == "yes" ? std::vector<bool>{true}
                                       : std::vector<bool>{false};
    o.forward = opts->pass != "fwd+bwd";
    o.backward = opts->pass != "fwd";
    o.repeats = opts->repeats;
    o.run_peer = !opts->no_peer;
    o.peers.clear();
    if (!opts->sdpa_python.empty()) o.peers.push_back({"sdpa_flash", opts->sdpa_python});
    if (!opts->composite_python.empty()) o.peers.push_back({"composite", opts->composite_python});
    o.peer_memory_limit_gb = opts->peer_memory_gb;
    o.memory_probe_length = opts->probe_length;
    o.seed = opts->common.seed;
    Timings timings;
    analysis::SpeedResult r;
    {
      auto t = timings.scope("bench");
      r = analysis::run_attention_speed(o);
    }
    analysis::print_speed_table(r, stdout);
    if (!opts->common.json_path.empty()) {
      write_file_atomic(opts->common.json_path,
                        dump_json(make_result_envelope(info, timings, analysis::to_json(r))));
    }
  });
}

}  // namespace

static const CommandRegistrar registrar(95, register_bench);

}  // namespace attnlab::cli
