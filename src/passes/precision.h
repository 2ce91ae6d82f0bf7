// Precision assignment: precision is a property of values (DESIGN.md). For an --fp16 / --bf16
// build every float32 value of the main graph becomes the target type, float32 weights are
// converted once here, and Casts keep the engine's inputs and outputs in the model's float32
// (unless low_precision_io).
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
// low_precision_io (kiln build --io-dtype): the float32 graph inputs and outputs take the target
// type themselves, so no Cast sits at the boundary; readers that must see float32 (kept nodes,
// fixed-float inputs such as Resize scales) read an input through a Cast up, and an output a
// kept node writes goes through a Cast down.
Status lower_precision(ir::Graph& graph, DataType target, const std::function<void(const std::string&)>& log = {},
                       const std::set<const ir::Node*>& float32_nodes = {}, bool low_precision_io = false);

}  // namespace kiln::passes
