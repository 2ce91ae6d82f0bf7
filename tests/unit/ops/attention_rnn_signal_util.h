// Runs one registered op's reference kernel or shape inference on a one-node graph, for the
// unit tests of the attention, recurrent, signal and detection op families.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"
#include "ops/registry.h"

namespace kiln::ops::testing {

struct OneNode {
  std::shared_ptr<ir::Graph> graph = std::make_shared<ir::Graph>();
  ir::Node* node = nullptr;
  // inputs: nullopt for an omitted optional input.
  OneNode(const std::string& op, const std::vector<std::optional<ir::ValueType>>& inputs, size_t outputs,
          const std::string& domain = "") {
    std::vector<ir::Value*> ins, outs;
    for (size_t i = 0; i < inputs.size(); ++i)
      ins.push_back(inputs[i] ? graph->add_value("in" + std::to_string(i), *inputs[i]) : nullptr);
    for (size_t i = 0; i < outputs; ++i) outs.push_back(graph->add_value("out" + std::to_string(i)));
    node = graph->add_node(op, ins, outs, "node", domain);
  }
};

inline ir::ValueType tt(DataType dt, std::vector<int64_t> dims) { return ir::ValueType::tensor(dt, Shape::from_dims(dims)); }

// Runs the kernel of version `version`; throws kiln::Error as the kernel does.
inline std::vector<RuntimeValue> run_op(const std::string& op, int version, const std::vector<std::optional<Tensor>>& inputs,
                                        size_t outputs, const ir::Attributes& attrs = {}, const std::string& domain = "") {
  std::vector<std::optional<ir::ValueType>> types;
  for (const auto& t : inputs) types.push_back(t ? std::optional<ir::ValueType>(tt(t->dtype(), t->dims())) : std::nullopt);
  OneNode g(op, types, outputs, domain);
  g.node->attrs() = attrs;
  std::vector<RuntimeValue> values(inputs.size());
  std::vector<const RuntimeValue*> ptrs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i]) values[i] = RuntimeValue(*inputs[i]);
    ptrs.push_back(inputs[i] ? &values[i] : nullptr);
  }
  const OpSchema* s = OpRegistry::global().find(domain, op);
  if (!s) throw_error(StatusCode::kUnsupported, op + " is not registered");
  KernelContext ctx(*g.node, version, ptrs, nullptr);
  s->cpu(ctx);
  return ctx.outputs();
}

inline std::vector<ir::ValueType> infer_op(const std::string& op, int version, const std::vector<std::optional<ir::ValueType>>& inputs,
                                           size_t outputs, const ir::Attributes& attrs = {}) {
  OneNode g(op, inputs, outputs);
  g.node->attrs() = attrs;
  std::vector<const ir::ValueType*> types;
  for (size_t i = 0; i < inputs.size(); ++i) types.push_back(inputs[i] ? &g.node->input(i)->type() : nullptr);
  int counter = 0;
  InferenceContext ctx(*g.node, version, types, std::vector<const Tensor*>(inputs.size(), nullptr), &counter);
  OpRegistry::global().find("", op)->infer(ctx);
  return ctx.outputs();
}

inline Tensor f32(std::vector<int64_t> dims, std::vector<float> v) {
  Tensor t(DataType::kFloat32, std::move(dims));
  for (size_t i = 0; i < v.size() && i < static_cast<size_t>(t.numel()); ++i) t.data<float>()[i] = v[i];
  return t;
}

}  // namespace kiln::ops::testing
