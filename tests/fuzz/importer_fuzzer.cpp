// libFuzzer target: arbitrary bytes as an ONNX model. Import must fail cleanly or succeed; a
// model that imports must also give a CPU interpreter (or a clean error). Built by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>

#include "backends/cpu/interpreter.h"
#include "fuzz_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto model = kiln::fuzz::import_fuzz_model(data, size);
  if (!model.is_ok()) return 0;
  auto interp = kiln::cpu::Interpreter::create(model->graph);
  (void)interp;
  return 0;
}
