#include "attnlab/core/atomic_file.hpp"

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

}  // namespace

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  OutputSet set;
  set.add(path, std::string(bytes));
  set.commit();
}

void OutputSet::add(fs::path path, std::string bytes) {
  pending_.push_back({std::move(path), std::move(bytes)});
}

void OutputSet::commit() {
  std::vector<fs::path> temps;
  auto cleanup = [&temps] {
    std::error_code ec;
    for (const auto& t : temps) fs::remove(t, ec);
  };
  try {
    for (const auto& p : pending_) {
      temps.push_back(temp_name_for(p.path));
      write_bytes(temps.back(), p.bytes);
    }
  } catch (...) {
    cleanup();
    throw;
  }
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    std::error_code ec;
    fs::rename(temps[i], pending_[i].path, ec);
    if (ec) {
      cleanup();
      throw InputError(str_cat("cannot move output into place at '", pending_[i].path.string(),
                               "': ", ec.message()));
    }
  }
  pending_.clear();
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
