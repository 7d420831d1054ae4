// tests/cli/kernel_cli_support.hpp — fixture for the `attnlab spectrum` / `attnlab ntk` CLI tests:
// small NPY data sets in a temp dir and a failure checker (exit code, one "attnlab:" line on
// stderr naming the problem, no JSON and no temporary file left behind).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "attnlab/core/rng.hpp"
#include "attnlab/io/npy.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab::testing {

class KernelCli : public ::testing::Test {
 protected:
  void SetUp() override {
    // x [60, 20] nonnegative "pixels", 20 rows per label 0..2; label c brightens column c.
    MatrixD x(60, 20);
    Rng rng(11);
    rng.fill_uniform(x.data(), x.size(), 0.0, 1.0);
    std::vector<std::int64_t> y(60);
    for (Index i = 0; i < 60; ++i) {
      y[static_cast<std::size_t>(i)] = i % 3;
      x(i, i % 3) += 1.0;
    }
    io::save_npy(dir_ / "x.npy", x);
    const std::vector<Index> shape = {60};
    io::save_npy(dir_ / "y.npy", y.data(), shape);
    MatrixD zero = x;
    zero.row(7).setZero();  // cannot be unit-normalized
    io::save_npy(dir_ / "xzero.npy", zero);
  }
  std::string p(const std::string& name) const { return (dir_ / name).string(); }

  void expect_failure(const std::vector<std::string>& args, int code,
                      const std::string& must_mention) {
    const CliResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, code) << r.err;
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.rfind("attnlab:", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(must_mention), std::string::npos) << "stderr: " << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir_ / "r.json")) << "partial output left behind";
    for (const auto& e : std::filesystem::directory_iterator(dir_.path()))
      EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }

  TempDir dir_;
};

}  // namespace attnlab::testing
