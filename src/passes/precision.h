// Precision assignment: precision is a property of values (DESIGN.md). For an --fp16 / --bf16
// build every float32 value of the main graph becomes the target type, float32 weights are
// converted once here, and Casts keep the engine's inputs and outputs in the model's float32.
#pragma once
#include <functional>
#include <string>

#include "core/status.h"
#include "ir/graph.h"

namespace kiln::passes {

Status lower_precision(ir::Graph& graph, DataType target, const std::function<void(const std::string&)>& log = {});

}  // namespace kiln::passes
