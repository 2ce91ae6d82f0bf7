// Dead-node elimination: a node none of whose outputs is read (by a node, a subgraph or the
// graph's outputs) is removed. One sweep in reverse order removes whole dead chains.
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

class DeadNodeElimination : public Pass {
 public:
  const char* name() const override { return "dead-node-elimination"; }

  bool matches(const ir::Graph& g, const ir::Node& n) const override {
    for (const ir::Value* out : n.outputs())
      if (out && is_graph_output(g, out)) return false;
    return true;
  }

  bool rewrite(ir::Graph& g, ir::Node& n, const PassLog& log) override {
    for (const ir::Value* out : n.outputs())
      if (out && !g.consumers(out).empty()) return false;
    if (log) log("dead-node-elimination: removed " + n.describe());
    g.remove_node(&n);
    return true;
  }

  int run(ir::Graph& g, const PassLog& log) override {
    int removed = 0;
    auto nodes = g.node_list();
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it)
      if (matches(g, **it) && rewrite(g, **it, log)) ++removed;
    return removed;
  }
};

}  // namespace

std::unique_ptr<Pass> make_dead_node_elimination() { return std::make_unique<DeadNodeElimination>(); }

}  // namespace kiln::passes
