// attnlab/core/blas_core.hpp — which OpenBLAS kernel family this process runs, and the right one.
//
// Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) picks its x86_64 kernels from the CPU's family/model
// numbers. On CPUs newer than the library it can fall back to "Prescott" (SSE3) although the core
// has AVX-512: sgemm then runs ~5x slower (measured on an Intel Xeon: 39 vs 210 GFLOP/s at 2048³).
// This module compares the detected core with the CPU's own features (cpuid + xgetbv) and names
// the best OpenBLAS 0.3.21 core type the CPU and OS support:
//   AVX-512 F/CD/BW/DQ/VL with ZMM state enabled: SkylakeX (Cooperlake with AVX512_BF16);
//   AVX2 + FMA with YMM state: Haswell; AVX: Sandybridge; SSE4.2: Nehalem; else Prescott.
// OpenBLAS reads OPENBLAS_CORETYPE only when the library loads, so the fix is a re-exec of the
// program with OPENBLAS_CORETYPE set (reexec_with_best_blas_core(), called first in main()).
// A user's own OPENBLAS_CORETYPE always wins; ATTNLAB_BLAS_AUTOCORE=0 turns the re-exec off.
//
// Usage:
//   reexec_with_best_blas_core(argv);            // first line of main(); returns if nothing to do
//   BlasCoreChoice c = current_blas_core();      // for --json envelopes and benchmark headers
//   c.detected, c.best, c.reason
#pragma once

#include <string>
#include <string_view>

namespace attnlab {

// The x86 features OpenBLAS's kernel families need, from cpuid; os_ymm / os_zmm: the OS saves the
// AVX / AVX-512 register state (xgetbv), without which the instructions fault.
struct CpuFeatures {
  bool sse3 = false, ssse3 = false, sse4_2 = false;
  bool avx = false, avx2 = false, fma = false;
  bool avx512f = false, avx512cd = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool avx512_bf16 = false;
  bool os_ymm = false, os_zmm = false;
};

// This CPU's features (all false on non-x86 builds).
CpuFeatures detect_cpu_features();

// The best OpenBLAS 0.3.21 x86_64 core type for these features (names as OPENBLAS_CORETYPE
// takes them): "Cooperlake", "SkylakeX", "Haswell", "Sandybridge", "Nehalem" or "Prescott".
std::string best_blas_coretype(const CpuFeatures& cpu);

// Kernel-family rank of an OpenBLAS core name, case-insensitive (Prescott 1 ... Cooperlake 8,
// Zen = Haswell's kernels); -1 for a name this table does not know (then nothing is changed).
int blas_core_rank(std::string_view corename);

struct BlasCoreChoice {
  std::string detected;  // openblas_get_corename() of this process
  std::string best;      // best_blas_coretype() of this CPU
  std::string user;      // OPENBLAS_CORETYPE as the user set it ("" = unset)
  bool reexec = false;   // run again with OPENBLAS_CORETYPE = best
  std::string reason;    // one line: why this core
};

// The decision on recorded inputs: the user's OPENBLAS_CORETYPE wins; an unknown detected name is
// kept; a detected core ranked below `best` asks for a re-exec with `best`.
BlasCoreChoice choose_blas_core(std::string_view detected, const CpuFeatures& cpu,
                                std::string_view user_coretype);

// The choice for this process (its detected core, its CPU, its environment). After a re-exec
// reason says so ("re-executed with OPENBLAS_CORETYPE=SkylakeX: library detected Prescott").
BlasCoreChoice current_blas_core();

// When current_blas_core() asks for it (and ATTNLAB_BLAS_AUTOCORE is not "0", and this process
// is not already the re-executed one), execv()s /proc/self/exe with the same argv and
// OPENBLAS_CORETYPE set. Returns on any failure, leaving the process as it was.
void reexec_with_best_blas_core(char** argv);

}  // namespace attnlab
