#include "attnlab/core/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <system_error>

#include "attnlab/core/error.hpp"

namespace attnlab {
namespace fs = std::filesystem;
namespace {

fs::path temp_name_for(const fs::path& path) {
  static std::atomic<unsigned> counter{0};
  fs::path tmp = path;
  tmp += str_cat(".tmp-", ::getpid(), "-", counter.fetch_add(1));
  return tmp;
}

void write_bytes(const fs::path& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    throw InputError(str_cat("cannot write '", path.string(), "': ", std::strerror(errno)));
  }
  const std::size_t written = std::fwrite(bytes.data(), 1, bytes.size(), f);
  const int err = errno;
  const bool ok = written == bytes.size() && std::fflush(f) == 0;
  std::fclose(f);
  if (!ok) {
    std::error_code ec;
    fs::remove(path, ec);
    throw InputError(str_cat("cannot write '", path.string(), "': ", std::strerror(err)));
  }
}

// Writes bytes straight into an existing FIFO or character device, or appends them to the
// regular file behind /dev/stdout (no temporary, no rename).
void write_in_place(const fs::path& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    throw InputError(str_cat("cannot write '", path.string(), "': ", std::strerror(errno)));
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      throw InputError(str_cat("cannot write '", path.string(), "': ", std::strerror(err)));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    throw InputError(str_cat("cannot write '", path.string(), "': ", std::strerror(errno)));
  }
}

// Follows a chain of symbolic links (up to 40) to the path it finally names, which may not
// exist yet (a dangling link: the file is created there).
fs::path follow_links(const fs::path& path) {
  fs::path cur = path;
  for (int hop = 0; hop < 40; ++hop) {
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(cur, ec))) return cur;
    const fs::path target = fs::read_symlink(cur, ec);
    if (ec) throw InputError(str_cat("cannot read the link '", cur.string(), "': ", ec.message()));
    cur = target.is_absolute() ? target : cur.parent_path() / target;
  }
  throw InputError(str_cat("cannot write '", path.string(), "': too many levels of links"));
}

}  // namespace

OutputTarget resolve_output_target(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {  // follows links (also /dev/stdout -> /proc/self/fd/1)
    if (S_ISREG(st.st_mode)) {
      // /dev/stdout, /dev/fd/N, /proc/self/fd/N on a redirected file: the caller's open file, so
      // append to it in place rather than renaming a new file over its name.
      const std::string s = path.lexically_normal().string();
      if (s.rfind("/dev/", 0) == 0 || s.rfind("/proc/", 0) == 0) return {path, true};
      std::error_code ec;
      const fs::path real = fs::canonical(path, ec);
      return {ec ? follow_links(path) : real, false};
    }
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) return {path, true};
    const char* kind = S_ISDIR(st.st_mode)    ? "a directory"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a regular file";
    throw InputError(str_cat("cannot write '", path.string(), "': it is ", kind,
                             " (outputs go to a regular file, a FIFO or a character device)"));
  }
  return {follow_links(path), false};  // new file, possibly through a dangling link
}

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  OutputSet set;
  set.add(path, std::string(bytes));
  set.commit();
}

void OutputSet::add(fs::path path, std::string bytes) {
  pending_.push_back({std::move(path), std::move(bytes)});
}

void OutputSet::commit() {
  // Regular files (and new ones) go through a temporary beside the final target (links are
  // followed, so a symlink stays a link to the new file); FIFOs and character devices are written
  // in place after every temporary is complete, and renames come last.
  std::vector<OutputTarget> targets;
  for (const auto& p : pending_) targets.push_back(resolve_output_target(p.path));
  std::vector<fs::path> temps(pending_.size());
  auto cleanup = [&temps] {
    std::error_code ec;
    for (const auto& t : temps)
      if (!t.empty()) fs::remove(t, ec);
  };
  try {
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      if (targets[i].in_place) continue;
      temps[i] = temp_name_for(targets[i].path);
      write_bytes(temps[i], pending_[i].bytes);
    }
    for (std::size_t i = 0; i < pending_.size(); ++i)
      if (targets[i].in_place) write_in_place(targets[i].path, pending_[i].bytes);
  } catch (...) {
    cleanup();
    throw;
  }
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    if (targets[i].in_place) continue;
    std::error_code ec;
    fs::rename(temps[i], targets[i].path, ec);
    if (ec) {
      cleanup();
      throw InputError(str_cat("cannot move output into place at '", pending_[i].path.string(),
                               "': ", ec.message()));
    }
  }
  pending_.clear();
}

void check_output_directory(const fs::path& dir, std::string_view what) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec))
      throw InputError(str_cat(what, " '", dir.string(), "' exists and is not a directory"));
    if (::access(dir.c_str(), W_OK) != 0)
      throw InputError(str_cat(what, " '", dir.string(), "' is not writable"));
    return;
  }
  fs::path parent = fs::absolute(dir, ec).parent_path();
  while (!parent.empty() && !fs::exists(parent, ec) && parent != parent.parent_path())
    parent = parent.parent_path();
  if (!fs::is_directory(parent, ec) || ::access(parent.c_str(), W_OK) != 0)
    throw InputError(str_cat(what, " '", dir.string(), "' cannot be created (", parent.string(),
                             " is not a writable directory)"));
}

std::string read_file(const fs::path& path, const char* what) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw InputError(str_cat(what, " not found: '", path.string(), "'"));
  }
  if (fs::is_directory(path, ec)) {
    throw InputError(str_cat(what, " is a directory, expected a file: '", path.string(), "'"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(str_cat("cannot open ", what, " '", path.string(), "'"));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError(str_cat("error reading ", what, " '", path.string(), "'"));
  return bytes;
}

}  // namespace attnlab
