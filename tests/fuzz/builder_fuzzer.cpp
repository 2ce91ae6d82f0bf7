// libFuzzer target: arbitrary bytes as an ONNX model, built into a CPU engine description (every
// pass, the precision pass in float16 or bfloat16 for some inputs, the static-shape check, the
// memory plan with its views, the packed weights), written as an engine file and read back.
// Each step must succeed or fail cleanly, and an engine the writer made must read back. The
// optimizer target stops after the passes; this one covers the builder's later steps. The
// precision is picked from the input's size, so the optimizer's seeds serve as they are.
// Built by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz_model.h"
#include "plan/engine_format.h"
#include "runtime/builder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto model = kiln::fuzz::import_fuzz_model(data, size);
  if (!model.is_ok()) return 0;
  kiln::runtime::BuilderConfig config;
  config.backend = kiln::runtime::Backend::kCpu;
  config.fp16 = size % 3 == 1;
  config.bf16 = size % 3 == 2;
  config.overflow_check = false;  // runs the model: the interpreter has its own targets' coverage
  kiln::runtime::TargetInfo target;
  target.backend = "cpu";
  auto desc = kiln::runtime::Builder::build_desc(*model, config, target);
  if (!desc.is_ok()) return 0;
  auto bytes = kiln::plan::write_engine(*desc);
  if (!bytes.is_ok()) return 0;
  auto back = kiln::plan::read_engine_any_target(kiln::plan::engine_bytes(std::move(*bytes)));
  if (!back.is_ok()) std::abort();  // the writer made an engine its own reader refuses
  return 0;
}
