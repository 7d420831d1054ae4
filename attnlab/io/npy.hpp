// attnlab/io/npy.hpp — strict reader and writer for NumPy's .npy format.
//
// attnlab exchanges arrays with the outside world as .npy files: attention inputs q/k/v ([N, d],
// [H, N, d] or PyTorch's [B, H, N, d]), user data matrices ([n, D]), label vectors ([n]) and
// masks ([n]). This module reads them strictly and writes them in the form numpy itself writes.
//
// What the reader accepts (anything else is a FormatError naming the file, the field and the
// value):
//   * magic "\x93NUMPY", format versions 1.0 (u16 header length), 2.0 and 3.0 (u32 header length);
//   * a header that is a Python dict literal with exactly the keys 'descr', 'fortran_order' and
//     'shape', in any order, single or double quotes, optional trailing comma, whitespace padding;
//   * 'descr' one of the dtypes in NpyDtype. Multi-byte types must be little-endian ('<') or
//     native ('=', which like numpy we read as this machine's order: little-endian); one-byte types
//     may use '|', '<' or '='. Big-endian, object, structured, string, complex, half and datetime
//     dtypes are rejected by name;
//   * 'fortran_order' False or True. Fortran-order data (first index fastest, what
//     np.asfortranarray or a transposed array saves) is reordered while it is read: every reader
//     returns values in C order (last index fastest) with the shape the header states;
//   * 'shape' a tuple of 1 to 4 non-negative integers (0-dim scalars and ndim > 4 are rejected;
//     a 1-tuple needs its trailing comma, as in Python). Zero-sized dims such as (0, 4) are legal;
//   * element count <= kNpyMaxElements (products are overflow-checked), and the data bytes after
//     the header exactly count * itemsize: truncated data and trailing bytes are both errors;
//   * '|b1' bytes must be 0 or 1.
// Every check on sizes happens before any allocation whose size comes from the file's header.
// The header does not have to be 64-byte aligned on input (older writers used 16).
//
// What the writer produces: version 1.0 (2.0 only if the header would not fit in 65535 bytes),
// header "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }" padded with spaces and a
// final '\n' so that the data starts at a multiple of 64 bytes, data in C order. Shapes of 1 to
// 32 dims are written (numpy reads them all); this reader reads back 1 to 4 dims.
//
// Errors: FormatError (the bytes violate the format or the limits above), InputError (missing or
// unreadable file; a valid file with the wrong dtype, rank or values for the caller, e.g. NaN in
// q), Error (the caller passed an invalid shape to the writer).
//
// Usage:
//   Tensor3d q = load_npy_tensor3("q.npy", "q");            // [N, d] -> [1, N, d], or [H, N, d]
//   NpyHeads h = load_npy_heads("q.npy", "q");              // also [B, H, N, d] -> [B·H, N, d]
//   MatrixD x = load_npy_matrix("x.npy", "x");              // [n, D]
//   std::vector<std::int64_t> y = load_npy_labels("y.npy");  // [n]
//   NpyArray a = load_npy("any.npy");                        // any accepted dtype, as double
//   save_npy("out/O.npy", o);                                // Tensor3f/Tensor3d/MatrixF/MatrixD
//   outs.add("A.npy", encode_npy(a_map));                    // bytes for an OutputSet
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::io {

// Element types this reader accepts. Names follow numpy's dtype.str for little-endian data.
enum class NpyDtype { kBool, kI8, kU8, kI16, kU16, kI32, kU32, kI64, kU64, kF32, kF64 };

// numpy's canonical descr for the type ("<f4", "|u1", "|b1", ...).
const char* npy_dtype_descr(NpyDtype dtype);
// Bytes per element.
std::size_t npy_dtype_size(NpyDtype dtype);
bool npy_dtype_is_float(NpyDtype dtype);
// Integer or bool.
bool npy_dtype_is_integral(NpyDtype dtype);

// Reader limits: element count (2^34, i.e. 128 GiB as double) and rank.
inline constexpr std::uint64_t kNpyMaxElements = std::uint64_t{1} << 34;
inline constexpr int kNpyMaxReadDims = 4;
inline constexpr int kNpyMaxWriteDims = 32;

// What the header says, after validation against the file's size.
struct NpyHeader {
  int major_version = 1, minor_version = 0;
  NpyDtype dtype = NpyDtype::kF64;
  bool fortran_order = false;   // data bytes in Fortran order (readers convert to C order)
  std::vector<Index> shape;     // 1 to 4 dims, each >= 0
  Index count = 0;              // product of shape
  std::size_t data_offset = 0;  // first data byte; data is count * itemsize bytes to end of file
};

// A whole array with its values converted to double (exact for every accepted type except
// 64-bit integers beyond 2^53; use load_npy_labels for exact integers).
struct NpyArray {
  std::vector<Index> shape;  // 1 to 4 dims
  NpyDtype dtype = NpyDtype::kF64;
  std::vector<double> values;  // [product of shape], C order (also for a Fortran-order file)
};

// Validates magic, version, header and data size of in-memory .npy bytes; `source_name` (usually
// the path) prefixes every error message. Allocates nothing sized by the header.
NpyHeader parse_npy_header(std::string_view bytes, const std::string& source_name);
// Parses and converts a whole array.
NpyArray parse_npy(std::string_view bytes, const std::string& source_name);
// Reads and parses a file; InputError naming the path when it is missing or unreadable.
NpyArray load_npy(const std::filesystem::path& path);
// The validated header of a file (shape and dtype, for estimates before a load); `what` names the
// operand in messages.
NpyHeader load_npy_header(const std::filesystem::path& path, const char* what);

// Attention input: a float32/float64 [N, d] (returned as [1, N, d]) or [H, N, d] array with only
// finite values. `what` names the operand in messages ("q", "k", "v"). InputError on a wrong
// dtype or rank (4-D included: use load_npy_heads), or on NaN/Inf (naming the bad index).
Tensor3d load_npy_tensor3(const std::filesystem::path& path, const char* what);

// Attention heads as users have them: a float32/float64 [N, d], [H, N, d] or [B, H, N, d] array
// (the last is what PyTorch code produces) with only finite values, flattened to B·H independent
// heads. `shape` keeps the file's own shape, so a caller can check operands against each other
// and write results back in the same rank. Storage: NpyStorage::f64 (default) converts every
// file to `values`; NpyStorage::as_stored keeps a float32 file in `values_f32` (values stays
// empty: no fp64 copy, half the memory) and a float64 file in `values`.
enum class NpyStorage { f64, as_stored };
struct NpyHeads {
  Tensor3d values;                  // [B·H, N, d]; head (b, h) is values.slice(b * H + h)
  Tensor3f values_f32;              // [B·H, N, d] instead, for a float32 file under as_stored
  std::vector<Index> shape;         // as in the file: [N, d], [H, N, d] or [B, H, N, d]
  NpyDtype dtype = NpyDtype::kF64;  // kF32 or kF64, as stored
  bool in_f32 = false;              // the values are in values_f32 (as_stored, float32 file)
  Index rows() const { return shape[shape.size() - 2]; }  // N
  Index cols() const { return shape.back(); }             // d
  // B: the first dim of a 4-D file, else 1.
  Index batch() const { return shape.size() == 4 ? shape[0] : 1; }
  // H: the dim before [N, d] of a 3-D or 4-D file, else 1.
  Index heads() const { return shape.size() >= 3 ? shape[shape.size() - 3] : 1; }
};
// Same checks and messages as load_npy_tensor3, with 4-D accepted.
NpyHeads load_npy_heads(const std::filesystem::path& path, const char* what,
                        NpyStorage storage = NpyStorage::f64);
// A float32/float64 2-D array [rows, cols] with only finite values.
MatrixD load_npy_matrix(const std::filesystem::path& path, const char* what);
// A 1-D label vector [n]: any integer or bool dtype, or a float dtype whose values are all
// integers (exactly representable, |v| <= 2^53). InputError otherwise, naming the first bad index.
std::vector<std::int64_t> load_npy_labels(const std::filesystem::path& path,
                                          const char* what = "labels");
// A 1-D mask [n] of 0/1 values: bool or any integer dtype. InputError on other values or dtypes.
std::vector<std::uint8_t> load_npy_mask(const std::filesystem::path& path);

// .npy bytes (version 1.0, 64-byte aligned data) of `data` in C order with this shape (1 to 32
// dims, each >= 0); data must hold the product of shape elements.
std::string encode_npy(const float* data, std::span<const Index> shape);         // '<f4'
std::string encode_npy(const double* data, std::span<const Index> shape);        // '<f8'
std::string encode_npy(const std::int64_t* data, std::span<const Index> shape);  // '<i8'
std::string encode_npy(const std::int32_t* data, std::span<const Index> shape);  // '<i4'
std::string encode_npy(const std::uint8_t* data, std::span<const Index> shape);  // '|u1'
std::string encode_npy(const Tensor3f& t);                                       // [A, R, C]
std::string encode_npy(const Tensor3d& t);                                       // [A, R, C]
std::string encode_npy(const MatrixF& m);                                        // [R, C]
std::string encode_npy(const MatrixD& m);                                        // [R, C]

// The header bytes alone (magic, version, dict, padding: a multiple of 64) of a C-order '<f4'
// array of this shape; the raw little-endian floats follow it. For writers that stream data
// from memory they already hold (OutputSet::add with a borrowed body) instead of copying it.
std::string npy_header_f32(std::span<const Index> shape);

// encode_npy, then write_file_atomic (core/atomic_file.hpp): no partial file on failure.
void save_npy(const std::filesystem::path& path, const float* data, std::span<const Index> shape);
void save_npy(const std::filesystem::path& path, const double* data, std::span<const Index> shape);
void save_npy(const std::filesystem::path& path, const std::int64_t* data,
              std::span<const Index> shape);
void save_npy(const std::filesystem::path& path, const std::int32_t* data,
              std::span<const Index> shape);
void save_npy(const std::filesystem::path& path, const std::uint8_t* data,
              std::span<const Index> shape);
void save_npy(const std::filesystem::path& path, const Tensor3f& t);  // [A, R, C]
void save_npy(const std::filesystem::path& path, const Tensor3d& t);  // [A, R, C]
void save_npy(const std::filesystem::path& path, const MatrixF& m);   // [R, C]
void save_npy(const std::filesystem::path& path, const MatrixD& m);   // [R, C]

}  // namespace attnlab::io
