// Runs every node's shape inference over a graph (subgraphs first), merging what it infers
// with the types the model declared; a contradiction is an error naming the node.
#pragma once
#include "core/status.h"
#include "ir/graph.h"

namespace kiln::ops {

Status infer_shapes(ir::Graph& graph);

// Merges an inferred type into a declared one: declared facts stay, unknowns are filled in.
// An error when both are known and differ.
Status merge_types(ir::ValueType& declared, const ir::ValueType& inferred, const std::string& what);

}  // namespace kiln::ops
