// Structural checks of a graph: every value read is defined before it is read (in this graph
// or an enclosing one), nodes are in topological order (no cycles), outputs are produced.
#pragma once
#include "core/status.h"
#include "ir/graph.h"

namespace kiln::ir {

Status verify(const Graph& graph);

}  // namespace kiln::ir
