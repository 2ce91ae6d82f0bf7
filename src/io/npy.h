// NumPy .npy files in and out (format versions 1-3, little-endian, C order). The reader is a
// parser of untrusted input: header and sizes are validated before any allocation.
#pragma once
#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace kiln::io {

Result<Tensor> parse_npy(const std::string& bytes, const std::string& what);
Result<Tensor> read_npy(const std::string& path);
std::string serialize_npy(const Tensor& t);  // float16/bfloat16 as '<f2' / raw '<u2'
Status write_npy(const std::string& path, const Tensor& t);

}  // namespace kiln::io
