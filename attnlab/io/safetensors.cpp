#include "attnlab/io/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/io/float16.hpp"
#include "attnlab/io/json_strict.hpp"

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host needs byte swaps here");

namespace attnlab::io {
namespace {

using Code = SafetensorsErrorCode;
using json = nlohmann::json;

struct DtypeInfo {
  SafetensorsDtype dtype;
  const char* name;
  int bits;
};

constexpr std::array<DtypeInfo, 22> kDtypes = {{
    {SafetensorsDtype::BOOL, "BOOL", 8},
    {SafetensorsDtype::U8, "U8", 8},
    {SafetensorsDtype::I8, "I8", 8},
    {SafetensorsDtype::F8_E5M2, "F8_E5M2", 8},
    {SafetensorsDtype::F8_E4M3, "F8_E4M3", 8},
    {SafetensorsDtype::F8_E8M0, "F8_E8M0", 8},
    {SafetensorsDtype::F8_E4M3FNUZ, "F8_E4M3FNUZ", 8},
    {SafetensorsDtype::F8_E5M2FNUZ, "F8_E5M2FNUZ", 8},
    {SafetensorsDtype::I16, "I16", 16},
    {SafetensorsDtype::U16, "U16", 16},
    {SafetensorsDtype::F16, "F16", 16},
    {SafetensorsDtype::BF16, "BF16", 16},
    {SafetensorsDtype::I32, "I32", 32},
    {SafetensorsDtype::U32, "U32", 32},
    {SafetensorsDtype::F32, "F32", 32},
    {SafetensorsDtype::I64, "I64", 64},
    {SafetensorsDtype::U64, "U64", 64},
    {SafetensorsDtype::F64, "F64", 64},
    {SafetensorsDtype::C64, "C64", 64},
    {SafetensorsDtype::F4, "F4", 4},
    {SafetensorsDtype::F6_E2M3, "F6_E2M3", 6},
    {SafetensorsDtype::F6_E3M2, "F6_E3M2", 6},
}};

const DtypeInfo& info(SafetensorsDtype d) {
  for (const auto& i : kDtypes)
    if (i.dtype == d) return i;
  throw Error("safetensors: internal: dtype missing from the table");
}

[[noreturn]] void fail(Code code, std::string_view source, const std::string& what) {
  throw SafetensorsError(code, str_cat("safetensors '", source, "': ", what));
}

// A short printable form of a tensor name for messages.
std::string quote_name(std::string_view name) {
  std::string s = "'";
  for (std::size_t i = 0; i < name.size() && i < 120; ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    s += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  if (name.size() > 120) s += "...";
  return s + "'";
}

// A JSON value that must be a non-negative integer below kSafetensorsMaxDim.
std::uint64_t bounded_uint(const json& v, std::string_view source, const std::string& tensor,
                           const char* field) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
    fail(Code::bad_tensor_info, source,
         str_cat("tensor ", tensor, ": ", field, " must hold non-negative integers, got ",
                 v.dump()));
  }
  const auto x = v.get<std::uint64_t>();
  if (x >= kSafetensorsMaxDim) {
    fail(Code::bad_tensor_info, source,
         str_cat("tensor ", tensor, ": ", field, " value ", x, " is not below 2^48"));
  }
  return x;
}

bool is_json_space(std::byte b) {
  const auto c = static_cast<unsigned char>(b);
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

struct Mapping {
  const std::byte* data = nullptr;
  std::size_t size = 0;
};

}  // namespace

const char* to_string(SafetensorsDtype dtype) {
  return info(dtype).name;
}
int dtype_bits(SafetensorsDtype dtype) {
  return info(dtype).bits;
}
bool dtype_converts_to_f32(SafetensorsDtype d) {
  return d == SafetensorsDtype::F32 || d == SafetensorsDtype::F16 || d == SafetensorsDtype::BF16 ||
         d == SafetensorsDtype::F64;
}

const char* to_string(SafetensorsErrorCode code) {
  switch (code) {
    case Code::header_too_small:
      return "header_too_small";
    case Code::header_too_large:
      return "header_too_large";
    case Code::invalid_header_length:
      return "invalid_header_length";
    case Code::invalid_json:
      return "invalid_json";
    case Code::duplicate_key:
      return "duplicate_key";
    case Code::bad_metadata:
      return "bad_metadata";
    case Code::bad_tensor_info:
      return "bad_tensor_info";
    case Code::unknown_dtype:
      return "unknown_dtype";
    case Code::overflow:
      return "overflow";
    case Code::misaligned_slice:
      return "misaligned_slice";
    case Code::invalid_offset:
      return "invalid_offset";
    case Code::incomplete_coverage:
      return "incomplete_coverage";
    case Code::io:
      return "io";
  }
  return "unknown";
}

SafetensorsHeader parse_safetensors_header(std::span<const std::byte> bytes,
                                           std::string_view source) {
  SafetensorsHeader h;
  if (bytes.size() < 8) {
    fail(Code::header_too_small, source,
         str_cat("file has ", bytes.size(), " bytes, fewer than the 8-byte header length"));
  }
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint64_t>(bytes[i]);
  if (n > kSafetensorsMaxHeader) {
    fail(Code::header_too_large, source,
         str_cat("header length N = ", n, " is over the limit of ", kSafetensorsMaxHeader));
  }
  if (n > bytes.size() - 8) {
    fail(Code::invalid_header_length, source,
         str_cat("header length N = ", n, " runs past the end of the file (", bytes.size(),
                 " bytes)"));
  }
  h.header_length = n;
  h.data_size = bytes.size() - 8 - n;
  // Only JSON whitespace may surround the object; the object must be the whole remaining text.
  std::size_t first = 8, last = 8 + n;
  while (first < last && is_json_space(bytes[first])) ++first;
  while (last > first && is_json_space(bytes[last - 1])) --last;
  if (first == last || static_cast<char>(bytes[first]) != '{' ||
      static_cast<char>(bytes[last - 1]) != '}') {
    fail(Code::invalid_json, source,
         "header is not a JSON object padded only with JSON whitespace (space, tab, CR, LF)");
  }
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + first, last - first);
  json header;
  try {
    StrictJsonOptions jo;
    jo.max_bytes = kSafetensorsMaxHeader;
    jo.max_depth = 16;
    header = parse_json_strict(text, str_cat("safetensors '", source, "' header"), jo);
  } catch (const JsonFormatError& e) {
    throw SafetensorsError(
        e.kind() == JsonErrorKind::duplicate_key ? Code::duplicate_key : Code::invalid_json,
        e.what());
  }
  if (!header.is_object()) fail(Code::invalid_json, source, "header is not a JSON object");

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& key = it.key();
    const json& value = it.value();
    if (key == "__metadata__") {
      if (value.is_null()) continue;
      if (!value.is_object()) {
        fail(Code::bad_metadata, source,
             str_cat("__metadata__ must be an object of strings, got ", value.type_name()));
      }
      for (auto m = value.begin(); m != value.end(); ++m) {
        if (!m.value().is_string()) {
          fail(Code::bad_metadata, source,
               str_cat("__metadata__ value of key ", quote_name(m.key()), " is a ",
                       m.value().type_name(), ", not a string"));
        }
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string name = quote_name(key);
    if (!value.is_object()) {
      fail(Code::bad_tensor_info, source,
           str_cat("tensor ", name, ": entry must be an object, got ", value.type_name()));
    }
    for (auto f = value.begin(); f != value.end(); ++f) {
      if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets") {
        fail(Code::bad_tensor_info, source,
             str_cat("tensor ", name, ": unknown field ", quote_name(f.key()),
                     " (allowed: dtype, shape, data_offsets)"));
      }
    }
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
      if (!value.contains(field)) {
        fail(Code::bad_tensor_info, source,
             str_cat("tensor ", name, ": missing field '", field, "'"));
      }
    }
    SafetensorsTensor t;
    t.name = key;
    const json& dt = value["dtype"];
    if (!dt.is_string()) {
      fail(Code::bad_tensor_info, source, str_cat("tensor ", name, ": dtype must be a string"));
    }
    const std::string dname = dt.get<std::string>();
    const auto di = std::find_if(kDtypes.begin(), kDtypes.end(),
                                 [&](const DtypeInfo& d) { return dname == d.name; });
    if (di == kDtypes.end()) {
      fail(Code::unknown_dtype, source,
           str_cat("tensor ", name, ": unknown dtype ", quote_name(dname)));
    }
    t.dtype = di->dtype;
    const json& shape = value["shape"];
    if (!shape.is_array() || shape.size() > kSafetensorsMaxRank) {
      fail(Code::bad_tensor_info, source,
           str_cat("tensor ", name, ": shape must be an array of at most ", kSafetensorsMaxRank,
                   " integers"));
    }
    t.numel = 1;
    for (const json& d : shape) {
      const std::uint64_t dim = bounded_uint(d, source, name, "shape");
      t.shape.push_back(dim);
      if (dim != 0 && t.numel > UINT64_MAX / dim) {
        fail(Code::overflow, source,
             str_cat("tensor ", name, ": element count overflows 64 bits (shape ", shape.dump(),
                     ")"));
      }
      t.numel *= dim;
    }
    const json& offs = value["data_offsets"];
    if (!offs.is_array() || offs.size() != 2) {
      fail(Code::bad_tensor_info, source,
           str_cat("tensor ", name, ": data_offsets must be [BEGIN, END]"));
    }
    t.begin = bounded_uint(offs[0], source, name, "data_offsets");
    t.end = bounded_uint(offs[1], source, name, "data_offsets");
    const auto bits = static_cast<std::uint64_t>(di->bits);
    if (t.numel > UINT64_MAX / bits) {
      fail(Code::overflow, source,
           str_cat("tensor ", name, ": size in bits overflows 64 bits (shape ", shape.dump(),
                   ", dtype ", dname, ")"));
    }
    const std::uint64_t total_bits = t.numel * bits;
    if (total_bits % 8 != 0) {
      fail(Code::misaligned_slice, source,
           str_cat("tensor ", name, ": ", t.numel, " elements of ", dname, " are ", total_bits,
                   " bits, not a whole number of bytes"));
    }
    if (t.end < t.begin) {
      fail(Code::invalid_offset, source,
           str_cat("tensor ", name, ": data_offsets END ", t.end, " < BEGIN ", t.begin));
    }
    if (t.end - t.begin != total_bits / 8) {
      fail(Code::invalid_offset, source,
           str_cat("tensor ", name, ": data_offsets [", t.begin, ", ", t.end, ") span ",
                   t.end - t.begin, " bytes but shape ", shape.dump(), " of ", dname, " needs ",
                   total_bits / 8));
    }
    h.tensors.push_back(std::move(t));
  }
  std::sort(h.tensors.begin(), h.tensors.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t at = 0;
  for (const auto& t : h.tensors) {
    if (t.begin != at) {
      fail(Code::incomplete_coverage, source,
           str_cat(
               "tensor ", quote_name(t.name), " starts at byte ", t.begin,
               " of the data block, "
               "expected ",
               at,
               t.begin < at ? " (it overlaps the previous tensor)" : " (a gap of unused bytes)"));
    }
    at = t.end;
  }
  if (at != h.data_size) {
    fail(Code::incomplete_coverage, source,
         str_cat("tensors cover ", at, " bytes but the data block has ", h.data_size,
                 at < h.data_size ? " (trailing bytes after the last tensor)"
                                  : " (the file is truncated)"));
  }
  return h;
}

// ---- file storage ---------------------------------------------------------------------------

struct SafetensorsFile::Storage {
  std::string buffer;  // in-memory image (from_bytes)
  void* map = nullptr;
  std::size_t map_size = 0;
  ~Storage() {
    if (map) ::munmap(map, map_size);
  }
};

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string p = path.string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw InputError(str_cat("safetensors file not found: '", p, "'"));
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw InputError(str_cat("cannot open safetensors file '", p, "': ", std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError(str_cat("safetensors path '", p, "' is not a regular file"));
  }
  auto storage = std::make_shared<Storage>();
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size > 0) {
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw InputError(str_cat("cannot map safetensors file '", p, "': ", std::strerror(err)));
    }
    storage->map = m;
    storage->map_size = size;
  }
  ::close(fd);
  SafetensorsFile f;
  f.source_ = p;
  f.all_ = std::span<const std::byte>(static_cast<const std::byte*>(storage->map), size);
  f.storage_ = std::move(storage);
  f.header_ = parse_safetensors_header(f.all_, p);
  return f;
}

SafetensorsFile SafetensorsFile::from_bytes(std::string bytes, std::string source) {
  auto storage = std::make_shared<Storage>();
  storage->buffer = std::move(bytes);
  SafetensorsFile f;
  f.source_ = std::move(source);
  f.all_ = std::span<const std::byte>(reinterpret_cast<const std::byte*>(storage->buffer.data()),
                                      storage->buffer.size());
  f.storage_ = std::move(storage);
  f.header_ = parse_safetensors_header(f.all_, f.source_);
  return f;
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  for (const auto& t : header_.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::span<const std::byte> SafetensorsFile::bytes(const SafetensorsTensor& t) const {
  const std::size_t start = 8 + static_cast<std::size_t>(header_.header_length + t.begin);
  return all_.subspan(start, static_cast<std::size_t>(t.nbytes()));
}

void SafetensorsFile::read_f32_into(const SafetensorsTensor& t, float* dst) const {
  const auto src = bytes(t);
  const auto n = static_cast<std::size_t>(t.numel);
  if (n == 0) return;  // an empty tensor has no bytes (and dst may be null)
  const auto* p = reinterpret_cast<const unsigned char*>(src.data());
  switch (t.dtype) {
    case SafetensorsDtype::F32:
      std::memcpy(dst, p, n * 4);
      return;
    case SafetensorsDtype::F64:
      for (std::size_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, p + 8 * i, 8);
        dst[i] = static_cast<float>(v);
      }
      return;
    case SafetensorsDtype::F16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        dst[i] = f16_to_f32(v);
      }
      return;
    case SafetensorsDtype::BF16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        dst[i] = bf16_to_f32(v);
      }
      return;
    default:
      throw SafetensorsError(
          Code::unknown_dtype,
          str_cat("safetensors '", source_, "': tensor ", quote_name(t.name), " has dtype ",
                  to_string(t.dtype), "; attnlab reads F32, F16, BF16 and F64 as floats"));
  }
}

std::vector<float> SafetensorsFile::read_f32(const SafetensorsTensor& t) const {
  if (!dtype_converts_to_f32(t.dtype)) {
    read_f32_into(t, nullptr);  // throws the dtype error
  }
  std::vector<float> out(static_cast<std::size_t>(t.numel));
  read_f32_into(t, out.data());
  return out;
}

// ---- writer ---------------------------------------------------------------------------------

namespace {
std::uint64_t checked_numel(const std::vector<Index>& shape, const std::string& name) {
  std::uint64_t n = 1;
  for (Index d : shape) {
    if (d < 0) throw UsageError(str_cat("safetensors writer: tensor '", name, "' has dim ", d));
    n *= static_cast<std::uint64_t>(d);
  }
  return n;
}
}  // namespace

void SafetensorsWriter::add_raw(std::string name, SafetensorsDtype dtype, std::vector<Index> shape,
                                std::string bytes) {
  if (name == "__metadata__") {
    throw UsageError("safetensors writer: '__metadata__' is reserved and cannot name a tensor");
  }
  for (const auto& t : tensors_)
    if (t.name == name)
      throw UsageError(str_cat("safetensors writer: duplicate tensor '", name, "'"));
  const std::uint64_t bits =
      checked_numel(shape, name) * static_cast<std::uint64_t>(dtype_bits(dtype));
  if (bits % 8 != 0 || bits / 8 != bytes.size()) {
    throw UsageError(str_cat("safetensors writer: tensor '", name, "' needs ", bits / 8,
                             " bytes for its shape and dtype, got ", bytes.size()));
  }
  tensors_.push_back({std::move(name), dtype, std::move(shape), std::move(bytes)});
}

void SafetensorsWriter::add_f32(std::string name, std::vector<Index> shape, const float* data,
                                SafetensorsDtype as) {
  const std::uint64_t n = checked_numel(shape, name);
  std::string bytes;
  if (as == SafetensorsDtype::F32) {
    bytes.assign(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n) * 4);
  } else if (as == SafetensorsDtype::F16 || as == SafetensorsDtype::BF16) {
    bytes.resize(static_cast<std::size_t>(n) * 2);
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::uint16_t v =
          as == SafetensorsDtype::F16 ? f32_to_f16(data[i]) : f32_to_bf16(data[i]);
      std::memcpy(bytes.data() + 2 * i, &v, 2);
    }
  } else {
    throw UsageError(str_cat("safetensors writer: cannot store float data as ", to_string(as)));
  }
  add_raw(std::move(name), as, std::move(shape), std::move(bytes));
}

std::string SafetensorsWriter::encode() const {
  std::vector<const Pending*> order;
  for (const auto& t : tensors_) order.push_back(&t);
  // Alignment descending, then name: every tensor starts at a multiple of its element size.
  std::sort(order.begin(), order.end(), [](const Pending* a, const Pending* b) {
    const int ba = dtype_bits(a->dtype), bb = dtype_bits(b->dtype);
    return ba != bb ? ba > bb : a->name < b->name;
  });
  json header = json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::uint64_t at = 0;
  for (const Pending* t : order) {
    json shape = json::array();
    for (Index d : t->shape) shape.push_back(static_cast<std::uint64_t>(d));
    header[t->name] = {{"dtype", to_string(t->dtype)},
                       {"shape", shape},
                       {"data_offsets", {at, at + t->bytes.size()}}};
    at += t->bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + text.size() + static_cast<std::size_t>(at));
  std::uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += text;
  for (const Pending* t : order) out += t->bytes;
  return out;
}

void SafetensorsWriter::save(const std::filesystem::path& path) const {
  write_file_atomic(path, encode());
}

}  // namespace attnlab::io
