// attnlab/core/atomic_file.hpp — all-or-nothing output files.
//
// A failed run must leave no partial output. Every output goes through here: bytes are written
// to a temporary file in the destination directory and renamed over the destination only after
// the write succeeded. OutputSet extends this to a group of files (e.g. O.npy + A.npy + R.json):
// nothing is renamed until every temporary file of the group has been written.
//
// Destinations are looked at first (resolve_output_target): a symbolic link is followed and the
// file it names is replaced atomically (the link stays a link); a FIFO or a character device
// (/dev/null, /dev/stdout on a pipe or terminal) is written in place, with no temporary and no
// rename, after every temporary of the group is complete — so is a regular file reached through
// /dev/ or /proc/ (/dev/stdout redirected to a file: appended); a directory, block device or socket is
// an InputError. So `--out /dev/full` fails with ENOSPC and leaves the device node alone.
//
// Durability: the temporary (`<name>.tmp-<pid>-<n>`, created with O_EXCL so it never follows a
// planted link or truncates a file) is fsync'ed before the rename and the directory after it, so
// after a crash or power loss the final name holds the old bytes or the new ones, never a prefix.
// A process killed mid-write can leave a `.tmp-` file behind; the final name is untouched.
//
// Errors: an unwritable destination, a short write (disk full, file-size limit), or a failed
// fsync/close throws InputError naming the destination and the OS reason; the temporary is
// removed and the destination keeps its old content.
//
// Usage:
//   write_file_atomic("out/result.json", json_text);
//   OutputSet outs;  outs.add("O.npy", npy_bytes);  outs.add("R.json", text);  outs.commit();
//   outs.add("O.npy", npy_header_f32(shape), body_view);  // body borrowed: no copy of big data
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace attnlab {

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// Where an output for `path` really goes: the final path (links followed) and whether it is
// written in place (FIFO, character device). InputError for any other non-regular file.
struct OutputTarget {
  std::filesystem::path path;
  bool in_place = false;
};
OutputTarget resolve_output_target(const std::filesystem::path& path);

class OutputSet {
 public:
  void add(std::filesystem::path path, std::string bytes);
  // The file is `head` followed by `borrowed_body`, which is not copied: the memory it views
  // must stay valid and unchanged until commit() returns.
  void add(std::filesystem::path path, std::string head, std::string_view borrowed_body);
  bool empty() const { return pending_.empty(); }
  // Writes every file to a temporary name, then renames them all into place.
  void commit();

 private:
  struct Pending {
    std::filesystem::path path;
    std::string bytes;          // owned head
    std::string_view borrowed;  // written after it
  };
  std::vector<Pending> pending_;
};

// Fails before any work is done (InputError naming `what` and the path) when `dir` exists and is
// not a writable directory, or does not exist and cannot be created under a writable parent.
void check_output_directory(const std::filesystem::path& dir, std::string_view what);

// Reads a whole file; InputError naming the path when it is missing or unreadable.
std::string read_file(const std::filesystem::path& path, const char* what = "file");

}  // namespace attnlab
