// libFuzzer target: arbitrary bytes as an ONNX model. Import must fail cleanly or succeed; a
// model that imports must also give a CPU interpreter (or a clean error). Built by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>

#include "backends/cpu/interpreter.h"
#include "core/tensor.h"
#include "onnx/importer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Tensors a model may legitimately ask for (a sparse initializer's dense form, a constant)
  // are allowed up to this size here, so that libFuzzer's memory limit flags only real bugs.
  static const bool limited = [] {
    kiln::set_max_tensor_bytes(int64_t{64} << 20);
    return true;
  }();
  (void)limited;
  auto model = kiln::importer::import_model_bytes(data, size, /*base_dir=*/"");
  if (!model.is_ok()) return 0;
  auto interp = kiln::cpu::Interpreter::create(model->graph);
  (void)interp;
  return 0;
}
