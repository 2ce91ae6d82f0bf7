// Views: nodes whose output is exactly its input's bytes (a row-major Reshape, Squeeze,
// Unsqueeze, Flatten, Identity, or a kiln::Reformat between equal layouts). The builder runs no
// kernel for them: the memory plan makes the output an alias of the input (MemoryPlan::aliases)
// and the engine keeps the node as an alias layer (tactic kAliasTactic) that enqueue skips.
#pragma once
#include "ir/graph.h"

namespace kiln::plan {

// The builder step's name for --disable-pass (every movement op then runs as a copy kernel).
inline constexpr const char* kViewAliasPass = "view-alias";
// The tactic id an engine records for a view's layer: no kernel; its output is an alias.
inline constexpr const char* kAliasTactic = "alias";

// Whether `node` reinterprets its input 0 as its one output without moving a byte: a view op,
// both values static row-major tensors of the same fixed-size dtype and the same byte size.
// (An NHWC Reshape is not a reinterpretation: the logical order differs from the stored one.)
bool is_view_node(const ir::Node& node);

}  // namespace kiln::plan
