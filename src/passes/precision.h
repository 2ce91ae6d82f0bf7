// Precision assignment: precision is a property of values (DESIGN.md). For an --fp16 / --bf16
// build every float32 value of the main graph becomes the target type, float32 weights are
// converted once here, and Casts keep the engine's inputs and outputs in the model's float32.
#pragma once
#include <functional>
#include <set>
#include <string>

#include "core/status.h"
#include "ir/graph.h"

namespace kiln::passes {

// float32_nodes (e.g. from the fp16 overflow check, fp16_overflow.h) stay float32 islands: they
// read float32 (a Cast from the lowered producer where needed; constants only they use stay
// float32) and their float32 outputs reach other nodes through a Cast to the target type.
Status lower_precision(ir::Graph& graph, DataType target, const std::function<void(const std::string&)>& log = {},
                       const std::set<const ir::Node*>& float32_nodes = {});

}  // namespace kiln::passes
