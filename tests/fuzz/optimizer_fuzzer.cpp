// libFuzzer target: arbitrary bytes as an ONNX model, imported and then optimized with every
// pass (the rewrites see what a user's model gives them: odd shapes, zero sizes, unknown ranks).
// Optimizing must succeed or fail cleanly, and an optimized graph must still give a CPU
// interpreter (or a clean error). Built by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>

#include "backends/cpu/interpreter.h"
#include "fuzz_model.h"
#include "passes/pass_manager.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto model = kiln::fuzz::import_fuzz_model(data, size);
  if (!model.is_ok()) return 0;
  if (!kiln::passes::optimize(*model->graph, kiln::passes::PassOptions{}).is_ok()) return 0;
  auto interp = kiln::cpu::Interpreter::create(model->graph);
  (void)interp;
  return 0;
}
