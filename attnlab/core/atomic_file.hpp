// attnlab/core/atomic_file.hpp — all-or-nothing output files.
//
// A failed run must leave no partial output. Every output goes through here: bytes are written
// to a temporary file in the destination directory and renamed over the destination only after
// the write succeeded. OutputSet extends this to a group of files (e.g. O.npy + A.npy + R.json):
// nothing is renamed until every temporary file of the group has been written.
//
// Errors: an unwritable destination throws InputError naming the path and the OS reason.
//
// Usage:
//   write_file_atomic("out/result.json", json_text);
//   OutputSet outs;  outs.add("O.npy", npy_bytes);  outs.add("R.json", text);  outs.commit();
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace attnlab {

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

class OutputSet {
 public:
  void add(std::filesystem::path path, std::string bytes);
  bool empty() const { return pending_.empty(); }
  // Writes every file to a temporary name, then renames them all into place.
  void commit();

 private:
  struct Pending {
    std::filesystem::path path;
    std::string bytes;
  };
  std::vector<Pending> pending_;
};

// Reads a whole file; InputError naming the path when it is missing or unreadable.
std::string read_file(const std::filesystem::path& path, const char* what = "file");

}  // namespace attnlab
