// The optimizer hook the builder calls between import and lowering. The graph rewrites
// (constant folding, fusions, ...) plug in here; until they land, optimize() runs no passes
// and says so, so `kiln build --verbose` shows it.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace kiln::passes {

struct PassOptions {
  std::vector<std::string> disabled;  // pass names to skip (--disable-pass)
  std::function<void(const std::string&)> log;  // verbose messages; may be empty
};

// Rewrites `graph` in place to a fixed point; the result computes the same outputs.
Status optimize(ir::Graph& graph, const PassOptions& options);

// Names of the passes optimize() knows (for --disable-pass validation and --help).
std::vector<std::string> pass_names();

}  // namespace kiln::passes
