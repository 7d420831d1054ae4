// CLI tests for `attnlab attend`: results equal the library's, and bad input gives one clear
// line on stderr, the DESIGN.md exit code, and no output file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "attnlab/attention/reference_attention.hpp"
#include "attnlab/core/atomic_file.hpp"
#include "attnlab/io/npy.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {

namespace fs = std::filesystem;
using testing::run_cli;
using testing::TempDir;

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

TEST_F(AttendCli, IntegerFlagsBeyond64BitsAreUsageErrorsNotSaturated) {
  for (const char* flag : {"--window", "--sinks", "--topk"}) {
    const auto r = testing::run_cli({"attend", "--q", "q.npy", "--k", "k.npy", "--v", "v.npy",
                                     "--out", "o.npy", flag, "99999999999999999999"});
    EXPECT_EQ(r.exit_code, 2) << flag << ": " << r.err;
    EXPECT_NE(r.err.find(flag), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("out of range"), std::string::npos) << r.err;
  }
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
