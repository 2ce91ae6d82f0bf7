// Human-readable views of a graph: an indented text listing and Graphviz DOT.
#pragma once
#include <string>

#include "ir/graph.h"

namespace kiln::ir {

std::string to_text(const Graph& graph);
std::string to_dot(const Graph& graph);

}  // namespace kiln::ir
