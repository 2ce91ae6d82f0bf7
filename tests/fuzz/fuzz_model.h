// What the model-taking fuzz targets share: arbitrary bytes imported as an ONNX model, with the
// tensor size limit lowered so that libFuzzer's memory limit flags only real bugs (a model may
// legitimately ask for a sparse initializer's dense form or a constant up to this size).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/tensor.h"
#include "onnx/importer.h"

namespace kiln::fuzz {

inline Result<ir::Model> import_fuzz_model(const uint8_t* data, size_t size) {
  static const bool limited = [] {
    set_max_tensor_bytes(int64_t{64} << 20);
    return true;
  }();
  (void)limited;
  return importer::import_model_bytes(data, size, /*base_dir=*/"");
}

}  // namespace kiln::fuzz
