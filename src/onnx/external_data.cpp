#include "onnx/external_data.h"

#include <sys/stat.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <memory>

namespace kiln::importer {
namespace {

Result<std::string> canonical(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> resolved(realpath(path.c_str(), nullptr), &std::free);
  if (!resolved) return io_error("cannot open '" + path + "'");
  return std::string(resolved.get());
}

}  // namespace

Result<std::vector<uint8_t>> read_external_data(const std::string& model_dir, const std::string& location,
                                                int64_t offset, int64_t length, int64_t expected_bytes) {
  const std::string what = "external data '" + location + "'";
  if (model_dir.empty()) return invalid_argument(what + ": the model was not loaded from a folder");
  if (location.empty()) return invalid_model(what + ": empty location");
  if (location.find('\0') != std::string::npos) return invalid_model(what + ": location holds a NUL byte");
  if (location[0] == '/' || location[0] == '\\' || location.find(':') != std::string::npos)
    return invalid_model(what + ": absolute paths are refused");
  // Any '..' component is refused outright, even one that would stay inside.
  size_t start = 0;
  while (start <= location.size()) {
    size_t end = location.find_first_of("/\\", start);
    if (end == std::string::npos) end = location.size();
    if (location.compare(start, end - start, "..") == 0) return invalid_model(what + ": '..' is refused");
    start = end + 1;
  }
  KILN_ASSIGN_OR_RETURN(std::string dir, canonical(model_dir));
  KILN_ASSIGN_OR_RETURN(std::string file, canonical(model_dir + "/" + location));
  if (file.compare(0, dir.size() + 1, dir + "/") != 0)
    return invalid_model(what + " resolves outside the model's folder");
  struct stat st;
  if (lstat((model_dir + "/" + location).c_str(), &st) != 0) return io_error(what + ": cannot stat");
  if (S_ISLNK(st.st_mode)) return invalid_model(what + " is a symbolic link, which is refused");
  if (stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return invalid_model(what + " is not a regular file");
  if (st.st_nlink > 1) return invalid_model(what + " has several hard links, which is refused");
  int64_t size = st.st_size;
  if (offset < 0 || offset > size) return invalid_model(what + ": offset " + std::to_string(offset) + " is outside the file");
  if (length < 0) length = size - offset;
  if (length > size - offset)
    return invalid_model(what + ": offset + length runs past the end of the file (" + std::to_string(size) + " bytes)");
  if (length != expected_bytes)
    return invalid_model(what + " holds " + std::to_string(length) + " bytes, the tensor needs " +
                         std::to_string(expected_bytes));
  std::ifstream in(file, std::ios::binary);
  if (!in) return io_error(what + ": cannot open");
  std::vector<uint8_t> bytes(static_cast<size_t>(length));
  in.seekg(offset);
  in.read(reinterpret_cast<char*>(bytes.data()), length);
  if (in.gcount() != length) return io_error(what + ": short read");
  return bytes;
}

}  // namespace kiln::importer
