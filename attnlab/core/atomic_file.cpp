#include "attnlab/core/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
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

// write(2) until every byte is out: short writes are continued, EINTR is retried, and any other
// failure (ENOSPC, EFBIG under RLIMIT_FSIZE, EIO) is returned as its errno (0 on success).
int write_all(int fd, std::string_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;  // no progress and no error: never loop forever
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

// fsync(2), retried on EINTR; 0 on success or where the file system cannot sync this kind of
// file (EINVAL), else the errno.
int sync_fd(int fd) {
  while (::fsync(fd) != 0) {
    if (errno == EINTR) continue;
    return errno == EINVAL ? 0 : errno;
  }
  return 0;
}

// Writes `bytes` to a new temporary file beside `dest` and makes them durable (fsync) before it
// is renamed over `dest`, so neither a crash nor a power loss after the rename can expose an
// empty or truncated file under the final name. The name is fresh (O_EXCL; one left by a killed
// run whose PID came round again is skipped, never reused). Returns the temporary's path. Every
// failure (open, short write, fsync, close) removes the temporary and throws an InputError
// naming the destination and the OS reason.
fs::path write_temp(const fs::path& dest, std::string_view bytes, std::string_view more) {
  fs::path temp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    temp = temp_name_for(dest);
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    const int open_err = errno;
    throw InputError(str_cat("cannot write '", dest.string(), "': ", std::strerror(open_err),
                             " (creating the temporary '", temp.string(), "')"));
  }
  const char* step = "write";
  int err = write_all(fd, bytes);
  if (err == 0) err = write_all(fd, more);
  if (err == 0) {
    err = sync_fd(fd);
    step = "fsync";
  }
  // Linux closes the descriptor even when close() fails with EINTR; only a real error counts.
  if (::close(fd) != 0 && err == 0 && errno != EINTR) {
    err = errno;
    step = "close";
  }
  if (err != 0) {
    ::unlink(temp.c_str());
    throw InputError(str_cat("cannot write '", dest.string(), "': ", std::strerror(err), " (", step,
                             " of its temporary file failed; the temporary was removed and '",
                             dest.filename().string(), "' is unchanged)"));
  }
  return temp;
}

// fsync of the directory that holds `file`, so the rename itself survives a crash. A directory
// that cannot be opened for reading is skipped: the file is complete under its final name
// either way, only the durability of the rename is not forced.
void sync_parent_directory(const fs::path& file) {
  fs::path dir = file.parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  const int err = sync_fd(fd);
  ::close(fd);
  if (err != 0) {
    throw InputError(str_cat("cannot sync the directory '", dir.string(), "' after writing '",
                             file.string(), "': ", std::strerror(err)));
  }
}

// Writes bytes straight into an existing FIFO or character device, or appends them to the
// regular file behind /dev/stdout (no temporary, no rename).
void write_in_place(const fs::path& path, std::string_view bytes, std::string_view more) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    throw InputError(str_cat("cannot write '", path.string(), "': ", std::strerror(errno)));
  }
  int err = write_all(fd, bytes);
  if (err == 0) err = write_all(fd, more);
  if (err != 0) {
    ::close(fd);
    throw InputError(str_cat("cannot write '", path.string(), "': ", std::strerror(err)));
  }
  if (::close(fd) != 0 && errno != EINTR) {
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
  pending_.push_back({std::move(path), std::move(bytes), {}});
}

void OutputSet::add(fs::path path, std::string head, std::string_view borrowed_body) {
  pending_.push_back({std::move(path), std::move(head), borrowed_body});
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
      temps[i] = write_temp(targets[i].path, pending_[i].bytes, pending_[i].borrowed);
    }
    for (std::size_t i = 0; i < pending_.size(); ++i)
      if (targets[i].in_place)
        write_in_place(targets[i].path, pending_[i].bytes, pending_[i].borrowed);
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
    temps[i].clear();  // renamed: no longer ours to remove
  }
  // Make the renames durable: one fsync per destination directory.
  std::vector<fs::path> synced;
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    if (targets[i].in_place) continue;
    const fs::path dir = targets[i].path.parent_path();
    if (std::find(synced.begin(), synced.end(), dir) != synced.end()) continue;
    synced.push_back(dir);
    sync_parent_directory(targets[i].path);
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
