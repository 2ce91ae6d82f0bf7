#include "ir/verifier.h"

#include <unordered_set>

namespace kiln::ir {
namespace {

Status verify_graph(const Graph& g, std::vector<const std::unordered_set<const Value*>*>& outer) {
  std::unordered_set<const Value*> defined;
  for (const Value* v : g.inputs()) defined.insert(v);
  for (const auto& v : g.values())
    if (v->is_constant()) defined.insert(v.get());
  auto visible = [&](const Value* v) {
    if (defined.count(v)) return true;
    for (const auto* scope : outer)
      if (scope->count(v)) return true;
    return false;
  };
  for (const auto& node : g.nodes()) {
    if (node->owner() != &g) return internal_error(node->describe() + " is listed in a graph it does not belong to");
    for (const Value* in : node->inputs()) {
      if (!in) continue;
      if (!visible(in)) {
        if (in->producer() && in->owner() == &g)
          return invalid_model(node->describe() + " reads '" + in->name() + "' before " + in->producer()->describe() +
                               " produces it (the graph has a cycle or is out of order)");
        return invalid_model(node->describe() + " reads '" + in->name() + "', which nothing produces");
      }
    }
    outer.push_back(&defined);
    for (const auto& [name, attr] : node->attrs().all()) {
      std::vector<const Graph*> subs;
      if (auto* s = std::get_if<std::shared_ptr<Graph>>(&attr)) subs.push_back(s->get());
      if (auto* ss = std::get_if<std::vector<std::shared_ptr<Graph>>>(&attr))
        for (auto& s : *ss) subs.push_back(s.get());
      for (const Graph* sub : subs) {
        Status st = verify_graph(*sub, outer);
        if (!st.is_ok()) {
          outer.pop_back();
          return st.with_context(node->describe() + ", attribute '" + name + "'");
        }
      }
    }
    outer.pop_back();
    for (const Value* out : node->outputs()) {
      if (!out) continue;
      if (out->producer() != node.get())
        return internal_error("output '" + out->name() + "' of " + node->describe() + " does not name it as producer");
      if (!defined.insert(out).second)
        return invalid_model("value '" + out->name() + "' is defined twice");
    }
  }
  for (const Value* out : g.outputs())
    if (!visible(out)) return invalid_model("graph '" + g.name() + "' output '" + out->name() + "' is not produced by any node");
  return Status::ok();
}

}  // namespace

Status verify(const Graph& graph) {
  std::vector<const std::unordered_set<const Value*>*> outer;
  return verify_graph(graph, outer);
}

}  // namespace kiln::ir
