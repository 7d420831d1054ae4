#include "attnlab/io/npy.hpp"

#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"

namespace attnlab::io {
namespace fs = std::filesystem;

// The reader copies element bytes straight into host integers and floats, the writer copies them
// out: both are only correct on a little-endian host (every platform attnlab targets).
static_assert(std::endian::native == std::endian::little, "attnlab::io assumes little-endian");

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

[[noreturn]] void fail(const std::string& source, const std::string& message) {
  throw FormatError(str_cat(source, ": ", message));
}

// Header text quoted for an error message: non-printable bytes escaped, long text cut.
std::string printable(std::string_view s, std::size_t max_len = 60) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max_len; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (s.size() > max_len) out += "...";
  return out;
}

std::string shape_text(std::span<const Index> shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// "[h, i, c]" for flat index `flat` of an array of this shape.
std::string multi_index_text(std::span<const Index> shape, Index flat) {
  std::vector<Index> idx(shape.size());
  for (std::size_t k = shape.size(); k-- > 0;) {
    const Index dim = shape[k] > 0 ? shape[k] : 1;
    idx[k] = flat % dim;
    flat /= dim;
  }
  std::string s = "[";
  for (std::size_t k = 0; k < idx.size(); ++k) s += (k > 0 ? ", " : "") + std::to_string(idx[k]);
  return s + "]";
}

struct DtypeInfo {
  std::string_view code;  // without byte order: "f4", "u1", ...
  NpyDtype dtype;
};
constexpr DtypeInfo kDtypes[] = {
    {"b1", NpyDtype::kBool}, {"i1", NpyDtype::kI8},  {"u1", NpyDtype::kU8},  {"i2", NpyDtype::kI16},
    {"u2", NpyDtype::kU16},  {"i4", NpyDtype::kI32}, {"u4", NpyDtype::kU32}, {"i8", NpyDtype::kI64},
    {"u8", NpyDtype::kU64},  {"f4", NpyDtype::kF32}, {"f8", NpyDtype::kF64},
};

NpyDtype parse_descr(std::string_view descr, const std::string& source) {
  const std::string quoted = str_cat("'", printable(descr), "'");
  if (descr.size() < 2)
    fail(source, str_cat("header field 'descr' is ", quoted, ": unknown dtype"));
  const char order = descr[0];
  const std::string_view code = descr.substr(1);
  if (order != '<' && order != '>' && order != '=' && order != '|') {
    fail(source, str_cat("header field 'descr' is ", quoted,
                         ": unknown dtype (expected a byte-order character <, =, | or >)"));
  }
  if (code == "O" || code == "O8" || code == "O4") {
    fail(source, str_cat("header field 'descr' is ", quoted,
                         ": object arrays are not supported (they hold pickled Python objects)"));
  }
  for (const auto& info : kDtypes) {
    if (info.code != code) continue;
    if (npy_dtype_size(info.dtype) == 1) return info.dtype;  // byte order is irrelevant
    if (order == '>') {
      fail(source,
           str_cat("header field 'descr' is ", quoted,
                   ": big-endian data is not supported; convert with arr.astype('<", code, "')"));
    }
    if (order == '|') {
      fail(source, str_cat("header field 'descr' is ", quoted,
                           ": a multi-byte type needs byte order '<' (little-endian)"));
    }
    return info.dtype;
  }
  fail(source, str_cat("header field 'descr' is ", quoted,
                       ": unsupported dtype; accepted: <f4 <f8 <i2 <i4 <i8 <u2 <u4 <u8 |i1 |u1 "
                       "|b1"));
}

// A strict parser for the header grammar numpy writes:
//   header := ws '{' ws [ entry (ws ',' ws entry)* ws [','] ] ws '}' ws
//   entry  := string ws ':' ws value
//   value  := string | 'True' | 'False' | '(' ws [ int (ws ',' ws int)* ws [','] ] ws ')'
//   string := '\'' chars '\'' | '"' chars '"'        (no escapes)
//   int    := digits ['L']                           (Python 2 longs, written by old numpy)
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& source) : s_(text), source_(source) {}

  struct Fields {
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<std::vector<Index>> shape;
  };

  Fields parse() {
    Fields f;
    skip_ws();
    if (!consume('{')) {
      fail(source_, str_cat("header is not a Python dict literal: '", printable(s_), "'"));
    }
    skip_ws();
    if (!consume('}')) {
      for (;;) {
        parse_entry(f);
        skip_ws();
        if (consume('}')) break;
        if (!consume(',')) error_here("expected ',' or '}' in the header dict");
        skip_ws();
        if (consume('}')) break;  // trailing comma
      }
    }
    skip_ws();
    if (pos_ != s_.size()) error_here("unexpected text after the header dict");
    if (!f.descr) fail(source_, "header is missing the key 'descr'");
    if (!f.fortran_order) fail(source_, "header is missing the key 'fortran_order'");
    if (!f.shape) fail(source_, "header is missing the key 'shape'");
    return f;
  }

 private:
  [[noreturn]] void error_here(const std::string& what) {
    fail(source_, str_cat(what, " at header offset ", pos_, ", found '",
                          printable(s_.substr(pos_), 20), "'"));
  }

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  bool consume(char c) {
    if (at_end() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  void skip_ws() {
    while (!at_end() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }

  std::string parse_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') error_here("expected a quoted string");
    ++pos_;
    const std::size_t start = pos_;
    while (!at_end() && s_[pos_] != quote) {
      if (s_[pos_] == '\\') error_here("escape sequences are not supported in header strings");
      if (s_[pos_] == '\n') error_here("unterminated string in the header");
      ++pos_;
    }
    if (at_end()) fail(source_, "unterminated string in the header");
    std::string out(s_.substr(start, pos_ - start));
    ++pos_;
    return out;
  }

  void parse_entry(Fields& f) {
    const std::size_t key_pos = pos_;
    const std::string key = parse_string();
    skip_ws();
    if (!consume(':')) error_here(str_cat("expected ':' after header key '", printable(key), "'"));
    skip_ws();
    if (key == "descr") {
      if (f.descr) fail(source_, "duplicate header key 'descr'");
      if (peek() == '[') {
        fail(source_,
             "header field 'descr' is a list: structured dtypes are not supported; save a plain "
             "numeric array");
      }
      if (peek() != '\'' && peek() != '"') error_here("header field 'descr' must be a string");
      f.descr = parse_string();
    } else if (key == "fortran_order") {
      if (f.fortran_order) fail(source_, "duplicate header key 'fortran_order'");
      if (s_.substr(pos_).starts_with("True")) {
        pos_ += 4;
        f.fortran_order = true;
      } else if (s_.substr(pos_).starts_with("False")) {
        pos_ += 5;
        f.fortran_order = false;
      } else {
        error_here("header field 'fortran_order' must be True or False");
      }
    } else if (key == "shape") {
      if (f.shape) fail(source_, "duplicate header key 'shape'");
      f.shape = parse_shape();
    } else {
      pos_ = key_pos;
      fail(source_, str_cat("unknown header key '", printable(key),
                            "'; expected only 'descr', 'fortran_order' and 'shape'"));
    }
  }

  std::vector<Index> parse_shape() {
    if (!consume('(')) error_here("header field 'shape' must be a tuple");
    std::vector<Index> dims;
    bool trailing_comma = false;
    skip_ws();
    while (!consume(')')) {
      if (dims.size() >= 64) error_here("header field 'shape' has too many entries");
      dims.push_back(parse_dim());
      skip_ws();
      trailing_comma = consume(',');
      skip_ws();
      if (!trailing_comma && peek() != ')') error_here("expected ',' or ')' in 'shape'");
    }
    if (dims.size() == 1 && !trailing_comma) {
      fail(source_, str_cat("header field 'shape' is (", dims[0],
                            "), which is not a tuple; a 1-tuple is written (", dims[0], ",)"));
    }
    return dims;
  }

  Index parse_dim() {
    const std::size_t start = pos_;
    const bool negative = consume('-');
    if (!std::isdigit(static_cast<unsigned char>(peek()))) {
      pos_ = start;
      error_here("header field 'shape' must hold non-negative integers");
    }
    std::uint64_t value = 0;
    bool too_big = false;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      const auto digit = static_cast<std::uint64_t>(s_[pos_] - '0');
      if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) too_big = true;
      if (!too_big) value = value * 10 + digit;
      ++pos_;
    }
    const std::string_view text = s_.substr(start, pos_ - start);
    consume('L');
    if (peek() == '.' || peek() == 'e' || peek() == 'E' || peek() == 'x') {
      pos_ = start;
      error_here("header field 'shape' must hold integers");
    }
    if (negative) {
      fail(source_, str_cat("header field 'shape' has a negative dimension ", text));
    }
    if (too_big || value > kNpyMaxElements) {
      fail(source_, str_cat("header field 'shape' has dimension ", text,
                            ", above the limit of 2^34 elements"));
    }
    return static_cast<Index>(value);
  }

  std::string_view s_;
  const std::string& source_;
  std::size_t pos_ = 0;
};

std::uint32_t read_le(std::string_view bytes, std::size_t offset, std::size_t width) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < width; ++i) {
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return v;
}

// File order -> C order. Each next() returns the C-order flat index of the next element as it is
// stored in the file. C-order files need no mapping; Fortran-order files (first index fastest)
// walk their multi-index like an odometer, first digit fastest.
struct COrder {
  Index pos = 0;
  Index next() { return pos++; }
};

class FortranOrder {
 public:
  explicit FortranOrder(std::span<const Index> shape)
      : shape_(shape.begin(), shape.end()), idx_(shape.size(), 0), stride_(shape.size(), 1) {
    for (std::size_t k = shape.size(); k-- > 1;) stride_[k - 1] = stride_[k] * shape_[k];
  }
  Index next() {
    const Index out = c_;
    for (std::size_t k = 0; k < shape_.size(); ++k) {
      c_ += stride_[k];
      if (++idx_[k] < shape_[k]) break;
      c_ -= shape_[k] * stride_[k];
      idx_[k] = 0;
    }
    return out;
  }

 private:
  std::vector<Index> shape_, idx_, stride_;  // at most kNpyMaxReadDims entries each
  Index c_ = 0;
};

template <class T, class Order, class F>
void visit_typed(const char* p, Index count, Order& order, F& f) {
  for (Index s = 0; s < count; ++s) {
    T v;
    std::memcpy(&v, p + static_cast<std::size_t>(s) * sizeof(T), sizeof(T));
    f(order.next(), v);
  }
}

template <class Order, class F>
void visit_in_order(const NpyHeader& h, std::string_view bytes, const std::string& source,
                    Order& order, F& f) {
  const char* p = bytes.data() + h.data_offset;
  switch (h.dtype) {
    case NpyDtype::kBool:
      for (Index s = 0; s < h.count; ++s) {
        const auto b = static_cast<unsigned char>(p[s]);
        const Index i = order.next();
        if (b > 1) {
          fail(source, str_cat("'|b1' element ", multi_index_text(h.shape, i), " has byte value ",
                               static_cast<int>(b), "; a bool must be 0 or 1"));
        }
        f(i, b == 1);
      }
      break;
    case NpyDtype::kI8:
      visit_typed<std::int8_t>(p, h.count, order, f);
      break;
    case NpyDtype::kU8:
      visit_typed<std::uint8_t>(p, h.count, order, f);
      break;
    case NpyDtype::kI16:
      visit_typed<std::int16_t>(p, h.count, order, f);
      break;
    case NpyDtype::kU16:
      visit_typed<std::uint16_t>(p, h.count, order, f);
      break;
    case NpyDtype::kI32:
      visit_typed<std::int32_t>(p, h.count, order, f);
      break;
    case NpyDtype::kU32:
      visit_typed<std::uint32_t>(p, h.count, order, f);
      break;
    case NpyDtype::kI64:
      visit_typed<std::int64_t>(p, h.count, order, f);
      break;
    case NpyDtype::kU64:
      visit_typed<std::uint64_t>(p, h.count, order, f);
      break;
    case NpyDtype::kF32:
      visit_typed<float>(p, h.count, order, f);
      break;
    case NpyDtype::kF64:
      visit_typed<double>(p, h.count, order, f);
      break;
  }
}

// Calls f(flat_index, value) once for every element, with value of the element's own C++ type
// (bool for '|b1') and flat_index its position in C order, whatever the file's order (elements
// are visited in file order). The header must have been validated against these bytes.
template <class F>
void visit_values(const NpyHeader& h, std::string_view bytes, const std::string& source, F&& f) {
  if (h.fortran_order && h.shape.size() > 1 && h.count > 0) {  // count > 0: strides fit
    FortranOrder order(h.shape);
    visit_in_order(h, bytes, source, order, f);
  } else {
    COrder order;
    visit_in_order(h, bytes, source, order, f);
  }
}

// Reads a file and validates its header; `what` names the operand in "not found" messages.
struct LoadedNpy {
  std::string bytes;
  NpyHeader header;
};
LoadedNpy read_npy_file(const fs::path& path, const char* what) {
  LoadedNpy out;
  out.bytes = read_file(path, what);
  out.header = parse_npy_header(out.bytes, path.string());
  return out;
}

std::string describe(const char* what, const fs::path& path) {
  return str_cat(what, " '", path.string(), "'");
}

// Float array -> values into `out` (count of T, C order), rejecting NaN/Inf.
template <class T>
void read_finite_floats(const LoadedNpy& f, const fs::path& path, const char* what, T* out) {
  visit_values(f.header, f.bytes, path.string(), [&](Index i, auto v) {
    const double x = static_cast<double>(v);
    if (!std::isfinite(x)) {
      throw InputError(str_cat(describe(what, path), ": value at ",
                               multi_index_text(f.header.shape, i), " is ",
                               std::isnan(x) ? "NaN" : "Inf", "; inputs must be finite"));
    }
    out[i] = static_cast<T>(v);
  });
}

void require_float(const LoadedNpy& f, const fs::path& path, const char* what) {
  if (!npy_dtype_is_float(f.header.dtype)) {
    throw InputError(str_cat(describe(what, path), ": dtype '", npy_dtype_descr(f.header.dtype),
                             "' is not supported here; expected float32 ('<f4') or float64 "
                             "('<f8')"));
  }
}

void require_rank(const LoadedNpy& f, const fs::path& path, const char* what, int lo, int hi,
                  const char* expected) {
  const auto ndim = static_cast<int>(f.header.shape.size());
  if (ndim < lo || ndim > hi) {
    throw InputError(str_cat(describe(what, path), ": expected ", expected, ", got shape ",
                             shape_text(f.header.shape)));
  }
}

// Shape checks for the writer; returns the element count.
Index checked_count(std::span<const Index> shape) {
  if (shape.empty() || static_cast<int>(shape.size()) > kNpyMaxWriteDims) {
    throw Error(str_cat("encode_npy: need 1 to ", kNpyMaxWriteDims, " dims, got ", shape.size()));
  }
  Index count = 1;
  for (const Index d : shape) {
    if (d < 0) throw Error(str_cat("encode_npy: negative dimension in shape ", shape_text(shape)));
    if (__builtin_mul_overflow(count, d, &count)) {
      throw Error(str_cat("encode_npy: shape ", shape_text(shape), " overflows"));
    }
  }
  return count;
}

// Header bytes (magic .. '\n', a multiple of 64) of a C-order array; `data_bytes` is reserved
// after them in the returned string's capacity.
std::string encode_header(std::span<const Index> shape, const char* descr, std::size_t data_bytes) {
  const std::string dict = str_cat(
      "{'descr': '", descr, "', 'fortran_order': False, 'shape': ", shape_text(shape), ", }");
  // Magic + version + length field, then the dict, padding and '\n', to a multiple of 64.
  // Version 1.0 has a u16 header length; fall back to 2.0 (u32) for a header that does not fit.
  auto padded_total = [&](std::size_t prefix) { return (prefix + dict.size() + 1 + 63) / 64 * 64; };
  std::size_t prefix = kMagic.size() + 2 + 2;
  int major = 1;
  if (padded_total(prefix) - prefix > 65535) {
    prefix += 2;
    major = 2;
  }
  const std::size_t total = padded_total(prefix);
  const std::size_t unpadded = prefix + dict.size() + 1;
  const std::size_t header_len = total - prefix;

  std::string out;
  out.reserve(total + data_bytes);
  out += kMagic;
  out += static_cast<char>(major);
  out += '\0';
  for (std::size_t i = 0; i < prefix - kMagic.size() - 2; ++i) {
    out += static_cast<char>((header_len >> (8 * i)) & 0xff);
  }
  out += dict;
  out.append(total - unpadded, ' ');
  out += '\n';
  return out;
}

template <class T>
std::string encode_typed(const T* data, std::span<const Index> shape, const char* descr) {
  const Index count = checked_count(shape);
  if (count > 0 && data == nullptr) throw Error("encode_npy: null data for a non-empty shape");
  const std::size_t data_bytes = static_cast<std::size_t>(count) * sizeof(T);
  std::string out = encode_header(shape, descr, data_bytes);
  if (data_bytes > 0) out.append(reinterpret_cast<const char*>(data), data_bytes);
  return out;
}

}  // namespace

const char* npy_dtype_descr(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::kBool:
      return "|b1";
    case NpyDtype::kI8:
      return "|i1";
    case NpyDtype::kU8:
      return "|u1";
    case NpyDtype::kI16:
      return "<i2";
    case NpyDtype::kU16:
      return "<u2";
    case NpyDtype::kI32:
      return "<i4";
    case NpyDtype::kU32:
      return "<u4";
    case NpyDtype::kI64:
      return "<i8";
    case NpyDtype::kU64:
      return "<u8";
    case NpyDtype::kF32:
      return "<f4";
    case NpyDtype::kF64:
      return "<f8";
  }
  return "?";
}

std::size_t npy_dtype_size(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::kBool:
    case NpyDtype::kI8:
    case NpyDtype::kU8:
      return 1;
    case NpyDtype::kI16:
    case NpyDtype::kU16:
      return 2;
    case NpyDtype::kI32:
    case NpyDtype::kU32:
    case NpyDtype::kF32:
      return 4;
    case NpyDtype::kI64:
    case NpyDtype::kU64:
    case NpyDtype::kF64:
      return 8;
  }
  return 0;
}

bool npy_dtype_is_float(NpyDtype dtype) {
  return dtype == NpyDtype::kF32 || dtype == NpyDtype::kF64;
}

bool npy_dtype_is_integral(NpyDtype dtype) {
  return !npy_dtype_is_float(dtype);
}

NpyHeader parse_npy_header(std::string_view bytes, const std::string& source) {
  if (bytes.size() < kMagic.size() || bytes.substr(0, kMagic.size()) != kMagic) {
    fail(source, str_cat("not an NPY file: the magic string \\x93NUMPY is missing (file starts "
                         "with '",
                         printable(bytes.substr(0, 8)), "')"));
  }
  if (bytes.size() < 10) fail(source, str_cat("file is truncated after ", bytes.size(), " bytes"));
  NpyHeader h;
  h.major_version = static_cast<unsigned char>(bytes[6]);
  h.minor_version = static_cast<unsigned char>(bytes[7]);
  if (h.minor_version != 0 || h.major_version < 1 || h.major_version > 3) {
    fail(source, str_cat("unsupported NPY format version ", h.major_version, ".", h.minor_version,
                         "; supported: 1.0, 2.0, 3.0"));
  }
  const std::size_t len_width = h.major_version == 1 ? 2 : 4;
  const std::size_t header_start = 8 + len_width;
  if (bytes.size() < header_start) {
    fail(source, str_cat("file is truncated after ", bytes.size(), " bytes"));
  }
  const std::size_t header_len = read_le(bytes, 8, len_width);
  if (header_len > bytes.size() - header_start) {
    fail(source, str_cat("header length ", header_len, " extends past the end of the file (",
                         bytes.size(), " bytes)"));
  }
  h.data_offset = header_start + header_len;

  const auto fields = HeaderParser(bytes.substr(header_start, header_len), source).parse();
  h.dtype = parse_descr(*fields.descr, source);
  h.fortran_order = *fields.fortran_order;
  h.shape = *fields.shape;
  const std::string shape_str = shape_text(h.shape);
  if (h.shape.empty()) {
    fail(source, "header field 'shape' is (): 0-dim (scalar) arrays are not supported");
  }
  if (static_cast<int>(h.shape.size()) > kNpyMaxReadDims) {
    fail(source, str_cat("header field 'shape' is ", shape_str, ": ", h.shape.size(),
                         " dims, at most ", kNpyMaxReadDims, " are supported"));
  }
  std::uint64_t count = 1;
  bool overflow = false;
  for (const Index d : h.shape) overflow |= __builtin_mul_overflow(count, std::uint64_t(d), &count);
  for (const Index d : h.shape) {
    if (d == 0) {  // an empty array, however large its other dims (each is below 2^34)
      count = 0;
      overflow = false;
    }
  }
  if (overflow || count > kNpyMaxElements) {
    fail(source, str_cat("header field 'shape' is ", shape_str, ": ",
                         overflow ? std::string("the element count overflows")
                                  : str_cat(count, " elements"),
                         ", above the limit of 2^34"));
  }
  h.count = static_cast<Index>(count);
  const std::uint64_t need = count * npy_dtype_size(h.dtype);
  const std::uint64_t have = bytes.size() - h.data_offset;
  if (have < need) {
    fail(source, str_cat("data is truncated: shape ", shape_str, " of '", npy_dtype_descr(h.dtype),
                         "' needs ", need, " bytes after the header, the file has ", have));
  }
  if (have > need) {
    fail(source, str_cat(have - need, " trailing bytes after the data of shape ", shape_str,
                         " of '", npy_dtype_descr(h.dtype), "' (", need, " bytes expected)"));
  }
  return h;
}

NpyArray parse_npy(std::string_view bytes, const std::string& source) {
  const NpyHeader h = parse_npy_header(bytes, source);
  NpyArray a;
  a.shape = h.shape;
  a.dtype = h.dtype;
  a.values.resize(static_cast<std::size_t>(h.count));
  visit_values(h, bytes, source, [&](Index i, auto v) { a.values[i] = static_cast<double>(v); });
  return a;
}

NpyArray load_npy(const fs::path& path) {
  const std::string bytes = read_file(path, "NPY file");
  return parse_npy(bytes, path.string());
}

NpyHeader load_npy_header(const fs::path& path, const char* what) {
  return read_npy_file(path, what).header;
}

Tensor3d load_npy_tensor3(const fs::path& path, const char* what) {
  const LoadedNpy f = read_npy_file(path, what);
  require_float(f, path, what);
  require_rank(f, path, what, 2, 3, "[N, d] or [H, N, d]");
  const auto& s = f.header.shape;
  Tensor3d t = s.size() == 2 ? Tensor3d(1, s[0], s[1]) : Tensor3d(s[0], s[1], s[2]);
  read_finite_floats(f, path, what, t.data());
  return t;
}

NpyHeads load_npy_heads(const fs::path& path, const char* what, NpyStorage storage) {
  const LoadedNpy f = read_npy_file(path, what);
  require_float(f, path, what);
  require_rank(f, path, what, 2, 4, "[N, d], [H, N, d] or [B, H, N, d]");
  NpyHeads out;
  out.shape = f.header.shape;
  out.dtype = f.header.dtype;
  const auto& s = out.shape;
  const std::size_t r = s.size();
  // B·H is bounded by the element count unless N or d is 0 (then nothing is allocated, but the
  // head count must still be representable).
  Index heads = 0;
  if (__builtin_mul_overflow(out.batch(), out.heads(), &heads) ||
      static_cast<std::uint64_t>(heads) > kNpyMaxElements) {
    throw InputError(
        str_cat(describe(what, path), ": shape ", shape_text(s), " has more than 2^34 heads B·H"));
  }
  if (storage == NpyStorage::as_stored && out.dtype == NpyDtype::kF32) {
    out.values_f32 = Tensor3f(heads, s[r - 2], s[r - 1]);
    out.in_f32 = true;
    read_finite_floats(f, path, what, out.values_f32.data());
  } else {
    out.values = Tensor3d(heads, s[r - 2], s[r - 1]);
    read_finite_floats(f, path, what, out.values.data());
  }
  return out;
}

MatrixD load_npy_matrix(const fs::path& path, const char* what) {
  const LoadedNpy f = read_npy_file(path, what);
  require_float(f, path, what);
  require_rank(f, path, what, 2, 2, "a 2-D array");
  MatrixD m(f.header.shape[0], f.header.shape[1]);
  read_finite_floats(f, path, what, m.data());
  return m;
}

std::vector<std::int64_t> load_npy_labels(const fs::path& path, const char* what) {
  const LoadedNpy f = read_npy_file(path, what);
  require_rank(f, path, what, 1, 1, str_cat("a 1-D vector of ", what, " [n]").c_str());
  std::vector<std::int64_t> out(static_cast<std::size_t>(f.header.count));
  visit_values(f.header, f.bytes, path.string(), [&](Index i, auto v) {
    using T = decltype(v);
    if constexpr (std::is_floating_point_v<T>) {
      const double x = v;
      if (!std::isfinite(x) || x != std::trunc(x) || std::abs(x) > 9007199254740992.0) {
        throw InputError(str_cat(describe(what, path), ": entry at [", i, "] is ", x, "; ", what,
                                 " must be integers"));
      }
      out[i] = static_cast<std::int64_t>(x);
    } else if constexpr (std::is_same_v<T, std::uint64_t>) {
      if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        throw InputError(str_cat(describe(what, path), ": entry at [", i, "] is ", v,
                                 ", too large for a 64-bit signed integer"));
      }
      out[i] = static_cast<std::int64_t>(v);
    } else {
      out[i] = static_cast<std::int64_t>(v);
    }
  });
  return out;
}

std::vector<std::uint8_t> load_npy_mask(const fs::path& path) {
  const char* what = "mask";
  const LoadedNpy f = read_npy_file(path, what);
  require_rank(f, path, what, 1, 1, "a 1-D mask [n]");
  if (!npy_dtype_is_integral(f.header.dtype)) {
    throw InputError(str_cat(describe(what, path), ": dtype '", npy_dtype_descr(f.header.dtype),
                             "' is not supported; a mask must be bool or integer 0/1"));
  }
  std::vector<std::uint8_t> out(static_cast<std::size_t>(f.header.count));
  visit_values(f.header, f.bytes, path.string(), [&](Index i, auto v) {
    if (v != 0 && v != 1) {
      throw InputError(str_cat(describe(what, path), ": value at [", i, "] is ", +v,
                               "; a mask holds only 0 and 1"));
    }
    out[i] = static_cast<std::uint8_t>(v);
  });
  return out;
}

std::string npy_header_f32(std::span<const Index> shape) {
  checked_count(shape);
  return encode_header(shape, "<f4", 0);
}

std::string encode_npy(const float* data, std::span<const Index> shape) {
  return encode_typed(data, shape, "<f4");
}
std::string encode_npy(const double* data, std::span<const Index> shape) {
  return encode_typed(data, shape, "<f8");
}
std::string encode_npy(const std::int64_t* data, std::span<const Index> shape) {
  return encode_typed(data, shape, "<i8");
}
std::string encode_npy(const std::int32_t* data, std::span<const Index> shape) {
  return encode_typed(data, shape, "<i4");
}
std::string encode_npy(const std::uint8_t* data, std::span<const Index> shape) {
  return encode_typed(data, shape, "|u1");
}
std::string encode_npy(const Tensor3f& t) {
  const Index shape[] = {t.dim0(), t.dim1(), t.dim2()};
  return encode_npy(t.data(), shape);
}
std::string encode_npy(const Tensor3d& t) {
  const Index shape[] = {t.dim0(), t.dim1(), t.dim2()};
  return encode_npy(t.data(), shape);
}
std::string encode_npy(const MatrixF& m) {
  const Index shape[] = {m.rows(), m.cols()};
  return encode_npy(m.data(), shape);
}
std::string encode_npy(const MatrixD& m) {
  const Index shape[] = {m.rows(), m.cols()};
  return encode_npy(m.data(), shape);
}

void save_npy(const fs::path& path, const float* data, std::span<const Index> shape) {
  write_file_atomic(path, encode_npy(data, shape));
}
void save_npy(const fs::path& path, const double* data, std::span<const Index> shape) {
  write_file_atomic(path, encode_npy(data, shape));
}
void save_npy(const fs::path& path, const std::int64_t* data, std::span<const Index> shape) {
  write_file_atomic(path, encode_npy(data, shape));
}
void save_npy(const fs::path& path, const std::int32_t* data, std::span<const Index> shape) {
  write_file_atomic(path, encode_npy(data, shape));
}
void save_npy(const fs::path& path, const std::uint8_t* data, std::span<const Index> shape) {
  write_file_atomic(path, encode_npy(data, shape));
}
void save_npy(const fs::path& path, const Tensor3f& t) {
  write_file_atomic(path, encode_npy(t));
}
void save_npy(const fs::path& path, const Tensor3d& t) {
  write_file_atomic(path, encode_npy(t));
}
void save_npy(const fs::path& path, const MatrixF& m) {
  write_file_atomic(path, encode_npy(m));
}
void save_npy(const fs::path& path, const MatrixD& m) {
  write_file_atomic(path, encode_npy(m));
}

}  // namespace attnlab::io
