#include "ops/common/standard_op.h"

#include <algorithm>

#include "ops/registry.h"

namespace kiln::ops {
namespace {

const OpSchema& schema_of(const std::string& op) {
  const OpSchema* s = OpRegistry::global().find("", op);
  if (!s || !s->cpu) throw_error(StatusCode::kInternal, "standard op " + op + " is not registered");
  return *s;
}

int latest(const OpSchema& s) { return *std::max_element(s.versions.begin(), s.versions.end()); }

ir::Node* scratch_node(ir::Graph& g, const std::string& op, const ir::Attributes& attrs, size_t inputs,
                       const std::vector<bool>& present, const std::string& name) {
  std::vector<ir::Value*> ins;
  for (size_t i = 0; i < inputs; ++i) ins.push_back(present[i] ? g.add_value("in" + std::to_string(i)) : nullptr);
  ir::Node* n = g.add_node(op, ins, {g.add_value("out")}, name);
  n->attrs() = attrs;
  return n;
}

}  // namespace

Tensor run_standard_op(const std::string& op, const ir::Attributes& attrs, const std::vector<const Tensor*>& inputs,
                       const std::string& node_name) {
  const OpSchema& s = schema_of(op);
  ir::Graph g;
  std::vector<bool> present;
  std::vector<RuntimeValue> storage;
  storage.reserve(inputs.size());
  std::vector<const RuntimeValue*> vals;
  for (const Tensor* t : inputs) {
    present.push_back(t != nullptr);
    if (!t) {
      vals.push_back(nullptr);
      continue;
    }
    storage.emplace_back(*t);
    vals.push_back(&storage.back());
  }
  ir::Node* n = scratch_node(g, op, attrs, inputs.size(), present, node_name.empty() ? op : node_name);
  KernelContext ctx(*n, latest(s), vals, [](const ir::Graph&, const std::vector<RuntimeValue>&)
                                             -> std::vector<RuntimeValue> {
    throw_error(StatusCode::kInternal, "no subgraphs here");
  });
  s.cpu(ctx);
  return ctx.outputs()[0].tensor();
}

ir::ValueType infer_standard_op(const std::string& op, const ir::Attributes& attrs,
                                const std::vector<const ir::ValueType*>& types,
                                const std::vector<const Tensor*>& constants) {
  const OpSchema& s = schema_of(op);
  ir::Graph g;
  std::vector<bool> present;
  for (const auto* t : types) present.push_back(t != nullptr);
  ir::Node* n = scratch_node(g, op, attrs, types.size(), present, op);
  std::vector<const Tensor*> consts = constants;
  consts.resize(types.size(), nullptr);
  int symbols = 0;
  InferenceContext ctx(*n, latest(s), types, consts, &symbols);
  if (s.infer) s.infer(ctx);
  return ctx.outputs()[0];
}

}  // namespace kiln::ops
