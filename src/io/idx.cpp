#include "io/idx.h"

#include <zlib.h>

#include <cstring>
#include <memory>

namespace kiln::io {

Result<Tensor> parse_idx(const std::string& bytes, const std::string& what) {
  if (bytes.size() < 4) return invalid_argument(what + " is not an IDX file (shorter than its 4-byte magic)");
  const auto* b = reinterpret_cast<const uint8_t*>(bytes.data());
  if (b[0] != 0 || b[1] != 0) return invalid_argument(what + " is not an IDX file (bad magic)");
  if (b[2] != 0x08)
    return unsupported(what + ": IDX data type 0x" + std::to_string(b[2]) + " is not supported (only unsigned bytes, 0x08)");
  const size_t rank = b[3];
  if (rank == 0) return invalid_argument(what + ": IDX rank 0 is not valid");
  const size_t header = 4 + 4 * rank;
  if (bytes.size() < header) return invalid_argument(what + ": truncated IDX header");
  std::vector<int64_t> dims(rank);
  for (size_t i = 0; i < rank; ++i) {
    const uint8_t* p = b + 4 + 4 * i;
    dims[i] = (int64_t{p[0]} << 24) | (int64_t{p[1]} << 16) | (int64_t{p[2]} << 8) | int64_t{p[3]};
  }
  auto count = checked_element_count(dims);
  if (!count) return invalid_argument(what + ": IDX dims " + dims_to_string(dims) + " overflow");
  const size_t have = bytes.size() - header;
  if (static_cast<uint64_t>(*count) != have)
    return invalid_argument(what + ": IDX dims " + dims_to_string(dims) + " need " + std::to_string(*count) +
                            " data bytes, the file holds " + std::to_string(have));
  try {
    Tensor t(DataType::kUInt8, dims);
    if (have) std::memcpy(t.raw(), b + header, have);
    return t;
  } catch (const Error& e) {
    return e.to_status().with_context(what);
  }
}

Result<Tensor> read_idx(const std::string& path, size_t max_bytes) {
  const std::string what = "'" + path + "'";
  std::unique_ptr<gzFile_s, decltype(&gzclose)> f(gzopen(path.c_str(), "rb"), &gzclose);
  if (!f) return io_error("cannot open " + what);
  std::string bytes;
  char chunk[1 << 16];
  while (true) {
    int n = gzread(f.get(), chunk, sizeof chunk);
    if (n < 0) {
      int err = 0;
      const char* msg = gzerror(f.get(), &err);
      return io_error(what + ": corrupt gzip data (" + std::string(msg ? msg : "unknown error") + ")");
    }
    if (n == 0) break;
    if (bytes.size() + static_cast<size_t>(n) > max_bytes)
      return invalid_argument(what + " decompresses to more than " + std::to_string(max_bytes) + " bytes");
    bytes.append(chunk, static_cast<size_t>(n));
  }
  // gzread returns 0 both at the end and on a truncated stream: ask which.
  int err = 0;
  const char* msg = gzerror(f.get(), &err);
  if (err != Z_OK && err != Z_BUF_ERROR)
    return io_error(what + ": corrupt gzip data (" + std::string(msg ? msg : "unknown error") + ")");
  if (err == Z_BUF_ERROR) return io_error(what + ": truncated gzip data");
  return parse_idx(bytes, what);
}

}  // namespace kiln::io
