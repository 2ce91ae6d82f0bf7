#include "passes/pass_manager.h"

namespace kiln::passes {

std::vector<std::string> pass_names() { return {}; }

Status optimize(ir::Graph& graph, const PassOptions& options) {
  if (options.log) options.log("optimizer: no passes registered yet; the graph is lowered as imported");
  return Status::ok();
}

}  // namespace kiln::passes
