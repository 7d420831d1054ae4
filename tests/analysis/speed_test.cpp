// Tests of analysis/speed: the FMA-peak microbenchmark, shares of a ceiling (never above 100 %),
// and the attention speed study with two peers (one fake peer that prints recorded JSON lines,
// one missing), its table and its JSON round trip.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "attnlab/analysis/speed/attention_speed.hpp"
#include "attnlab/analysis/speed/fma_peak.hpp"
#include "attnlab/core/error.hpp"

namespace attnlab::analysis {
namespace {

TEST(FmaPeak, ChainsStayFiniteNearTheirFixedPoint) {
  // x <- x*a + b converges to b / (1 - a) = 1e-6 / (8 * 2^-23) ≈ 1.049 from 1 + 0.02c; after
  // 10^6 steps every lane is there (|a|^10^6 ≈ e^-0.95 of the gap is left: check a loose band).
  const double sum = fma_chains_checksum(1000000);
  const int chains = measure_fma_peak(1, 1, 0.001).chains;
  const double start_mean = 1.0 + 0.02 * (chains - 1) / 2.0;  // chain c starts at 1 + 0.02c
  const double lanes_times_chains = fma_chains_checksum(0) / start_mean;
  ASSERT_TRUE(std::isfinite(sum));
  EXPECT_GT(sum, 0.9 * lanes_times_chains);
  EXPECT_LT(sum, 1.2 * lanes_times_chains);
  // Different iteration counts give different sums: the work is not folded away.
  EXPECT_NE(fma_chains_checksum(10), fma_chains_checksum(11));
}

TEST(FmaPeak, MeasuresAPositiveRateWithBestAtLeastMedian) {
  const FmaPeak p = measure_fma_peak(1, 3, 0.01);
  EXPECT_GT(p.best_gflops, 0);
  EXPECT_GE(p.best_gflops, p.median_gflops);
  EXPECT_EQ(p.threads, 1);
  EXPECT_GE(p.lanes, 1);
  EXPECT_EQ(p.chains, p.lanes == 16 ? 16 : 12);  // what fits the registers with the constants
  EXPECT_FALSE(p.isa.empty());
  // Sanity bound for any CPU core of this decade: < 1 TFLOP/s fp32 per core.
  EXPECT_LT(p.best_gflops, 1000);
}

TEST(FmaPeak, RejectsBadArguments) {
  EXPECT_THROW(measure_fma_peak(0, 3), UsageError);
  EXPECT_THROW(measure_fma_peak(1, 0), UsageError);
  EXPECT_THROW(measure_fma_peak(1, 1, 0.0), UsageError);
  EXPECT_THROW(measure_fma_peak(1, 1, 100.0), UsageError);
}

TEST(ShareOfCeiling, NeverAbove100Percent) {
  EXPECT_EQ(share_of_ceiling(50, 100), "50%");
  EXPECT_EQ(share_of_ceiling(99.6, 100), "100%");
  EXPECT_EQ(share_of_ceiling(100, 100), "100%");
  EXPECT_EQ(share_of_ceiling(100.1, 100), "above");
  EXPECT_EQ(share_of_ceiling(1, 0), "-");
  EXPECT_EQ(share_of_ceiling(std::nan(""), 100), "-");
  EXPECT_EQ(share_of_ceiling(1, std::nan("")), "-");
}

// A stand-in "python" that ignores its arguments and prints what a peer prints.
std::string fake_python(const std::filesystem::path& dir) {
  const auto path = dir / "fake-python";
  std::ofstream f(path);
  f << "#!/bin/sh\n"
       "echo '{\"status\": \"info\", \"peer\": \"Fake SDPA\", \"threads\": 1}'\n"
       "echo '{\"H\": 1, \"N\": 64, \"d\": 16, \"causal\": false, \"backward\": false, "
       "\"status\": \"ok\", \"seconds\": 0.5, \"gflops\": 0.001, \"extra_mib\": 1.5}'\n";
  f.close();
  ::chmod(path.c_str(), 0755);
  return path.string();
}

std::string table_text(const SpeedResult& r) {
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* mem = ::open_memstream(&buf, &len);
  print_speed_table(r, mem);
  std::fclose(mem);
  std::string s(buf, len);
  std::free(buf);
  return s;
}

TEST(AttentionSpeed, TwoPeersAlignedWithRowsAndJsonRoundTrip) {
  const auto dir = std::filesystem::temp_directory_path() / "attnlab-speed-test";
  std::filesystem::create_directories(dir);
  SpeedOptions o;
  o.lengths = {64};
  o.dims = {16};
  o.heads = 1;
  o.causal = {false};
  o.backward = false;
  o.repeats = 1;
  o.memory_probe_length = 0;
  o.variant_length = 0;
  o.stride_probe_length = 0;
  o.peers = {{"sdpa_flash", fake_python(dir)}, {"composite", (dir / "no-such-python").string()}};
  const SpeedResult r = run_attention_speed(o);
  ASSERT_EQ(r.rows.size(), 1u);
  ASSERT_EQ(r.peers.size(), 2u);
  EXPECT_TRUE(r.peers[0].available);
  EXPECT_EQ(r.peers[0].name, "Fake SDPA");
  EXPECT_FALSE(r.peers[1].available);
  EXPECT_NE(r.peers[1].name.find("not found"), std::string::npos) << r.peers[1].name;
  ASSERT_EQ(r.rows[0].peers.size(), 2u);
  EXPECT_EQ(r.rows[0].peers[0].status, "ok");
  EXPECT_DOUBLE_EQ(r.rows[0].peers[0].ms, 500.0);
  EXPECT_DOUBLE_EQ(r.rows[0].peers[0].extra_mib, 1.5);
  EXPECT_EQ(r.rows[0].peers[1].status, "not run");
  EXPECT_GT(r.sgemm_gflops, 0);
  EXPECT_GT(r.fma_peak_gflops, 0);
  EXPECT_FALSE(r.blas_core.empty());

  const SpeedResult back = speed_from_json(to_json(r));
  ASSERT_EQ(back.peers.size(), 2u);
  EXPECT_EQ(back.peers[0].spec.method, "sdpa_flash");
  EXPECT_EQ(back.peers[1].spec.method, "composite");
  EXPECT_DOUBLE_EQ(back.rows[0].peers[0].ms, 500.0);
  EXPECT_DOUBLE_EQ(back.fma_peak_gflops, r.fma_peak_gflops);
  EXPECT_EQ(back.blas_core, r.blas_core);

  const std::string t = table_text(r);
  EXPECT_NE(t.find("FMA peak"), std::string::npos) << t;
  EXPECT_NE(t.find("peer 1: Fake SDPA"), std::string::npos) << t;
  EXPECT_NE(t.find("peer 2: composite peer:"), std::string::npos) << t;
  std::filesystem::remove_all(dir);
}

TEST(AttentionSpeed, TablePrintsAboveInsteadOfSharesOver100Percent) {
  SpeedResult r;
  r.machine = "test";
  r.simd = "avx512";
  r.sgemm_gflops = 100;
  r.fma_peak_gflops = 200;
  r.fma_peak_isa = "avx512";
  SpeedRow row;
  row.c = {8, 1024, 64, false, false};
  row.attnlab_ms = 1;
  row.attnlab_gflops = 150;  // above sgemm, below the FMA peak
  r.rows.push_back(row);
  const std::string t = table_text(r);
  EXPECT_NE(t.find("75%"), std::string::npos) << t;
  EXPECT_NE(t.find("above"), std::string::npos) << t;
  EXPECT_EQ(t.find("150%"), std::string::npos) << t;
}

TEST(AttentionSpeed, JsonWithRaggedPeerColumnsIsAFormatError) {
  SpeedResult r;
  r.peers.push_back({{"composite", "/usr/bin/python3"}, "x", true});
  SpeedRow row;
  row.c = {1, 8, 8, false, false};
  r.rows.push_back(row);  // no peer entry for the one peer
  EXPECT_THROW(speed_from_json(to_json(r)), FormatError);
}

}  // namespace
}  // namespace attnlab::analysis
