// libFuzzer target for attnlab/io/npy (fuzz_npy; `make fuzz` builds and runs it).
//
// Invariants checked on every input:
//   * parse_npy either returns or throws attnlab::InputError (FormatError is one); any other
//     exception escapes and libFuzzer reports it, as it does ASan/UBSan findings;
//   * parse_npy_header agrees: it accepts exactly the inputs parse_npy accepts, with the same
//     shape and dtype;
//   * an accepted array has product(shape) values, and re-encoding it with the writer
//     (encode_npy as '<f8') and parsing the result gives back the same shape and bit-identical
//     values; for float32 input without NaNs, re-encoding as '<f4' gives back the input's data
//     bytes (a Fortran-order file's bytes transposed into C order).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "attnlab/core/error.hpp"
#include "attnlab/io/npy.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnlab;
  const std::string_view bytes = fuzz::as_view(data, size);
  io::NpyArray a;
  bool header_ok = false;
  io::NpyHeader h;
  try {
    h = io::parse_npy_header(bytes, "fuzz.npy");
    header_ok = true;
  } catch (const InputError&) {
  }
  try {
    a = io::parse_npy(bytes, "fuzz.npy");
  } catch (const InputError&) {
    // A valid header with bad data ('|b1' values other than 0/1) is the only allowed split.
    FUZZ_CHECK(!header_ok || h.dtype == io::NpyDtype::kBool);
    return 0;
  }
  FUZZ_CHECK(header_ok);
  FUZZ_CHECK(h.shape == a.shape && h.dtype == a.dtype);
  Index count = 1;
  for (const Index d : a.shape) count *= d;
  FUZZ_CHECK(static_cast<Index>(a.values.size()) == count && count == h.count);
  const std::string again = io::encode_npy(a.values.data(), a.shape);
  const io::NpyArray b = io::parse_npy(again, "roundtrip.npy");
  FUZZ_CHECK(b.shape == a.shape && b.dtype == io::NpyDtype::kF64);
  FUZZ_CHECK(a.values.empty() ||
             std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(double)) == 0);
  // (NaNs excepted: float -> double -> float may quiet a signaling NaN's payload.)
  const bool has_nan =
      std::any_of(a.values.begin(), a.values.end(), [](double v) { return v != v; });
  if (a.dtype == io::NpyDtype::kF32 && !has_nan) {
    std::vector<float> f(a.values.begin(), a.values.end());
    const std::string f4 = io::encode_npy(f.data(), a.shape);
    const std::string_view payload = bytes.substr(h.data_offset);
    FUZZ_CHECK(f4.size() >= payload.size());
    const std::string_view c_order(f4.data() + f4.size() - payload.size(), payload.size());
    if (!h.fortran_order) {
      FUZZ_CHECK(c_order == payload);
    } else {
      // Element at C-order index i (last index fastest) sits at Fortran index sum idx_k * stride_k
      // with stride_0 = 1, stride_k = stride_{k-1} * shape_{k-1} in the file.
      const std::size_t n = a.shape.size();
      for (Index i = 0; i < count; ++i) {
        Index rest = i, fi = 0, stride = 1;
        std::vector<Index> idx(n);
        for (std::size_t k = n; k-- > 0;) {
          idx[k] = rest % a.shape[k];
          rest /= a.shape[k];
        }
        for (std::size_t k = 0; k < n; ++k) {
          fi += idx[k] * stride;
          stride *= a.shape[k];
        }
        FUZZ_CHECK(c_order.substr(static_cast<std::size_t>(i) * 4, 4) ==
                   payload.substr(static_cast<std::size_t>(fi) * 4, 4));
      }
    }
  }
  return 0;
}
