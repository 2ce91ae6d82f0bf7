// Helpers shared by the control-flow ops (If, Loop, Scan, SequenceMap): reading body graphs
// and combining the per-iteration outputs of a body.
#pragma once
#include <optional>
#include <vector>

#include "ops/infer_context.h"
#include "ops/kernel_context.h"

namespace kiln::ops {

// The graph attribute `name`; throws Error naming the node when absent.
const ir::Graph& body_graph(const ir::Node& node, const char* name);
// Two types of one value that both may occur (If's branches, a loop-carried value before and
// after the body): equal dims are kept, differing ones become unknown, differing ranks make the
// rank unknown; a value and an optional of it give the optional. Throws Error when kinds or
// dtypes contradict.
ir::ValueType merge_alternatives(const ir::ValueType& a, const ir::ValueType& b, const std::string& what);
// Stacks per-iteration tensors along a new axis at `axis`; with no iterations, an empty tensor
// shaped from the body's declared output type (an unknown per-iteration shape gives [0]).
Tensor stack_iterations(const std::vector<Tensor>& parts, int64_t axis, const ir::ValueType& body_type);

}  // namespace kiln::ops
