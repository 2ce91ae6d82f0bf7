// IDX files (the MNIST / Fashion-MNIST format), optionally gzip-compressed. Only unsigned
// byte data (type 0x08) is supported. The reader treats the file as untrusted input: magic,
// rank and dims are validated against the data before anything is allocated.
#pragma once
#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace kiln::io {

// Parses uncompressed IDX bytes into a uint8 tensor with the file's dims.
Result<Tensor> parse_idx(const std::string& bytes, const std::string& what);
// Reads an IDX file, gunzipping it when it is gzip-compressed (plain files read as they are).
// max_bytes bounds the decompressed size (guards against gzip bombs).
Result<Tensor> read_idx(const std::string& path, size_t max_bytes = size_t{1} << 30);

}  // namespace kiln::io
