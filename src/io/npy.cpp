#include "io/npy.h"

#include <fstream>
#include <sstream>

namespace kiln::io {
namespace {

struct NpyDtype {
  const char* descr;
  DataType dt;
};

constexpr NpyDtype kDtypes[] = {
    {"<f4", DataType::kFloat32}, {"<f8", DataType::kFloat64}, {"<f2", DataType::kFloat16},
    {"|i1", DataType::kInt8},    {"<i2", DataType::kInt16},   {"<i4", DataType::kInt32},
    {"<i8", DataType::kInt64},   {"|u1", DataType::kUInt8},   {"<u2", DataType::kUInt16},
    {"<u4", DataType::kUInt32},  {"<u8", DataType::kUInt64},  {"|b1", DataType::kBool},
    {"<c8", DataType::kComplex64}, {"<c16", DataType::kComplex128},
};

// Extracts the value text of 'key' from the header dict ("{'descr': '<f4', ...}").
bool dict_value(const std::string& header, const std::string& key, std::string& out) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) return false;
  size_t colon = header.find(':', k);
  if (colon == std::string::npos) return false;
  size_t start = header.find_first_not_of(' ', colon + 1);
  if (start == std::string::npos) return false;
  size_t end;
  if (header[start] == '\'') {
    end = header.find('\'', start + 1);
    if (end == std::string::npos) return false;
    out = header.substr(start + 1, end - start - 1);
  } else if (header[start] == '(') {
    end = header.find(')', start);
    if (end == std::string::npos) return false;
    out = header.substr(start + 1, end - start - 1);
  } else {
    end = header.find_first_of(",}", start);
    if (end == std::string::npos) return false;
    out = header.substr(start, end - start);
  }
  return true;
}

}  // namespace

Result<Tensor> parse_npy(const std::string& bytes, const std::string& what) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    return invalid_argument(what + " is not a .npy file (bad magic)");
  uint8_t major = static_cast<uint8_t>(bytes[6]);
  size_t header_len, offset;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return invalid_argument(what + ": truncated header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<uint8_t>(bytes[8 + i])) << (8 * i);
    offset = 12;
  } else {
    return invalid_argument(what + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_len > bytes.size() - offset) return invalid_argument(what + ": truncated header");
  std::string header = bytes.substr(offset, header_len);
  offset += header_len;
  std::string descr, fortran, shape_text;
  if (!dict_value(header, "descr", descr) || !dict_value(header, "fortran_order", fortran) ||
      !dict_value(header, "shape", shape_text))
    return invalid_argument(what + ": malformed header");
  if (fortran.find("False") == std::string::npos)
    return unsupported(what + ": Fortran-order arrays are not supported (save with np.ascontiguousarray)");
  DataType dt = DataType::kUndefined;
  for (const auto& d : kDtypes)
    if (descr == d.descr) dt = d.dt;
  if (descr == "<b1") dt = DataType::kBool;
  if (descr == "<u1") dt = DataType::kUInt8;
  if (descr == "<i1") dt = DataType::kInt8;
  if (dt == DataType::kUndefined) return unsupported(what + ": dtype '" + descr + "' is not supported");
  std::vector<int64_t> dims;
  std::stringstream ss(shape_text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t a = item.find_first_not_of(' ');
    if (a == std::string::npos) continue;
    size_t b = item.find_last_not_of(' ');
    std::string num = item.substr(a, b - a + 1);
    if (num.empty() || num.size() > 18 || num.find_first_not_of("0123456789") != std::string::npos)
      return invalid_argument(what + ": bad shape '(" + shape_text + ")'");
    dims.push_back(std::stoll(num));
  }
  auto count = checked_element_count(dims);
  if (!count) return invalid_argument(what + ": shape overflows");
  size_t need = static_cast<size_t>(*count) * dtype_size(dt);
  if (*count > 0 && need / static_cast<size_t>(*count) != dtype_size(dt)) return invalid_argument(what + ": shape overflows");
  if (bytes.size() - offset != need)
    return invalid_argument(what + ": holds " + std::to_string(bytes.size() - offset) + " data bytes, shape " +
                            dims_to_string(dims) + " needs " + std::to_string(need));
  try {
    Tensor t(dt, dims);
    if (need) std::memcpy(t.raw(), bytes.data() + offset, need);
    return t;
  } catch (const Error& e) {
    return e.to_status().with_context(what);
  }
}

Result<Tensor> read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_npy(buffer.str(), "'" + path + "'");
}

std::string serialize_npy(const Tensor& t) {
  const char* descr = nullptr;
  for (const auto& d : kDtypes)
    if (d.dt == t.dtype()) descr = d.descr;
  if (t.dtype() == DataType::kBFloat16) descr = "<u2";  // numpy has no bfloat16: raw bits
  if (!descr) descr = "|u1";                             // narrow types: raw bytes
  std::string shape = "(";
  for (size_t i = 0; i < t.rank(); ++i) shape += std::to_string(t.dim(i)) + (t.rank() == 1 || i + 1 < t.rank() ? "," : "");
  shape += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(t.raw()), t.nbytes());
  return out;
}

Status write_npy(const std::string& path, const Tensor& t) {
  if (t.dtype() == DataType::kString) return unsupported("string tensors cannot be written as .npy");
  std::ofstream out(path, std::ios::binary);
  if (!out) return io_error("cannot write '" + path + "'");
  std::string bytes = serialize_npy(t);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return out ? Status::ok() : io_error("cannot write '" + path + "'");
}

}  // namespace kiln::io
