// External data files of a model: resolved inside the model's folder only. Absolute paths,
// '..', and links that lead out are refused (CVE-2024-27318, CVE-2025-51480), and every
// offset and length is checked against the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace kiln::importer {

// Reads `length` bytes at `offset` of `location` (relative to model_dir). length < 0 means
// "to the end of the file". expected_bytes is what the tensor needs; a mismatch is an error.
Result<std::vector<uint8_t>> read_external_data(const std::string& model_dir, const std::string& location,
                                                int64_t offset, int64_t length, int64_t expected_bytes);

}  // namespace kiln::importer
