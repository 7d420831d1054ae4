// tests/core/blas_core_test.cpp — the OpenBLAS core choice on recorded (corename, cpuid) pairs.
#include "attnlab/core/blas_core.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "attnlab/core/result_json.hpp"

namespace attnlab {
namespace {

CpuFeatures sse_only() {
  CpuFeatures f;
  f.sse3 = f.ssse3 = f.sse4_2 = true;
  return f;
}
CpuFeatures avx2_cpu() {  // e.g. Zen 2, Haswell
  CpuFeatures f = sse_only();
  f.avx = f.avx2 = f.fma = f.os_ymm = true;
  return f;
}
CpuFeatures avx512_cpu(bool bf16) {  // Skylake-SP / Ice Lake (no bf16); Sapphire Rapids, Zen 4
  CpuFeatures f = avx2_cpu();
  f.avx512f = f.avx512cd = f.avx512bw = f.avx512dq = f.avx512vl = f.os_zmm = true;
  f.avx512_bf16 = bf16;
  return f;
}

TEST(BlasCore, BestCoreFollowsFeatures) {
  EXPECT_EQ(best_blas_coretype(CpuFeatures{}), "Prescott");
  EXPECT_EQ(best_blas_coretype(sse_only()), "Nehalem");
  EXPECT_EQ(best_blas_coretype(avx2_cpu()), "Haswell");
  EXPECT_EQ(best_blas_coretype(avx512_cpu(false)), "SkylakeX");
  EXPECT_EQ(best_blas_coretype(avx512_cpu(true)), "Cooperlake");
  CpuFeatures avx_only = sse_only();
  avx_only.avx = avx_only.os_ymm = true;
  EXPECT_EQ(best_blas_coretype(avx_only), "Sandybridge");
}

TEST(BlasCore, OsWithoutZmmStateIsNotAvx512) {
  CpuFeatures f = avx512_cpu(true);
  f.os_zmm = false;  // kernel does not save ZMM registers: AVX-512 instructions would fault
  EXPECT_EQ(best_blas_coretype(f), "Haswell");
  f.os_ymm = false;
  EXPECT_EQ(best_blas_coretype(f), "Nehalem");
}

TEST(BlasCore, RanksAreOrderedAndCaseInsensitive) {
  EXPECT_LT(blas_core_rank("Prescott"), blas_core_rank("Nehalem"));
  EXPECT_LT(blas_core_rank("Nehalem"), blas_core_rank("Sandybridge"));
  EXPECT_LT(blas_core_rank("Sandybridge"), blas_core_rank("Haswell"));
  EXPECT_LT(blas_core_rank("Haswell"), blas_core_rank("SkylakeX"));
  EXPECT_LT(blas_core_rank("SkylakeX"), blas_core_rank("Cooperlake"));
  EXPECT_EQ(blas_core_rank("Zen"), blas_core_rank("Haswell"));
  EXPECT_EQ(blas_core_rank("SKYLAKEX"), blas_core_rank("skylakex"));
  EXPECT_EQ(blas_core_rank("NoSuchCore"), -1);
}

// The machine in issue 14: Intel Xeon with AVX-512, Debian's OpenBLAS 0.3.21 says Prescott.
TEST(BlasCore, PrescottOnAvx512XeonAsksForReexec) {
  const BlasCoreChoice c = choose_blas_core("Prescott", avx512_cpu(false), "");
  EXPECT_TRUE(c.reexec);
  EXPECT_EQ(c.best, "SkylakeX");
  EXPECT_NE(c.reason.find("Prescott"), std::string::npos) << c.reason;
}

// Recorded on this project's machines: AMD EPYC (Zen 4) → Cooperlake; Zen 2 → Zen.
TEST(BlasCore, MatchingDetectionIsKept) {
  EXPECT_FALSE(choose_blas_core("Cooperlake", avx512_cpu(true), "").reexec);
  EXPECT_FALSE(choose_blas_core("Zen", avx2_cpu(), "").reexec);
  EXPECT_FALSE(choose_blas_core("Haswell", avx2_cpu(), "").reexec);
  EXPECT_FALSE(choose_blas_core("SkylakeX", avx512_cpu(false), "").reexec);
}

TEST(BlasCore, LesserAvxDetectionAsksForReexec) {
  EXPECT_TRUE(choose_blas_core("Sandybridge", avx2_cpu(), "").reexec);
  EXPECT_TRUE(choose_blas_core("Haswell", avx512_cpu(false), "").reexec);
  EXPECT_TRUE(choose_blas_core("SkylakeX", avx512_cpu(true), "").reexec);
}

TEST(BlasCore, UserCoretypeAlwaysWins) {
  const BlasCoreChoice c = choose_blas_core("Prescott", avx512_cpu(false), "Haswell");
  EXPECT_FALSE(c.reexec);
  EXPECT_EQ(c.user, "Haswell");
  EXPECT_NE(c.reason.find("user"), std::string::npos) << c.reason;
}

TEST(BlasCore, UnknownDetectedNameIsKept) {
  const BlasCoreChoice c = choose_blas_core("GraniteRapidsX", avx512_cpu(true), "");
  EXPECT_FALSE(c.reexec);
  EXPECT_NE(c.reason.find("GraniteRapidsX"), std::string::npos) << c.reason;
}

TEST(BlasCore, ThisProcessHasALibraryCoreAndADecision) {
  const BlasCoreChoice c = current_blas_core();
  EXPECT_FALSE(c.detected.empty());
  EXPECT_GT(blas_core_rank(c.best), 0);
  EXPECT_FALSE(c.reason.empty());
}

TEST(BlasCore, ResultEnvelopeRecordsTheCore) {
  const nlohmann::json env =
      make_result_envelope(RunInfo{"test", {"attnlab"}, 0, 1}, Timings{}, {});
  ASSERT_TRUE(env["host"].contains("blas")) << env.dump();
  EXPECT_EQ(env["host"]["blas"]["core"], current_blas_core().detected);
  EXPECT_EQ(env["host"]["blas"]["best"], best_blas_coretype(detect_cpu_features()));
  EXPECT_FALSE(env["host"]["blas"]["reason"].get<std::string>().empty());
}

}  // namespace
}  // namespace attnlab
