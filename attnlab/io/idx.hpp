// attnlab/io/idx.hpp — reader for the IDX format of MNIST and Fashion-MNIST, gzip or plain.
//
// Layout (all integers big-endian):
//   byte 0, 1   zero
//   byte 2      element type: 0x08 unsigned byte (the only type read here; 0x09 i8, 0x0B i16,
//               0x0C i32, 0x0D f32 and 0x0E f64 are recognised and rejected by name)
//   byte 3      ndim (1 to 3 here)
//   ndim x u32  dims (each >= 1)
//   data        product(dims) elements in C order
// A file that starts with the gzip magic 1f 8b is inflated first (concatenated gzip members are
// accepted, as gzip(1) does); anything else is read as plain IDX.
//
// Invariants: magic, type, ndim and dims (nonzero, product overflow-checked and at most
// kIdxMaxElements) are validated before any allocation sized by the header; the data must be
// exactly product(dims) bytes (truncated data and trailing bytes are FormatErrors); a gzip stream
// is never inflated past header + expected data + 1 byte, and the output buffer grows only with
// bytes actually inflated, so a lying header or a gzip bomb cannot make it allocate much.
//
// Errors: FormatError naming the source, the field and the value; InputError for a missing or
// unreadable file.
//
// Usage:
//   IdxArray images = load_idx("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
//   // images.dims == {60000, 28, 28}; images.data[(i * 28 + r) * 28 + c]
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::io {

// Limit on the element count of one IDX array (4 GiB of bytes; Fashion-MNIST train is 47 MB).
inline constexpr std::uint64_t kIdxMaxElements = std::uint64_t{1} << 32;

struct IdxArray {
  std::vector<Index> dims;         // 1 to 3 dims, each >= 1
  std::vector<std::uint8_t> data;  // [product of dims], C order
};

// Parses IDX bytes, gzip-compressed or plain; `source_name` prefixes every error message.
IdxArray parse_idx(std::string_view bytes, const std::string& source_name);
// Reads and parses a file; InputError naming the path when it is missing or unreadable.
IdxArray load_idx(const std::filesystem::path& path);

}  // namespace attnlab::io
