// Crash safety of the CLI's outputs (issue #15): `attnlab train` SIGKILLed at random points
// leaves a checkpoint that loads (or none) and --resume finishes bit-identically; a --json
// output SIGKILLed at random points is absent or complete; a full disk (/dev/full, RLIMIT_FSIZE,
// a small tmpfs where one can be mounted) is exit 3 naming the path and the OS error, with the
// old file under the target name untouched; SIGINT / SIGTERM stop long work with "interrupted",
// exit 130 / 143 and no partial output.
//
// Kill points are drawn from a seeded Rng over the measured length of an uninterrupted run, so
// they spread over the whole run on any machine; every check is on files and exit codes, never on
// timing. Temporary files a SIGKILLed run leaves behind (NAME.tmp-PID-N: the killed process
// cannot remove them) are allowed, and are listed in the test's output.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "attnlab/core/rng.hpp"
#include "attnlab/io/safetensors.hpp"
#include "attnlab/models/tinylm/checkpoint.hpp"
#include "attnlab/report/gnuplot.hpp"
#include "tests/cli/gpt2_cli_support.hpp"
#include "tests/cli/kernel_cli_support.hpp"

namespace attnlab {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::run_cli;
using testing::run_cli_signalled;
using testing::SignalledRun;
using testing::SignalPlan;

bool is_temp_name(const std::string& name) {
  return contains(name, ".tmp-");
}

// Names of the temporaries in `dir` (empty when it does not exist).
std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (is_temp_name(e.path().filename().string())) out.push_back(e.path().filename().string());
  return out;
}

// `j` without its timing fields ("seconds" at any depth): what two runs must agree on.
nlohmann::json without_timings(nlohmann::json j) {
  if (j.is_object()) {
    j.erase("seconds");
    for (auto& [key, value] : j.items()) value = without_timings(value);
  } else if (j.is_array()) {
    for (auto& value : j) value = without_timings(value);
  }
  return j;
}

double seconds_of(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---------------------------------------------------------------------------------------------
// attnlab train

// The tiny corpus of train_cli_test.cpp.
std::string corpus_text() {
  return testing::tiny_train_corpus();
}

constexpr int kTrainSteps = 150;

class CrashSafetyTrain : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_bytes(dir_ / "c.txt", corpus_text()); }
  std::string p(const std::string& name) const { return (dir_ / name).string(); }
  // The tiny model of train_cli_test.cpp, for kTrainSteps steps with a checkpoint every step (so
  // most of a run is spent writing checkpoints: the kills land there).
  std::vector<std::string> tiny(const std::string& out, int steps = kTrainSteps,
                                const std::string& checkpoint_every = "1") const {
    return {"train",
            "--corpus",
            p("c.txt"),
            "--out",
            p(out),
            "--layers",
            "2",
            "--width",
            "16",
            "--heads",
            "2",
            "--context",
            "16",
            "--batch",
            "4",
            "--steps",
            str_cat(steps),
            "--eval-every",
            "100",
            "--sink-seq",
            "8",
            "--sink-sequences",
            "4",
            "--eval-windows",
            "4",
            "--threads",
            "2",
            "--seed",
            "3",
            "--checkpoint-every",
            checkpoint_every,
            "--no-baselines"};
  }
  testing::TempDir dir_;
};

// Every file under a final name in a (possibly killed) run directory is complete: the
// checkpoint loads at a step in [1, steps], train.json parses with every step done, and the
// model files (written only at the end) are byte-identical to an uninterrupted run's.
void expect_complete_files(const fs::path& dir, const fs::path& reference) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (is_temp_name(name)) continue;
    if (name == "checkpoint.safetensors") {
      try {
        const models::tinylm::TrainState s = models::tinylm::load_checkpoint(e.path());
        EXPECT_GE(s.step, 1) << dir;
        EXPECT_LE(s.step, kTrainSteps) << dir;
      } catch (const std::exception& ex) {
        ADD_FAILURE() << "a checkpoint under its final name does not load: " << ex.what();
      }
    } else if (name == "train.json") {
      try {
        const auto j = nlohmann::json::parse(read_file(e.path()));
        EXPECT_EQ(j["result"]["steps_done"], kTrainSteps);
      } catch (const std::exception& ex) {
        ADD_FAILURE() << "train.json under its final name is not complete JSON: " << ex.what();
      }
    } else if (name == "model.safetensors" || name == "config.json" || name == "vocab.json" ||
               name == "merges.txt") {
      EXPECT_EQ(read_file(e.path()), read_file(reference / name)) << dir / name;
    } else {
      ADD_FAILURE() << "unexpected file in the run directory: " << e.path();
    }
  }
}

TEST_F(CrashSafetyTrain, SigkillAtRandomPointsLeavesALoadableCheckpointAndResumeFinishes) {
  const std::vector<std::pair<std::string, std::string>> quiet = {{"OMP_WAIT_POLICY", "PASSIVE"}};
  testing::CliResult ref;
  const double run_seconds = seconds_of([&] { ref = run_cli(tiny("ref"), quiet); });
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  const fs::path ref_dir = dir_ / "ref";
  ASSERT_TRUE(temp_files(ref_dir).empty());
  constexpr int kTrials = 24;
  Rng rng(20240515);
  // Kill points uniform in [0, upper): a run that finished first shows the runs are shorter
  // (a loaded machine at the reference run), so the bound comes down to where it finished.
  double upper = 0.95 * run_seconds;
  int killed = 0, finished_first = 0, mid_checkpoint = 0, no_checkpoint = 0;
  std::set<std::string> temp_kinds;
  for (int t = 0; t < kTrials; ++t) {
    SCOPED_TRACE(str_cat("trial ", t));
    const std::string out = str_cat("k", t);
    SignalPlan plan;
    plan.signal = SIGKILL;
    const double delay = rng.uniform(0.0, upper);
    plan.delay_us = static_cast<long long>(delay * 1e6);
    plan.env = quiet;
    const SignalledRun k = run_cli_signalled(tiny(out), plan);
    if (k.term_signal == SIGKILL) {
      ++killed;
    } else {
      ++finished_first;
      EXPECT_EQ(k.exit_code, 0) << k.err;
      upper = std::min(upper, 0.95 * delay);
    }
    const fs::path run_dir = dir_ / out;
    for (const std::string& tmp : temp_files(run_dir)) {
      temp_kinds.insert(tmp.substr(0, tmp.find(".tmp-")) + ".tmp-*");
      if (tmp.rfind("checkpoint.safetensors.tmp-", 0) == 0) ++mid_checkpoint;
    }
    expect_complete_files(run_dir, ref_dir);
    // Continue: --resume from the checkpoint when there is one (a run killed before its first
    // checkpoint has nothing to resume and starts over).
    auto again = tiny(out);
    if (fs::exists(run_dir / "checkpoint.safetensors")) {
      again.push_back("--resume");
    } else {
      ++no_checkpoint;
    }
    const auto r = run_cli(again, quiet);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(read_file(run_dir / "train.json"));
    EXPECT_EQ(j["result"]["steps_done"], kTrainSteps);
    EXPECT_EQ(j["result"]["history"]["curve"].size(), static_cast<std::size_t>(kTrainSteps));
    // Bit-identical to the uninterrupted run, wherever it was killed.
    EXPECT_EQ(read_file(run_dir / "model.safetensors"), read_file(ref_dir / "model.safetensors"));
    expect_complete_files(run_dir, ref_dir);
  }
  std::string kinds;
  for (const auto& k : temp_kinds) kinds += " " + k;
  std::printf(
      "[ crash    ] train (%.2f s a run): %d trials, %d killed (%d inside a checkpoint write, %d "
      "before the first checkpoint), %d finished first; temporaries left by kills:%s\n",
      run_seconds, kTrials, killed, mid_checkpoint, no_checkpoint, finished_first,
      kinds.empty() ? " none" : kinds.c_str());
  EXPECT_GT(killed, 0) << "no trial was killed: the kill points missed the run";
}

TEST_F(CrashSafetyTrain, SigintStopsCleanlyAndTheCheckpointResumes) {
  // A long run (interrupted long before its end): "train: step 0" is printed after the first
  // evaluation, inside the command.
  auto args = tiny("int", 100000, "20");
  SignalPlan plan;
  plan.signal = SIGINT;
  plan.after_stderr = "train: step 0";
  plan.delay_us = 300000;
  plan.env = {{"OMP_WAIT_POLICY", "PASSIVE"}};
  const SignalledRun r = run_cli_signalled(args, plan);
  ASSERT_TRUE(r.signal_sent) << r.err;
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_EQ(r.term_signal, 0) << "killed by the signal instead of stopping";
  EXPECT_TRUE(contains(r.err, "attnlab: interrupted")) << r.err;
  const fs::path d = dir_ / "int";
  EXPECT_TRUE(temp_files(d).empty());
  for (const char* f : {"train.json", "model.safetensors", "config.json"})
    EXPECT_FALSE(fs::exists(d / f)) << f;
  // The last checkpoint (if the run got that far) is whole, and --resume continues from it
  // (--stop-after: a few steps more, not the whole long run).
  if (fs::exists(d / "checkpoint.safetensors")) {
    const auto s = models::tinylm::load_checkpoint(d / "checkpoint.safetensors");
    EXPECT_EQ(s.step % 20, 0);
    auto resume = args;
    resume.insert(resume.end(), {"--resume", "--stop-after", str_cat(s.step + 5)});
    const auto rr = run_cli(resume);
    ASSERT_EQ(rr.exit_code, 0) << rr.err;
    EXPECT_EQ(models::tinylm::load_checkpoint(d / "checkpoint.safetensors").step, s.step + 5);
  } else {
    std::printf("[ crash    ] train SIGINT: stopped before the first checkpoint\n");
  }
  // SIGTERM: the same clean stop, exit 143.
  plan.signal = SIGTERM;
  const SignalledRun t = run_cli_signalled(tiny("term", 100000, "0"), plan);
  ASSERT_TRUE(t.signal_sent) << t.err;
  EXPECT_EQ(t.exit_code, 143) << t.err;
  EXPECT_TRUE(contains(t.err, "interrupted")) << t.err;
  EXPECT_TRUE(temp_files(dir_ / "term").empty());
  EXPECT_FALSE(fs::exists(dir_ / "term" / "train.json"));
}

TEST_F(CrashSafetyTrain, FullDiskDuringACheckpointKeepsTheOldOne) {
  // A checkpoint at step 3, then a resumed run whose files may not grow past 64 KiB: the next
  // checkpoint (~140 KB) cannot be written.
  auto first = tiny("run", 20);
  first.insert(first.end(), {"--stop-after", "3"});
  ASSERT_EQ(run_cli(first).exit_code, 0);
  const fs::path ckpt = dir_ / "run" / "checkpoint.safetensors";
  const std::string before = read_file(ckpt);
  ASSERT_GT(before.size(), 65536u);
  auto resume = tiny("run", 20);
  resume.push_back("--resume");
  SignalPlan plan;
  plan.signal = 0;
  plan.file_size_limit = 65536;
  const SignalledRun r = run_cli_signalled(resume, plan);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "attnlab: input error")) << r.err;
  EXPECT_TRUE(contains(r.err, ckpt.string())) << r.err;
  EXPECT_TRUE(contains(r.err, "File too large")) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(read_file(ckpt), before) << "the old checkpoint was lost";
  EXPECT_TRUE(temp_files(dir_ / "run").empty());
  EXPECT_FALSE(fs::exists(dir_ / "run" / "model.safetensors"));
  // With room again, the same resume finishes.
  const auto ok = run_cli(resume);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

// ---------------------------------------------------------------------------------------------
// --json outputs: `attnlab ntk` on the small data of kernel_cli_support.hpp

using CrashSafetyJson = testing::KernelCli;

std::vector<std::string> ntk_args(const testing::KernelCli& t, const std::string& json,
                                  const std::string& widths = "8,32",
                                  const std::string& seeds = "3") {
  (void)t;
  return {"ntk", "--widths",  widths, "--seeds",    seeds, "--n-train",
          "40",  "--n-test",  "20",   "--epochs-a", "2",   "--steps-b",
          "5",   "--threads", "1",    "--json",     json};
}

TEST_F(CrashSafetyJson, SigkillAtRandomPointsLeavesNoHalfWrittenJson) {
  const auto base = [&](const std::string& json) {
    auto a = ntk_args(*this, json, "32,64", "40");
    a.insert(a.end(), {"--x", p("x.npy"), "--y", p("y.npy")});
    return a;
  };
  testing::CliResult ref;
  const double run_seconds = seconds_of([&] { ref = run_cli(base(p("ref.json"))); });
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  const auto ref_records =
      without_timings(nlohmann::json::parse(read_file(dir_ / "ref.json"))["result"]["records"]);
  constexpr int kTrials = 12;
  Rng rng(777);
  double upper = 1.5 * run_seconds;  // adapts down as in the train test
  int killed = 0, finished_first = 0, complete_after_kill = 0;
  std::set<std::string> temps_left;
  for (int t = 0; t < kTrials; ++t) {
    SCOPED_TRACE(str_cat("trial ", t));
    const fs::path out = dir_ / str_cat("r", t, ".json");
    // Half the kill points in the last fifth of the run, where the output is written.
    const double delay = t % 2 == 0 ? rng.uniform(0.0, upper) : rng.uniform(0.8 * upper, upper);
    SignalPlan plan;
    plan.delay_us = static_cast<long long>(delay * 1e6);
    const SignalledRun k = run_cli_signalled(base(out.string()), plan);
    if (k.term_signal == SIGKILL) {
      ++killed;
      if (fs::exists(out)) ++complete_after_kill;
    } else {
      ++finished_first;
      EXPECT_EQ(k.exit_code, 0) << k.err;
      upper = std::min(upper, 0.95 * delay);
    }
    for (const std::string& tmp : temp_files(dir_.path())) temps_left.insert(tmp);
    if (fs::exists(out)) {
      try {
        const auto j = nlohmann::json::parse(read_file(out));
        EXPECT_TRUE(without_timings(j["result"]["records"]) == ref_records)
            << "a complete JSON with other records";
      } catch (const nlohmann::json::exception& e) {
        ADD_FAILURE() << "half-written JSON under the final name: " << e.what();
      }
    }
    const auto again = run_cli(base(out.string()));
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_TRUE(without_timings(nlohmann::json::parse(read_file(out))["result"]["records"]) ==
                ref_records)
        << "the rerun differs from the reference";
  }
  std::printf(
      "[ crash    ] ntk --json (%.2f s a run): %d trials, %d killed (%d after the output "
      "was in place), %d finished first; %d temporaries left by kills\n",
      run_seconds, kTrials, killed, complete_after_kill, finished_first,
      static_cast<int>(temps_left.size()));
}

TEST_F(CrashSafetyJson, SigintStopsALongSweepWithNoOutput) {
  auto args = ntk_args(*this, p("r.json"), "32,64", "1000");
  args.insert(args.end(), {"--x", p("x.npy"), "--y", p("y.npy")});
  SignalPlan plan;
  plan.signal = SIGINT;
  plan.after_stderr = "ntk sweep:";
  plan.delay_us = 200000;
  plan.env = {{"ATTNLAB_PROGRESS_SECONDS", "0"}};
  const SignalledRun r = run_cli_signalled(args, plan);
  ASSERT_TRUE(r.signal_sent) << r.err;
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_TRUE(contains(r.err, "attnlab: interrupted")) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "r.json"));
  EXPECT_TRUE(temp_files(dir_.path()).empty());
}

TEST_F(CrashSafetyJson, DevFullIsAClearInputError) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  auto args = ntk_args(*this, "/dev/full");
  args.insert(args.end(), {"--x", p("x.npy"), "--y", p("y.npy")});
  const auto r = run_cli(args);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "/dev/full")) << r.err;
  EXPECT_TRUE(contains(r.err, "No space left on device")) << r.err;
  // Through a link: the device is written in place and stays a device.
  fs::create_symlink("/dev/full", dir_ / "full_link.json");
  const auto l = run_cli([&] {
    auto a = ntk_args(*this, p("full_link.json"));
    a.insert(a.end(), {"--x", p("x.npy"), "--y", p("y.npy")});
    return a;
  }());
  EXPECT_EQ(l.exit_code, 3) << l.err;
  EXPECT_TRUE(contains(l.err, "No space left on device")) << l.err;
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir_ / "full_link.json")));
  EXPECT_TRUE(temp_files(dir_.path()).empty());
}

TEST_F(CrashSafetyJson, FileSizeLimitKeepsTheOldOutput) {
  auto args = ntk_args(*this, p("r.json"));
  args.insert(args.end(), {"--x", p("x.npy"), "--y", p("y.npy")});
  const auto ref = run_cli(args);
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  const std::string full = read_file(dir_ / "r.json");
  ASSERT_GT(full.size(), 16384u);
  const std::string old = "{\"old\": true}\n";
  testing::write_bytes(dir_ / "r.json", old);
  SignalPlan plan;
  plan.signal = 0;
  plan.file_size_limit = 8192;  // stdout and stderr fit, the JSON does not
  const SignalledRun r = run_cli_signalled(args, plan);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "attnlab: input error")) << r.err;
  EXPECT_TRUE(contains(r.err, (dir_ / "r.json").string())) << r.err;
  EXPECT_TRUE(contains(r.err, "File too large")) << r.err;
  EXPECT_EQ(read_file(dir_ / "r.json"), old) << "the earlier output was lost";
  EXPECT_TRUE(temp_files(dir_.path()).empty());
}

// A real full file system: a 64 KiB tmpfs mounted in a private mount namespace (needs the
// privilege to mount; skipped where there is none). The intermediate child mounts and fills it,
// runs the CLI there and reports what it saw in a file outside the mount.
TEST_F(CrashSafetyJson, FullTmpfsKeepsTheOldOutput) {
  auto args = ntk_args(*this, p("full/r.json"));
  args.insert(args.end(), {"--x", p("x.npy"), "--y", p("y.npy")});
  fs::create_directory(dir_ / "full");
  const fs::path report = dir_ / "report.json";
  const std::string old = "{\"old\": true}\n";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(77);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(77);
    if (::mount("attnlab-test", (dir_ / "full").c_str(), "tmpfs", 0, "size=64k") != 0) ::_exit(77);
    nlohmann::json rep;
    try {
      testing::write_bytes(dir_ / "full" / "r.json", old);
      // Fill all but ~2 pages: the JSON (> 16 KB) does not fit.
      struct statvfs sv {};
      ::statvfs((dir_ / "full").c_str(), &sv);
      const std::size_t free_bytes = static_cast<std::size_t>(sv.f_bavail) * sv.f_frsize;
      if (free_bytes > 8192) {
        testing::write_bytes(dir_ / "full" / "filler", std::string(free_bytes - 8192, 'x'));
      }
      const auto r = run_cli(args);
      rep["exit_code"] = r.exit_code;
      rep["err"] = r.err;
      rep["old_kept"] = read_file(dir_ / "full" / "r.json") == old;
      rep["temps"] = temp_files(dir_ / "full");
    } catch (const std::exception& e) {
      rep["error"] = e.what();
    }
    std::FILE* f = std::fopen(report.c_str(), "w");
    if (f) {
      const std::string text = rep.dump();
      std::fwrite(text.data(), 1, text.size(), f);
      std::fclose(f);
    }
    ::umount((dir_ / "full").c_str());
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot mount a tmpfs here";
  const auto rep = nlohmann::json::parse(read_file(report));
  ASSERT_FALSE(rep.contains("error")) << rep.dump();
  const std::string err = rep["err"];
  EXPECT_EQ(rep["exit_code"], 3) << err;
  EXPECT_TRUE(contains(err, (dir_ / "full" / "r.json").string())) << err;
  EXPECT_TRUE(contains(err, "No space left on device")) << err;
  EXPECT_TRUE(rep["old_kept"].get<bool>());
  EXPECT_TRUE(rep["temps"].empty()) << rep.dump();
}

// The library's writer itself, under RLIMIT_FSIZE in a child: a short write is detected, the
// temporary removed and the old file kept (the CLI tests above see the same through ntk/train).
TEST(CrashSafetyWriter, ShortWriteIsDetectedAndTheOldFileKept) {
  testing::TempDir dir;
  const fs::path target = dir / "out.bin";
  testing::write_bytes(target, "old");
  const fs::path report = dir / "msg.txt";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit lim{4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    std::string msg = "nothing thrown";
    try {
      write_file_atomic(target, std::string(10000, 'y'));
    } catch (const InputError& e) {
      msg = e.what();
    } catch (const std::exception& e) {
      msg = std::string("wrong type: ") + e.what();
    }
    const int fd = ::open(report.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      [[maybe_unused]] const ssize_t n = ::write(fd, msg.data(), msg.size());
      ::close(fd);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  const std::string msg = read_file(report);
  EXPECT_TRUE(contains(msg, target.string())) << msg;
  EXPECT_TRUE(contains(msg, "File too large")) << msg;
  EXPECT_EQ(read_file(target), "old");
  EXPECT_TRUE(temp_files(dir.path()).empty());
}

// ---------------------------------------------------------------------------------------------
// attnlab report: every file of the page is written through one OutputSet, so a SIGKILL at any
// point leaves each final name absent, old, or complete.

// True when `html` is a whole page (the renderer's last bytes).
bool is_complete_page(const std::string& html) {
  return html.size() > 16 && html.compare(html.size() - 8, 8, "</html>\n") == 0;
}

TEST(CrashSafetyReport, SigkillAtRandomPointsLeavesNoHalfWrittenPage) {
  if (!report::gnuplot_available()) GTEST_SKIP() << "gnuplot not installed";
  testing::TempDir dir;
  const auto args = [&](const fs::path& out) {
    return std::vector<std::string>{"report",    "--quick", "--only", "variants",
                                    "--threads", "1",       "--out",  out.string()};
  };
  testing::CliResult ref;
  const double run_seconds = seconds_of([&] { ref = run_cli(args(dir / "ref")); });
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  const auto ref_result = without_timings(
      nlohmann::json::parse(read_file(dir / "ref" / "data" / "variants.json"))["result"]);
  ASSERT_TRUE(is_complete_page(read_file(dir / "ref" / "index.html")));
  constexpr int kTrials = 10;
  Rng rng(4242);
  double upper = 1.5 * run_seconds;
  int killed = 0, finished_first = 0, page_after_kill = 0;
  for (int t = 0; t < kTrials; ++t) {
    SCOPED_TRACE(str_cat("trial ", t));
    const fs::path out = dir / str_cat("r", t);
    const double delay = t % 2 == 0 ? rng.uniform(0.0, upper) : rng.uniform(0.7 * upper, upper);
    SignalPlan plan;
    plan.delay_us = static_cast<long long>(delay * 1e6);
    const SignalledRun k = run_cli_signalled(args(out), plan);
    if (k.term_signal == SIGKILL) {
      ++killed;
      page_after_kill += fs::exists(out / "index.html");
    } else {
      ++finished_first;
      EXPECT_EQ(k.exit_code, 0) << k.err;
      upper = std::min(upper, 0.95 * delay);
    }
    if (fs::exists(out / "index.html")) {
      EXPECT_TRUE(is_complete_page(read_file(out / "index.html"))) << "half-written index.html";
    }
    if (fs::exists(out / "data" / "variants.json")) {
      try {
        const auto j = nlohmann::json::parse(read_file(out / "data" / "variants.json"));
        EXPECT_TRUE(without_timings(j["result"]) == ref_result) << "a complete file, other data";
      } catch (const nlohmann::json::exception& e) {
        ADD_FAILURE() << "half-written data/variants.json: " << e.what();
      }
    }
    const auto again = run_cli(args(out));
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_TRUE(is_complete_page(read_file(out / "index.html")));
  }
  std::printf(
      "[ crash    ] report --quick --only variants (%.2f s a run): %d trials, %d killed (%d "
      "after the page was in place), %d finished first\n",
      run_seconds, kTrials, killed, page_after_kill, finished_first);
}

}  // namespace
}  // namespace attnlab
