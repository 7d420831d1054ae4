// Tests for atomic outputs (core/atomic_file.hpp): regular files are replaced atomically, links
// are followed (and stay links), FIFOs and character devices are written in place (never replaced
// by a regular file), other kinds of file are clear errors, and a failed group leaves nothing.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"
#include "tests/support/test_support.hpp"

namespace attnlab {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int leftover_temps(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) ++n;
  return n;
}

TEST(AtomicFile, RegularFilesAreCreatedAndReplaced) {
  testing::TempDir dir;
  write_file_atomic(dir / "a.txt", "one");
  write_file_atomic(dir / "a.txt", "two");
  EXPECT_EQ(slurp(dir / "a.txt"), "two");
  EXPECT_EQ(leftover_temps(dir.path()), 0);
}

TEST(AtomicFile, SymlinkIsFollowedAndStaysALink) {
  testing::TempDir dir;
  write_file_atomic(dir / "target.txt", "old");
  fs::create_symlink("target.txt", dir / "link.txt");
  write_file_atomic(dir / "link.txt", "new");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir / "link.txt")));
  EXPECT_EQ(slurp(dir / "target.txt"), "new");
  // A dangling link creates the file it names.
  fs::create_symlink(dir / "made.txt", dir / "dangling.txt");
  write_file_atomic(dir / "dangling.txt", "made");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir / "dangling.txt")));
  EXPECT_EQ(slurp(dir / "made.txt"), "made");
}

// Reads what is waiting in a FIFO opened non-blocking (the payloads fit the pipe buffer).
std::string drain(int fd) {
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

TEST(AtomicFile, FifoIsWrittenInPlace) {
  testing::TempDir dir;
  const fs::path fifo = dir / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // A reader holds the FIFO open (non-blocking), so the write neither blocks nor hangs the test
  // if the FIFO were replaced by a regular file.
  const int fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(fd, 0);
  write_file_atomic(fifo, "through the pipe");
  EXPECT_EQ(drain(fd), "through the pipe");
  struct stat st {};
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced";
  // Through a symlink too.
  fs::create_symlink(fifo, dir / "to_pipe");
  write_file_atomic(dir / "to_pipe", "again");
  EXPECT_EQ(drain(fd), "again");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir / "to_pipe")));
  ::close(fd);
}

TEST(AtomicFile, CharacterDevicesAreWrittenInPlaceAndErrorsLeaveThemAlone) {
  testing::TempDir dir;
  // Twins of /dev/null and /dev/full inside the temporary directory (needs CAP_MKNOD).
  const fs::path null_dev = dir / "null", full_dev = dir / "full";
  if (::mknod(null_dev.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0 ||
      ::mknod(full_dev.c_str(), S_IFCHR | 0666, makedev(1, 7)) != 0) {
    GTEST_SKIP() << "cannot create device nodes here";
  }
  write_file_atomic(null_dev, "discarded");
  struct stat st {};
  ASSERT_EQ(::lstat(null_dev.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "the device node was replaced";
  const std::string msg = testing::thrown_message<InputError>([&] {
    OutputSet outs;
    outs.add(dir / "other.txt", "x");
    outs.add(full_dev, "y");
    outs.commit();
  });
  EXPECT_TRUE(testing::contains(msg, "full")) << msg;
  EXPECT_TRUE(testing::contains(msg, "No space left")) << msg;
  ASSERT_EQ(::lstat(full_dev.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_FALSE(fs::exists(dir / "other.txt")) << "a failed group must leave nothing";
  EXPECT_EQ(leftover_temps(dir.path()), 0);
}

TEST(AtomicFile, DirectoriesAndSocketsAreErrors) {
  testing::TempDir dir;
  fs::create_directory(dir / "d");
  const std::string msg =
      testing::thrown_message<InputError>([&] { write_file_atomic(dir / "d", "x"); });
  EXPECT_TRUE(testing::contains(msg, "is a directory")) << msg;
  EXPECT_TRUE(fs::is_directory(dir / "d"));
  EXPECT_EQ(resolve_output_target(dir / "new.txt").in_place, false);
  EXPECT_EQ(resolve_output_target("/dev/null").in_place, true);
}

}  // namespace
}  // namespace attnlab
