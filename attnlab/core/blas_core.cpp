// attnlab/core/blas_core.cpp — OpenBLAS core detection vs cpuid, and the re-exec that fixes it.
#include "attnlab/core/blas_core.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

extern "C" char* openblas_get_corename(void);

namespace attnlab {
namespace {

constexpr const char* kReexecMarker = "ATTNLAB_BLAS_REEXEC";  // holds the core detected before

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) == 0) return f;
  f.sse3 = (c & (1u << 0)) != 0;
  f.ssse3 = (c & (1u << 9)) != 0;
  f.fma = (c & (1u << 12)) != 0;
  f.sse4_2 = (c & (1u << 20)) != 0;
  const bool osxsave = (c & (1u << 27)) != 0;
  f.avx = (c & (1u << 28)) != 0;
  if (osxsave) {
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    f.os_ymm = (lo & 0x6u) == 0x6u;    // XMM + YMM state
    f.os_zmm = (lo & 0xe6u) == 0xe6u;  // + opmask, ZMM_Hi256, Hi16_ZMM
  }
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) != 0) {
    f.avx2 = (b & (1u << 5)) != 0;
    f.avx512f = (b & (1u << 16)) != 0;
    f.avx512dq = (b & (1u << 17)) != 0;
    f.avx512cd = (b & (1u << 28)) != 0;
    f.avx512bw = (b & (1u << 30)) != 0;
    f.avx512vl = (b & (1u << 31)) != 0;
  }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d) != 0) f.avx512_bf16 = (a & (1u << 5)) != 0;
#endif
  return f;
}

std::string best_blas_coretype(const CpuFeatures& cpu) {
  const bool avx512 =
      cpu.avx512f && cpu.avx512cd && cpu.avx512bw && cpu.avx512dq && cpu.avx512vl && cpu.os_zmm;
  if (avx512) return cpu.avx512_bf16 ? "Cooperlake" : "SkylakeX";
  if (cpu.avx2 && cpu.fma && cpu.os_ymm) return "Haswell";
  if (cpu.avx && cpu.os_ymm) return "Sandybridge";
  if (cpu.sse4_2) return "Nehalem";
  return "Prescott";
}

int blas_core_rank(std::string_view corename) {
  const std::string n = lower(corename);
  if (n == "prescott" || n == "katmai" || n == "coppermine" || n == "northwood" || n == "banias" ||
      n == "athlon" || n == "opteron" || n == "opteron_sse3" || n == "barcelona")
    return 1;
  if (n == "core2" || n == "atom") return 2;
  if (n == "penryn" || n == "dunnington") return 3;
  if (n == "nehalem" || n == "bobcat") return 4;
  if (n == "sandybridge" || n == "bulldozer" || n == "piledriver") return 5;
  if (n == "haswell" || n == "zen" || n == "steamroller" || n == "excavator") return 6;
  if (n == "skylakex") return 7;
  if (n == "cooperlake" || n == "sapphirerapids") return 8;
  return -1;
}

BlasCoreChoice choose_blas_core(std::string_view detected, const CpuFeatures& cpu,
                                std::string_view user_coretype) {
  BlasCoreChoice c;
  c.detected = std::string(detected);
  c.best = best_blas_coretype(cpu);
  c.user = std::string(user_coretype);
  if (!c.user.empty()) {
    c.reason = "OPENBLAS_CORETYPE=" + c.user + " set by the user";
    return c;
  }
  const int have = blas_core_rank(detected);
  if (have < 0) {
    c.reason = "kept the library's choice (core name '" + c.detected + "' not in attnlab's table)";
    return c;
  }
  if (have < blas_core_rank(c.best)) {
    c.reexec = true;
    c.reason = "library detected " + c.detected + "; this CPU supports " + c.best;
    return c;
  }
  c.reason = "library's choice matches this CPU";
  return c;
}

BlasCoreChoice current_blas_core() {
  const char* name = openblas_get_corename();
  const std::string marker = env_or_empty(kReexecMarker);
  if (!marker.empty()) {
    // This process is the re-executed one: OPENBLAS_CORETYPE is ours, not the user's.
    BlasCoreChoice c = choose_blas_core(name == nullptr ? "" : name, detect_cpu_features(), "");
    c.reason = "re-executed with OPENBLAS_CORETYPE=" + env_or_empty("OPENBLAS_CORETYPE") +
               ": library detected " + marker;
    c.reexec = false;
    return c;
  }
  return choose_blas_core(name == nullptr ? "" : name, detect_cpu_features(),
                          env_or_empty("OPENBLAS_CORETYPE"));
}

void reexec_with_best_blas_core(char** argv) {
  if (argv == nullptr || argv[0] == nullptr) return;
  if (!env_or_empty(kReexecMarker).empty()) return;  // already re-executed once
  if (env_or_empty("ATTNLAB_BLAS_AUTOCORE") == "0") return;
  const BlasCoreChoice c = current_blas_core();
  if (!c.reexec) return;
  if (setenv("OPENBLAS_CORETYPE", c.best.c_str(), 1) != 0) return;
  if (setenv(kReexecMarker, c.detected.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  // execv failed: run on as before, with the library's own choice.
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(kReexecMarker);
}

}  // namespace attnlab
