#include "attnlab/io/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "attnlab/core/atomic_file.hpp"
#include "attnlab/core/error.hpp"

namespace attnlab::io {
namespace {

[[noreturn]] void fail(const std::string& source, const std::string& message) {
  throw FormatError(str_cat(source, ": ", message));
}

std::string hex_byte(unsigned b) {
  static const char* hex = "0123456789ABCDEF";
  return str_cat("0x", hex[(b >> 4) & 15], hex[b & 15]);
}

bool is_gzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

// Sequential reader over the decoded IDX bytes: a plain view, or a gzip stream inflated on demand
// (only as many bytes as asked for, so the caller bounds the work and the memory).
class IdxSource {
 public:
  IdxSource(std::string_view bytes, const std::string& source)
      : in_(bytes), source_(source), gzip_(is_gzip(bytes)) {
    if (!gzip_) return;
    std::memset(&zs_, 0, sizeof(zs_));
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) {
      throw Error(str_cat(source_, ": cannot initialise zlib inflate"));
    }
    initialised_ = true;
  }
  ~IdxSource() {
    if (initialised_) inflateEnd(&zs_);
  }
  IdxSource(const IdxSource&) = delete;
  IdxSource& operator=(const IdxSource&) = delete;

  bool gzip() const { return gzip_; }
  // Bytes of a plain source not yet read.
  std::size_t plain_remaining() const { return in_.size() - in_pos_; }

  // Reads up to n bytes into dst; fewer only at the end of the data.
  std::size_t read(std::uint8_t* dst, std::size_t n) {
    if (!gzip_) {
      const std::size_t k = std::min(n, in_.size() - in_pos_);
      if (k > 0) std::memcpy(dst, in_.data() + in_pos_, k);
      in_pos_ += k;
      return k;
    }
    std::size_t got = 0;
    while (got < n && !done_) {
      if (zs_.avail_in == 0 && in_pos_ < in_.size()) {
        const std::size_t k = std::min<std::size_t>(in_.size() - in_pos_, UINT_MAX / 2);
        zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in_.data() + in_pos_));
        zs_.avail_in = static_cast<uInt>(k);
        in_pos_ += k;
      }
      const auto want = static_cast<uInt>(std::min<std::size_t>(n - got, UINT_MAX / 2));
      zs_.next_out = dst + got;
      zs_.avail_out = want;
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      got += want - zs_.avail_out;
      switch (rc) {
        case Z_OK:
          break;
        case Z_STREAM_END:
          next_member();
          break;
        case Z_BUF_ERROR:
          if (zs_.avail_in == 0 && in_pos_ == in_.size()) {
            fail(source_, "gzip stream is truncated (the compressed data ends early)");
          }
          fail(source_, "corrupt gzip data (zlib made no progress)");
        case Z_MEM_ERROR:
          throw Error(str_cat(source_, ": zlib inflate ran out of memory"));
        default:
          fail(source_, str_cat("corrupt gzip data (zlib: ", zs_.msg ? zs_.msg : "error", ")"));
      }
    }
    return got;
  }

 private:
  // After the end of one gzip member: another member follows, or the input must be over.
  void next_member() {
    const std::size_t left = zs_.avail_in + (in_.size() - in_pos_);
    if (left == 0) {
      done_ = true;
      return;
    }
    const std::string_view rest = in_.substr(in_.size() - left);
    if (!is_gzip(rest)) fail(source_, str_cat(left, " bytes of garbage after the gzip stream"));
    if (inflateReset(&zs_) != Z_OK) throw Error(str_cat(source_, ": zlib inflateReset failed"));
  }

  std::string_view in_;
  const std::string& source_;
  bool gzip_;
  std::size_t in_pos_ = 0;  // input handed over (plain: consumed)
  z_stream zs_{};
  bool initialised_ = false;
  bool done_ = false;
};

const char* idx_type_name(unsigned type) {
  switch (type) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return nullptr;
  }
}

std::string dims_text(const std::vector<std::uint64_t>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + ")";
}

}  // namespace

IdxArray parse_idx(std::string_view bytes, const std::string& source) {
  IdxSource src(bytes, source);
  const char* what = src.gzip() ? " (after gunzip)" : "";

  std::uint8_t head[4];
  const std::size_t got_head = src.read(head, 4);
  if (got_head < 4) {
    fail(source, str_cat("file is truncated: ", got_head, " bytes", what,
                         ", the IDX header needs at least 4"));
  }
  if (head[0] != 0 || head[1] != 0) {
    fail(source, str_cat("not an IDX file: magic bytes are ", hex_byte(head[0]), " ",
                         hex_byte(head[1]), ", expected 0x00 0x00"));
  }
  const unsigned type = head[2];
  if (type != 0x08) {
    const char* name = idx_type_name(type);
    if (name != nullptr) {
      fail(source, str_cat("element type ", hex_byte(type), " (", name,
                           ") is not supported; only 0x08 (unsigned byte)"));
    }
    fail(source, str_cat("unknown IDX element type byte ", hex_byte(type)));
  }
  const unsigned ndim = head[3];
  if (ndim < 1 || ndim > 3) {
    fail(source, str_cat("ndim is ", ndim, "; 1 to 3 dims are supported"));
  }

  std::uint8_t dim_bytes[12];
  const std::size_t got_dims = src.read(dim_bytes, 4 * ndim);
  if (got_dims < 4 * ndim) {
    fail(source, str_cat("file is truncated in the header: ", ndim, " dims need ", 4 * ndim,
                         " bytes, found ", got_dims));
  }
  std::vector<std::uint64_t> dims(ndim);
  std::uint64_t count = 1;
  bool overflow = false;
  for (unsigned k = 0; k < ndim; ++k) {
    const std::uint8_t* p = dim_bytes + 4 * k;
    dims[k] = (std::uint64_t{p[0]} << 24) | (std::uint64_t{p[1]} << 16) |
              (std::uint64_t{p[2]} << 8) | std::uint64_t{p[3]};
    overflow |= __builtin_mul_overflow(count, dims[k], &count);
  }
  for (unsigned k = 0; k < ndim; ++k) {
    if (dims[k] == 0) fail(source, str_cat("dimension ", k, " of ", dims_text(dims), " is 0"));
  }
  if (overflow || count > kIdxMaxElements) {
    fail(source, str_cat("dims ", dims_text(dims), " need ",
                         overflow ? std::string("more than 2^64") : std::to_string(count),
                         " bytes of data, above the limit of 2^32"));
  }

  IdxArray out;
  out.dims.assign(dims.begin(), dims.end());
  const std::size_t header_bytes = 4 + 4 * std::size_t{ndim};
  if (!src.gzip()) {
    // Plain: the file size is known, so check it before allocating.
    const std::size_t have = src.plain_remaining();
    if (have < count) {
      fail(source, str_cat("data is truncated: dims ", dims_text(dims), " need ", count,
                           " bytes after the ", header_bytes, "-byte header, found ", have));
    }
    if (have > count) {
      fail(source, str_cat(have - count, " trailing bytes after the ", count,
                           " data bytes of dims ", dims_text(dims)));
    }
    out.data.resize(count);
    src.read(out.data.data(), count);
    return out;
  }
  // Gzip: inflate at most count + 1 bytes, growing the buffer only with bytes really inflated.
  const std::uint64_t target = count + 1;
  std::size_t chunk = std::size_t{1} << 20;
  while (out.data.size() < target) {
    const std::size_t old = out.data.size();
    const std::size_t want = std::min<std::uint64_t>(chunk, target - old);
    out.data.resize(old + want);
    const std::size_t got = src.read(out.data.data() + old, want);
    out.data.resize(old + got);
    if (got < want) break;
    chunk = std::min<std::size_t>(chunk * 2, std::size_t{1} << 28);
  }
  if (out.data.size() < count) {
    fail(source,
         str_cat("data is truncated: dims ", dims_text(dims), " need ", count, " bytes after the ",
                 header_bytes, "-byte header, found ", out.data.size(), " (after gunzip)"));
  }
  if (out.data.size() > count) {
    fail(source, str_cat("trailing bytes after the ", count, " data bytes of dims ",
                         dims_text(dims), " (after gunzip)"));
  }
  return out;
}

IdxArray load_idx(const std::filesystem::path& path) {
  const std::string bytes = read_file(path, "IDX file");
  return parse_idx(bytes, path.string());
}

}  // namespace attnlab::io
