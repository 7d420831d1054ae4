// attnlab/io/safetensors.hpp — strict safetensors reader (mmap + views) and writer.
//
// File layout (huggingface/safetensors; details in shared/reference/gpt2_formats_and_style.md A1):
//
//   bytes 0..7        N, unsigned 64-bit little-endian: length of the JSON header
//   bytes 8..8+N-1    UTF-8 JSON object: { "__metadata__": {str: str}?,
//                                          "<name>": {"dtype": "F32", "shape": [..],
//                                                     "data_offsets": [BEGIN, END]}, ... }
//   bytes 8+N..EOF    data block; tensor bytes are [BEGIN, END) relative to its start,
//                     little-endian, C order, densely packed
//
// The reader treats the file as untrusted. Every check below runs before any allocation sized
// by the file and before any view is handed out; the first failure throws SafetensorsError (a
// FormatError) whose message names the file, the field or tensor, and the values, and whose
// code() tests can assert on:
//   header_too_small      fewer than 8 bytes
//   header_too_large      N > 100,000,000 (the reference's MAX_HEADER_SIZE)
//   invalid_header_length 8 + N beyond the end of the file
//   invalid_json          not UTF-8 JSON, not an object, bytes other than JSON whitespace around
//                         it (NUL padding is rejected, like the reference), nesting > 16
//   duplicate_key         any object repeats a key (io/json_strict.hpp)
//   bad_metadata          __metadata__ not null / an object of string values
//   bad_tensor_info       a tensor entry that is not an object with exactly the fields dtype,
//                         shape, data_offsets (extra fields are errors here: the JSON schema's
//                         additionalProperties: false), shape not an array of at most 64
//                         integers in [0, 2^48), data_offsets not two integers in [0, 2^48)
//   unknown_dtype         dtype not in the table below (never skipped)
//   overflow              numel or numel * bits overflows 64 bits
//   misaligned_slice      numel * bits not a multiple of 8 (sub-byte dtypes)
//   invalid_offset        END < BEGIN, or END - BEGIN != numel * bits / 8
//   incomplete_coverage   sorted by (BEGIN, END) the slices do not tile the data block exactly:
//                         a gap, an overlap (two tensors sharing bytes), or trailing bytes /
//                         a truncated file (the last END must equal the data block's size)
//
// dtypes and bits: BOOL U8 I8 F8_E5M2 F8_E4M3 F8_E8M0 F8_E4M3FNUZ F8_E5M2FNUZ (8); I16 U16 F16
// BF16 (16); I32 U32 F32 (32); I64 U64 F64 C64 (64); F4 (4); F6_E2M3 F6_E3M2 (6). Every dtype is
// parsed and validated; read_f32() converts F32, F16, BF16 and F64 to fp32 and rejects the rest.
//
// Storage: a file is memory-mapped read-only (one mapping, shared by copies of the
// SafetensorsFile; the file must not be truncated by another process while mapped — the
// validation ran on the bytes as they were); in-memory bytes are held in one buffer. Views are
// spans into it; read_f32 copies (so misaligned data, as written by writers that do not pad, is
// handled).
//
// Writer: tensors sorted by dtype alignment (descending) then name, header padded with spaces to
// a multiple of 8 so every tensor is aligned to its element size, metadata optional. F32 input can
// be stored as F32, F16 or BF16 (round to nearest even).
//
// Usage:
//   SafetensorsFile f = SafetensorsFile::open("model.safetensors");
//   const SafetensorsTensor* t = f.find("wte.weight");   // t->shape == {50257, 768}
//   std::vector<float> w = f.read_f32(*t);
//   SafetensorsWriter w;  w.add_f32("x", {2, 3}, data);  w.save("out.safetensors");
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attnlab/core/error.hpp"
#include "attnlab/core/tensor.hpp"

namespace attnlab::io {

enum class SafetensorsDtype {
  BOOL,
  U8,
  I8,
  F8_E5M2,
  F8_E4M3,
  F8_E8M0,
  F8_E4M3FNUZ,
  F8_E5M2FNUZ,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  I64,
  U64,
  F64,
  C64,
  F4,
  F6_E2M3,
  F6_E3M2,
};

const char* to_string(SafetensorsDtype dtype);
// Bits per element (4, 6, 8, 16, 32 or 64).
int dtype_bits(SafetensorsDtype dtype);
// True for the dtypes read_f32 converts: F32, F16, BF16, F64.
bool dtype_converts_to_f32(SafetensorsDtype dtype);

enum class SafetensorsErrorCode {
  header_too_small,
  header_too_large,
  invalid_header_length,
  invalid_json,
  duplicate_key,
  bad_metadata,
  bad_tensor_info,
  unknown_dtype,
  overflow,
  misaligned_slice,
  invalid_offset,
  incomplete_coverage,
  io,
};
const char* to_string(SafetensorsErrorCode code);

class SafetensorsError : public FormatError {
 public:
  SafetensorsError(SafetensorsErrorCode code, const std::string& message)
      : FormatError(message), code_(code) {}
  SafetensorsErrorCode code() const noexcept { return code_; }

 private:
  SafetensorsErrorCode code_;
};

inline constexpr std::uint64_t kSafetensorsMaxHeader = 100'000'000;
inline constexpr std::uint64_t kSafetensorsMaxDim = std::uint64_t{1} << 48;  // exclusive
inline constexpr std::size_t kSafetensorsMaxRank = 64;

struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::F32;
  std::vector<std::uint64_t> shape;  // [] = scalar
  std::uint64_t begin = 0, end = 0;  // byte range in the data block
  std::uint64_t numel = 0;
  std::uint64_t nbytes() const { return end - begin; }
};

// The validated header of a file (the bytes are not needed to hold it).
struct SafetensorsHeader {
  std::uint64_t header_length = 0;              // N
  std::uint64_t data_size = 0;                  // bytes of the data block
  std::vector<SafetensorsTensor> tensors;       // sorted by data offset
  std::map<std::string, std::string> metadata;  // empty when absent
};

// Validates the whole file image `bytes` (header and layout of the data block) as described
// above. `source` names the file in messages.
SafetensorsHeader parse_safetensors_header(std::span<const std::byte> bytes,
                                           std::string_view source);

class SafetensorsFile {
 public:
  // Maps the file read-only and validates it. InputError when missing/unreadable (naming the
  // path), SafetensorsError when malformed.
  static SafetensorsFile open(const std::filesystem::path& path);
  // Validates a file image held in memory.
  static SafetensorsFile from_bytes(std::string bytes, std::string source = "<memory>");

  const std::string& source() const { return source_; }
  const std::vector<SafetensorsTensor>& tensors() const { return header_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  // nullptr when absent.
  const SafetensorsTensor* find(std::string_view name) const;
  // The tensor's bytes inside the mapping (valid while any copy of this file lives).
  std::span<const std::byte> bytes(const SafetensorsTensor& t) const;
  // Values as fp32 (F32/F16/BF16/F64); FormatError naming the tensor and dtype otherwise.
  std::vector<float> read_f32(const SafetensorsTensor& t) const;
  // Same, into dst[0 .. t.numel).
  void read_f32_into(const SafetensorsTensor& t, float* dst) const;

 private:
  struct Storage;
  std::shared_ptr<const Storage> storage_;
  std::span<const std::byte> all_;  // the whole file image
  SafetensorsHeader header_;
  std::string source_;
};

class SafetensorsWriter {
 public:
  // Stores data[0 .. prod(shape)) as `as` (F32, F16 or BF16). UsageError on a duplicate name,
  // a negative dim or another dtype.
  void add_f32(std::string name, std::vector<Index> shape, const float* data,
               SafetensorsDtype as = SafetensorsDtype::F32);
  // Any dtype, bytes given as stored (size must be prod(shape) * bits / 8).
  void add_raw(std::string name, SafetensorsDtype dtype, std::vector<Index> shape,
               std::string bytes);
  void set_metadata(std::map<std::string, std::string> metadata) {
    metadata_ = std::move(metadata);
  }
  std::size_t size() const { return tensors_.size(); }
  // The complete file image.
  std::string encode() const;
  // encode() written atomically (core/atomic_file.hpp).
  void save(const std::filesystem::path& path) const;

 private:
  struct Pending {
    std::string name;
    SafetensorsDtype dtype;
    std::vector<Index> shape;
    std::string bytes;
  };
  std::vector<Pending> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace attnlab::io
