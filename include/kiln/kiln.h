// Kiln's public C++ API: build an engine from an ONNX model, save and load it, run it.
//
//   auto model = kiln::importer::import_model_file("model.onnx");      // Result<ir::Model>
//   kiln::BuilderConfig config;  config.backend = kiln::Backend::kCpu;
//   auto engine = kiln::Builder::build(model.value(), config);     // Result<shared_ptr<Engine>>
//   engine.value()->save("model.kiln");
//   auto loaded = kiln::Engine::load("model.kiln");
//   auto ctx = loaded.value()->create_context();                  // one per concurrent user
//   auto outputs = ctx.value()->run({{"input", tensor}});          // host tensors in and out
//
// I/O formats: config.io_dtype = kiln::DataType::kFloat16 (with config.fp16) and
// config.input_layout = kiln::ir::Layout::kNHWC make the engine take float16 [N,H,W,C] images;
// engine->inputs() says what each binding holds, runtime/io_format.h converts to and from the
// model's form.
//
// Errors are Status / Result values; no exception crosses this API.
#pragma once
#include "core/status.h"
#include "core/tensor.h"
#include "onnx/importer.h"
#include "runtime/builder.h"
#include "runtime/device.h"
#include "runtime/engine.h"
#include "runtime/execution_context.h"
#include "runtime/io_format.h"

namespace kiln {

using runtime::Backend;
using runtime::Builder;
using runtime::BuilderConfig;
using runtime::Device;
using runtime::Engine;
using runtime::ExecutionContext;
using runtime::Stream;
using runtime::TensorRef;

}  // namespace kiln
