// CLI tests for `attnlab attend`: results equal the library's, and bad input gives one clear
// line on stderr, the DESIGN.md exit code, and no output file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "attnlab/attention/fused_attention.hpp"
#include "attnlab/attention/reference_attention.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/io/npy.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {

namespace fs = std::filesystem;
using testing::run_cli;
using testing::TempDir;

// `t` [A, R, C] (values in C order) saved as a float64 NPY with this shape (product A·R·C),
// e.g. {B, H, N, d} for a 4-D file.
void save_as(const fs::path& path, const Tensor3d& t, const std::vector<Index>& shape) {
  io::save_npy(path, t.data(), shape);
}

// `t` [A, R, C] written as numpy writes np.asfortranarray(t): header fortran_order True, data
// column-major (first index fastest). Built by hand, independently of the reader.
void save_fortran(const fs::path& path, const Tensor3d& t) {
  std::string header = "{'descr': '<f8', 'fortran_order': True, 'shape': (" +
                       std::to_string(t.dim0()) + ", " + std::to_string(t.dim1()) + ", " +
                       std::to_string(t.dim2()) + "), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  for (Index c = 0; c < t.dim2(); ++c)
    for (Index r = 0; r < t.dim1(); ++r)
      for (Index a = 0; a < t.dim0(); ++a) {
        const double v = t(a, r, c);
        bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
      }
  write_file_atomic(path, bytes);
}

// Heads [b·H, (b+1)·H) of t [B·H, R, C].
Tensor3d heads_of(const Tensor3d& t, Index b, Index H) {
  Tensor3d out(H, t.dim1(), t.dim2());
  for (Index h = 0; h < H; ++h) out.slice(h) = t.slice(b * H + h);
  return out;
}

class AttendCli : public ::testing::Test {
 protected:
  void SetUp() override {
    q_ = testing::random_tensor(2, 5, 4, 1);
    k_ = testing::random_tensor(2, 7, 4, 2);
    v_ = testing::random_tensor(2, 7, 3, 3);
    io::save_npy(dir_ / "q.npy", q_);
    io::save_npy(dir_ / "k.npy", k_);
    io::save_npy(dir_ / "v.npy", v_);
  }
  std::vector<std::string> base_args(const std::string& out = "o.npy") {
    return {"attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p(out)};
  }
  std::string p(const std::string& name) { return (dir_ / name).string(); }

  // Runs and checks: exit code, exactly one stderr line starting "attnlab:", no output file.
  void expect_failure(std::vector<std::string> args, int code, const std::string& must_mention) {
    const auto r = run_cli(args);
    EXPECT_EQ(r.exit_code, code) << r.err;
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.rfind("attnlab:", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(must_mention), std::string::npos) << "stderr: " << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "o.npy")) << "partial output left behind";
    EXPECT_FALSE(fs::exists(dir_ / "r.json"));
    for (const auto& e : fs::directory_iterator(dir_.path()))
      EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }

  TempDir dir_;
  Tensor3d q_, k_, v_;
};

TEST_F(AttendCli, MatchesLibraryAndWritesEnvelope) {
  auto args = base_args();
  args.insert(args.end(),
              {"--causal", "--alibi", "--weights-out", p("a.npy"), "--json", p("r.json")});
  const auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  attention::AttentionSpec spec;
  spec.causal = spec.alibi = true;
  const auto ref = attention::attention_forward_reference(q_, k_, v_, spec);
  const Tensor3d out = io::load_npy_tensor3(dir_ / "o.npy", "out");
  EXPECT_LT(testing::max_abs_diff(out, ref.out), 1e-15);
  const Tensor3d weights = io::load_npy_tensor3(dir_ / "a.npy", "weights");
  EXPECT_LT(testing::max_abs_diff(weights, ref.weights), 1e-15);
  const auto env = nlohmann::json::parse(read_file(dir_ / "r.json"));
  EXPECT_EQ(env["schema"], "attnlab.result");
  EXPECT_EQ(env["kind"], "attend");
  EXPECT_TRUE(env.contains("git_revision"));
  EXPECT_EQ(env["result"]["shapes"]["M"], 7);
  EXPECT_EQ(env["result"]["spec"]["causal"], true);
}

// Float32 inputs stay float32 end to end (no fp64 copies, output written from the kernel's own
// buffer): the process peak beyond a tiny run's is within twice the bytes of q, k, v and out
// (they themselves, the fused kernel's packed K/V panels, tiles). The fp64 round trip this
// replaced held ~4.5x. The output is bitwise the fused kernel's.
TEST_F(AttendCli, Float32LongContextPeakMemoryStaysNearInputsAndOutputs) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's shadow memory and quarantine change the process peak";
#endif
  auto run = [&](Index n, const std::string& tag) -> double {
    const Tensor3f q = testing::random_tensor(1, n, 64, 11).cast<float>();
    const Tensor3f k = testing::random_tensor(1, n, 64, 12).cast<float>();
    const Tensor3f v = testing::random_tensor(1, n, 64, 13).cast<float>();
    io::save_npy(dir_ / (tag + "q.npy"), q);
    io::save_npy(dir_ / (tag + "k.npy"), k);
    io::save_npy(dir_ / (tag + "v.npy"), v);
    const auto r = run_cli({"attend", "--q", p(tag + "q.npy"), "--k", p(tag + "k.npy"), "--v",
                            p(tag + "v.npy"), "--out", p(tag + "o.npy"), "--causal", "--json",
                            p(tag + "r.json")});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (n == 16384) {
      attention::AttentionSpec spec;
      spec.causal = true;
      const auto f = attention::attention_forward_fused(q, k, v, spec);
      const io::NpyArray out = io::load_npy(dir_ / (tag + "o.npy"));
      EXPECT_EQ(out.dtype, io::NpyDtype::kF32);
      EXPECT_EQ(static_cast<Index>(out.values.size()), f.out.size());
      Index mismatches = 0;
      for (Index i = 0; i < f.out.size() && i < static_cast<Index>(out.values.size()); ++i)
        mismatches +=
            static_cast<float>(out.values[static_cast<std::size_t>(i)]) != f.out.data()[i];
      EXPECT_EQ(mismatches, 0);
    }
    return nlohmann::json::parse(read_file(dir_ / (tag + "r.json")))
        .at("peak_rss_mib")
        .get<double>();
  };
  const double base = run(64, "small_"), big = run(16384, "big_");
  const double io_mib = 4.0 * 16384 * 64 * 4 / (1 << 20);  // q, k, v, out: 16 MiB
  EXPECT_GT(big, base);
  EXPECT_LE(big - base, 2.0 * io_mib) << "peak " << big << " MiB vs " << base << " MiB";
}

// The envelope names the OpenBLAS core the process ran on; a user's OPENBLAS_CORETYPE is kept
// (no re-exec over it) and reported as the user's.
TEST_F(AttendCli, EnvelopeRecordsBlasCoreAndUserCoretypeWins) {
  auto args = base_args();
  args.insert(args.end(), {"--json", p("r.json")});
  const auto r = run_cli(args, {{"OPENBLAS_CORETYPE", "Haswell"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto blas = nlohmann::json::parse(read_file(dir_ / "r.json"))["host"]["blas"];
  EXPECT_EQ(blas["core"], "Haswell") << blas.dump();
  EXPECT_NE(blas["reason"].get<std::string>().find("set by the user"), std::string::npos)
      << blas.dump();
  EXPECT_FALSE(blas["best"].get<std::string>().empty());
}

TEST_F(AttendCli, TwoDimensionalFloat32InputsGiveTwoDimensionalFloat32Output) {
  const Tensor3f q = q_.cast<float>(), k = k_.cast<float>(), v = v_.cast<float>();
  io::save_npy(dir_ / "q2.npy", q.data(), std::vector<Index>{5, 4});
  io::save_npy(dir_ / "k2.npy", k.data(), std::vector<Index>{7, 4});
  io::save_npy(dir_ / "v2.npy", v.data(), std::vector<Index>{7, 3});
  const auto r =
      run_cli({"attend", "--q", p("q2.npy"), "--k", p("k2.npy"), "--v", p("v2.npy"), "--out",
               p("o.npy"), "--normalizer", "entmax15", "--window", "3", "--sinks", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const io::NpyArray out = io::load_npy(dir_ / "o.npy");
  EXPECT_EQ(out.dtype, io::NpyDtype::kF32);
  EXPECT_EQ(out.shape, (std::vector<Index>{5, 3}));
}

// [B, H, N, d] input, as PyTorch code has it: B·H independent heads, output [B, H, N, dv].
TEST_F(AttendCli, FourDimInputsRunAsBatchTimesHeadsAndKeepTheirShape) {
  const Index B = 2, H = 3, N = 5, M = 7, d = 4, dv = 3;
  const Tensor3d q = testing::random_tensor(B * H, N, d, 31),
                 k = testing::random_tensor(B * H, M, d, 32),
                 v = testing::random_tensor(B * H, M, dv, 33);
  save_as(dir_ / "q4.npy", q, {B, H, N, d});
  save_as(dir_ / "k4.npy", k, {B, H, M, d});
  save_as(dir_ / "v4.npy", v, {B, H, M, dv});
  io::save_npy(dir_ / "q6.npy", q);  // the same heads as [B·H, N, d]
  io::save_npy(dir_ / "k6.npy", k);
  io::save_npy(dir_ / "v6.npy", v);
  const auto r4 = run_cli({"attend", "--q", p("q4.npy"), "--k", p("k4.npy"), "--v", p("v4.npy"),
                           "--out", p("o4.npy"), "--causal", "--weights-out", p("a4.npy")});
  ASSERT_EQ(r4.exit_code, 0) << r4.err;
  const auto r6 = run_cli({"attend", "--q", p("q6.npy"), "--k", p("k6.npy"), "--v", p("v6.npy"),
                           "--out", p("o6.npy"), "--causal", "--weights-out", p("a6.npy")});
  ASSERT_EQ(r6.exit_code, 0) << r6.err;
  const io::NpyArray o4 = io::load_npy(dir_ / "o4.npy"), o6 = io::load_npy(dir_ / "o6.npy");
  EXPECT_EQ(o4.shape, (std::vector<Index>{B, H, N, dv}));
  EXPECT_EQ(o4.dtype, io::NpyDtype::kF64);
  EXPECT_EQ(o4.values, o6.values);
  const io::NpyArray a4 = io::load_npy(dir_ / "a4.npy"), a6 = io::load_npy(dir_ / "a6.npy");
  EXPECT_EQ(a4.shape, (std::vector<Index>{B, H, N, M}));
  EXPECT_EQ(a4.values, a6.values);
  // And each head alone, as [N, d], gives its slice of the output.
  attention::AttentionSpec causal;
  causal.causal = true;
  for (Index head = 0; head < B * H; ++head) {
    const auto one = attention::attention_forward_reference(
        Tensor3d(MatrixD(q.slice(head))), Tensor3d(MatrixD(k.slice(head))),
        Tensor3d(MatrixD(v.slice(head))), causal);
    for (Index i = 0; i < N; ++i)
      for (Index c = 0; c < dv; ++c)
        ASSERT_NEAR(o4.values[static_cast<std::size_t>((head * N + i) * dv + c)], one.out(0, i, c),
                    1e-15)
            << "head " << head;
  }
}

// Per-head mods (ALiBi slopes, per-head decay rates) go by h within each batch item: the same
// for b = 0 and b = 1, as when each item runs as its own [H, N, d] problem.
TEST_F(AttendCli, FourDimInputsApplyPerHeadModsByHeadWithinTheBatchItem) {
  const Index B = 2, H = 3, N = 5, M = 7, d = 4, dv = 3;
  const Tensor3d q = testing::random_tensor(B * H, N, d, 41),
                 k = testing::random_tensor(B * H, M, d, 42),
                 v = testing::random_tensor(B * H, M, dv, 43);
  save_as(dir_ / "q4.npy", q, {B, H, N, d});
  save_as(dir_ / "k4.npy", k, {B, H, M, d});
  save_as(dir_ / "v4.npy", v, {B, H, M, dv});
  const auto r = run_cli({"attend", "--q", p("q4.npy"), "--k", p("k4.npy"), "--v", p("v4.npy"),
                          "--out", p("o.npy"), "--alibi", "--decay", "0.1,0.2,0.3", "--diagnostics",
                          "--json", p("r.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  attention::AttentionSpec spec;
  spec.alibi = true;
  spec.decay = {0.1, 0.2, 0.3};
  const io::NpyArray out = io::load_npy(dir_ / "o.npy");
  ASSERT_EQ(out.shape, (std::vector<Index>{B, H, N, dv}));
  for (Index b = 0; b < B; ++b) {
    const auto ref = attention::attention_forward_reference(heads_of(q, b, H), heads_of(k, b, H),
                                                            heads_of(v, b, H), spec);
    for (Index i = 0; i < ref.out.size(); ++i)
      ASSERT_NEAR(out.values[static_cast<std::size_t>(b * H * N * dv + i)], ref.out.data()[i],
                  1e-15)
          << "batch item " << b;
  }
  const auto env = nlohmann::json::parse(read_file(dir_ / "r.json"));
  const auto& res = env["result"];
  EXPECT_EQ(res["shapes"]["B"], B);
  EXPECT_EQ(res["shapes"]["H"], H);
  ASSERT_EQ(res["heads"].size(), static_cast<std::size_t>(B * H));
  EXPECT_EQ(res["heads"][4]["batch"], 1);
  EXPECT_EQ(res["heads"][4]["head"], 1);
}

TEST_F(AttendCli, FourDimFloat32InputsRunTheFusedKernelPerHead) {
  const Index B = 2, H = 2, N = 6, M = 9, d = 4, dv = 5;
  const Tensor3f q = testing::random_tensor(B * H, N, d, 51).cast<float>(),
                 k = testing::random_tensor(B * H, M, d, 52).cast<float>(),
                 v = testing::random_tensor(B * H, M, dv, 53).cast<float>();
  io::save_npy(dir_ / "q4.npy", q.data(), std::vector<Index>{B, H, N, d});
  io::save_npy(dir_ / "k4.npy", k.data(), std::vector<Index>{B, H, M, d});
  io::save_npy(dir_ / "v4.npy", v.data(), std::vector<Index>{B, H, M, dv});
  io::save_npy(dir_ / "q3.npy", q);
  io::save_npy(dir_ / "k3.npy", k);
  io::save_npy(dir_ / "v3.npy", v);
  auto run = [&](const std::string& suffix) {
    return run_cli({"attend", "--q", p("q" + suffix + ".npy"), "--k", p("k" + suffix + ".npy"),
                    "--v", p("v" + suffix + ".npy"), "--out", p("o" + suffix + ".npy"), "--causal",
                    "--window", "4", "--json", p("r" + suffix + ".json")});
  };
  ASSERT_EQ(run("4").exit_code, 0);
  ASSERT_EQ(run("3").exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(read_file(dir_ / "r4.json"))["result"]["kernel"], "fused");
  const io::NpyArray o4 = io::load_npy(dir_ / "o4.npy"), o3 = io::load_npy(dir_ / "o3.npy");
  EXPECT_EQ(o4.dtype, io::NpyDtype::kF32);
  EXPECT_EQ(o4.shape, (std::vector<Index>{B, H, N, dv}));
  ASSERT_EQ(o4.values.size(), o3.values.size());
  for (std::size_t i = 0; i < o4.values.size(); ++i) EXPECT_NEAR(o4.values[i], o3.values[i], 1e-6);
}

TEST_F(AttendCli, FourDimBatchOrHeadMismatchIsAnInputError) {
  save_as(dir_ / "q4.npy", testing::random_tensor(6, 5, 4, 61), {2, 3, 5, 4});
  save_as(dir_ / "k4.npy", testing::random_tensor(6, 7, 4, 62), {2, 3, 7, 4});
  save_as(dir_ / "v4.npy", testing::random_tensor(6, 7, 3, 63), {2, 3, 7, 3});
  save_as(dir_ / "k_h4.npy", testing::random_tensor(8, 7, 4, 64), {2, 4, 7, 4});  // H differs
  save_as(dir_ / "k_b3.npy", testing::random_tensor(6, 7, 4, 65), {3, 2, 7, 4});  // same B·H
  save_as(dir_ / "v_3d.npy", testing::random_tensor(6, 7, 3, 66), {6, 7, 3});     // no B
  const std::vector<std::string> base = {"attend",    "--q",    p("q4.npy"), "--k",
                                         p("k4.npy"), "--v",    p("v4.npy"), "--out",
                                         p("o.npy"),  "--json", p("r.json")};
  auto with = [&](int index, const std::string& file) {
    auto a = base;
    a[static_cast<std::size_t>(index)] = p(file);
    return a;
  };
  expect_failure(with(4, "k_h4.npy"), 3, "need the same batch and head dims [B, H]");
  expect_failure(with(4, "k_h4.npy"), 3, "k [2, 4, 7, 4] (" + p("k_h4.npy") + ")");
  expect_failure(with(4, "k_b3.npy"), 3, "q [2, 3, 5, 4] (" + p("q4.npy") + ")");
  expect_failure(with(6, "v_3d.npy"), 3, "v [6, 7, 3] (" + p("v_3d.npy") + ")");
  // 5-D is still refused, naming the file and the limit.
  std::vector<double> five(2 * 3 * 5 * 4, 0.5);
  io::save_npy(dir_ / "q5.npy", five.data(), std::vector<Index>{1, 2, 3, 5, 4});
  expect_failure(with(2, "q5.npy"), 3, "5 dims, at most 4 are supported");
}

// Fortran-order arrays (np.asfortranarray, a transposed tensor saved as is) read as their values.
TEST_F(AttendCli, FortranOrderQueryGivesTheCOrderResult) {
  save_fortran(dir_ / "qf.npy", q_);
  save_fortran(dir_ / "vf.npy", v_);
  const auto c = run_cli(base_args("oc.npy"));
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto a = base_args("of.npy");
  a[2] = p("qf.npy");
  const auto f = run_cli(a);
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_EQ(read_file(dir_ / "of.npy"), read_file(dir_ / "oc.npy"));  // bit-identical output
  a[6] = p("vf.npy");
  ASSERT_EQ(run_cli(a).exit_code, 0);
  EXPECT_EQ(read_file(dir_ / "of.npy"), read_file(dir_ / "oc.npy"));
}

TEST_F(AttendCli, IntegerFlagsBeyond64BitsAreUsageErrorsNotSaturated) {
  for (const char* flag : {"--window", "--sinks", "--topk"}) {
    const auto r = testing::run_cli({"attend", "--q", "q.npy", "--k", "k.npy", "--v", "v.npy",
                                     "--out", "o.npy", flag, "99999999999999999999"});
    EXPECT_EQ(r.exit_code, 2) << flag << ": " << r.err;
    EXPECT_NE(r.err.find(flag), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("out of range"), std::string::npos) << r.err;
  }
}

// The reference kernel's [H, N, M] fp64 maps are estimated before allocation (issue #15): at
// N = M = 2048 they need 64 MiB, so --max-memory 32M rejects it while the fused kernel runs.
TEST_F(AttendCli, MaxMemoryRejectsTheReferenceMapsButNotTheFusedKernel) {
  const Tensor3f big = testing::random_tensor(1, 2048, 2, 9).cast<float>();
  io::save_npy(dir_ / "b.npy", big);
  const std::vector<std::string> args = {"attend",   "--q",          p("b.npy"), "--k",
                                         p("b.npy"), "--v",          p("b.npy"), "--out",
                                         p("o.npy"), "--max-memory", "32M"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = args;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  expect_failure(with({"--kernel", "reference"}), 2, "fp64 logits and weights [H, N, M]");
  expect_failure(with({"--kernel", "reference"}), 2, "above the memory limit 32.0 MiB");
  const auto fused = run_cli(with({"--kernel", "fused"}));
  EXPECT_EQ(fused.exit_code, 0) << fused.err;
  EXPECT_TRUE(fs::exists(dir_ / "o.npy"));
  fs::remove(dir_ / "o.npy");
  expect_failure({"attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out",
                  p("o.npy"), "--max-memory", "1K"},
                 2, "--max-memory 1K");
}

TEST_F(AttendCli, MissingInputFile) {
  auto a = base_args();
  a[2] = p("nope.npy");
  expect_failure(a, 3, "nope.npy");
}

TEST_F(AttendCli, WrongDtype) {
  std::vector<std::int64_t> ints(40, 1);
  io::save_npy(dir_ / "qi.npy", ints.data(), std::vector<Index>{2, 5, 4});
  auto a = base_args();
  a[2] = p("qi.npy");
  expect_failure(a, 3, "qi.npy");
}

TEST_F(AttendCli, KeyValueRowMismatch) {
  io::save_npy(dir_ / "v6.npy", testing::random_tensor(2, 6, 3, 9));
  auto a = base_args();
  a[6] = p("v6.npy");
  expect_failure(a, 3, "v6.npy");
}

TEST_F(AttendCli, QueryKeyDimMismatch) {
  io::save_npy(dir_ / "k5.npy", testing::random_tensor(2, 7, 5, 9));
  auto a = base_args();
  a[4] = p("k5.npy");
  expect_failure(a, 3, "k5.npy");
}

TEST_F(AttendCli, HeadCountMismatch) {
  io::save_npy(dir_ / "k3h.npy", testing::random_tensor(3, 7, 4, 9));
  auto a = base_args();
  a[4] = p("k3h.npy");
  expect_failure(a, 3, "head");
}

TEST_F(AttendCli, NegativeWindow) {
  auto a = base_args();
  a.insert(a.end(), {"--window", "-4"});
  expect_failure(a, 2, "--window");
}

TEST_F(AttendCli, UnknownNormalizer) {
  auto a = base_args();
  a.insert(a.end(), {"--normalizer", "softmin"});
  expect_failure(a, 2, "softmin");
}

TEST_F(AttendCli, NaNInInput) {
  Tensor3d bad = q_;
  bad(1, 2, 3) = std::nan("");
  io::save_npy(dir_ / "qnan.npy", bad);
  auto a = base_args();
  a[2] = p("qnan.npy");
  expect_failure(a, 3, "qnan.npy");
}

TEST_F(AttendCli, SinksWithoutWindow) {
  auto a = base_args();
  a.insert(a.end(), {"--sinks", "4"});
  expect_failure(a, 2, "window");
}

TEST_F(AttendCli, DecayRateCountMismatch) {
  auto a = base_args();
  a.insert(a.end(), {"--decay", "0.1,0.2,0.3"});
  expect_failure(a, 2, "decay");
}

TEST_F(AttendCli, KeyMaskWrongLength) {
  std::vector<std::uint8_t> mask(6, 1);
  io::save_npy(dir_ / "mask.npy", mask.data(), std::vector<Index>{6});
  auto a = base_args();
  a.insert(a.end(), {"--key-mask", p("mask.npy")});
  expect_failure(a, 3, "mask.npy");
}

TEST_F(AttendCli, TruncatedNpy) {
  std::string bytes = read_file(dir_ / "k.npy");
  bytes.resize(bytes.size() - 5);
  write_file_atomic(dir_ / "kt.npy", bytes);
  auto a = base_args();
  a[4] = p("kt.npy");
  expect_failure(a, 3, "kt.npy");
}

TEST_F(AttendCli, NotAnNpyFile) {
  write_file_atomic(dir_ / "junk.npy", "hello, I am not an array\n");
  auto a = base_args();
  a[6] = p("junk.npy");
  expect_failure(a, 3, "junk.npy");
}

TEST_F(AttendCli, MissingRequiredOutput) {
  auto a = base_args();
  a.resize(a.size() - 2);  // drop --out
  expect_failure(a, 2, "--out");
}

TEST_F(AttendCli, UnwritableOutputLeavesNothing) {
  auto a = base_args();
  a[8] = p("no_such_dir/o.npy");
  a.insert(a.end(), {"--json", p("r.json")});
  expect_failure(a, 3, "no_such_dir");
  EXPECT_FALSE(fs::exists(dir_ / "r.json"));  // the JSON of the same run is not left alone
}

TEST_F(AttendCli, ZeroTemperature) {
  auto a = base_args();
  a.insert(a.end(), {"--temperature", "0"});
  expect_failure(a, 2, "--temperature");
}

TEST_F(AttendCli, FusedAndReferenceKernelsAgreeAndReportDiagnostics) {
  const Tensor3f q = q_.cast<float>(), k = k_.cast<float>(), v = v_.cast<float>();
  io::save_npy(dir_ / "qf.npy", q);
  io::save_npy(dir_ / "kf.npy", k);
  io::save_npy(dir_ / "vf.npy", v);
  auto run = [&](const std::string& kernel, const std::string& out, const std::string& json) {
    return run_cli({"attend", "--q", p("qf.npy"), "--k", p("kf.npy"), "--v", p("vf.npy"), "--out",
                    p(out), "--causal", "--window", "3", "--kernel", kernel, "--diagnostics",
                    "--json", p(json)});
  };
  ASSERT_EQ(run("auto", "fused.npy", "fused.json").exit_code, 0);
  ASSERT_EQ(run("reference", "ref.npy", "ref.json").exit_code, 0);
  const Tensor3d a = io::load_npy_tensor3(dir_ / "fused.npy", "fused"),
                 b = io::load_npy_tensor3(dir_ / "ref.npy", "ref");
  EXPECT_LT(testing::max_abs_diff(a, b), 1e-5);
  const auto ja = nlohmann::json::parse(read_file(dir_ / "fused.json"));
  const auto jb = nlohmann::json::parse(read_file(dir_ / "ref.json"));
  EXPECT_EQ(ja["result"]["kernel"], "fused");
  EXPECT_EQ(jb["result"]["kernel"], "reference");
  for (int h = 0; h < 2; ++h)
    for (const char* key : {"norm_entropy", "sink_mass", "max_weight", "top8_mass"})
      EXPECT_NEAR(ja["result"]["heads"][h][key].get<double>(),
                  jb["result"]["heads"][h][key].get<double>(), 1e-5)
          << key;
}

TEST_F(AttendCli, FusedKernelRejectsWhatItCannotDo) {
  auto a = base_args();
  a.insert(a.end(), {"--kernel", "fused", "--normalizer", "sparsemax"});
  expect_failure(a, 2, "sparsemax");
  a = base_args();
  a.insert(a.end(), {"--kernel", "fused", "--weights-out", p("w.npy")});
  expect_failure(a, 2, "weights");
  EXPECT_FALSE(fs::exists(dir_ / "w.npy"));
}

TEST_F(AttendCli, HelpListsEveryFlag) {
  const auto r = run_cli({"attend", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--q", "--k", "--v", "--out", "--weights-out", "--normalizer",
                           "--temperature", "--causal", "--window", "--sinks", "--decay", "--alibi",
                           "--topk", "--key-mask", "--seed", "--threads", "--json"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace attnlab
