// One-node graphs for the shape-op unit tests: run shape inference and the CPU kernel.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/cpu/interpreter.h"
#include "ir/graph.h"
#include "ops/shape_inference.h"

namespace kiln::testing {

struct OpInput {
  ir::ValueType type;
  std::optional<Tensor> constant;  // an initializer when set
  static OpInput value(const Tensor& t) { return {ir::ValueType::tensor(t.dtype(), Shape::from_dims(t.dims())), t}; }
  static OpInput runtime(const Tensor& t) { return {ir::ValueType::tensor(t.dtype(), Shape::from_dims(t.dims())), std::nullopt, t}; }
  static OpInput typed(DataType dt, std::optional<Shape> shape) { return {ir::ValueType::tensor(dt, std::move(shape)), std::nullopt}; }
  std::optional<Tensor> runtime_value = std::nullopt;  // a graph input fed at run time
};

struct OneNodeGraph {
  std::shared_ptr<ir::Graph> graph = std::make_shared<ir::Graph>();
  ir::Node* node = nullptr;
  std::vector<RuntimeValue> feeds;

  OneNodeGraph(const std::string& op, int64_t opset, const std::vector<OpInput>& inputs, size_t n_outputs,
               const ir::Attributes& attrs = {}) {
    graph->set_opset("", opset);
    std::vector<ir::Value*> ins, outs;
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::string name = "in" + std::to_string(i);
      if (inputs[i].constant) {
        ins.push_back(graph->add_constant(name, *inputs[i].constant));
      } else {
        ir::Value* v = graph->add_value(name, inputs[i].type);
        graph->inputs().push_back(v);
        ins.push_back(v);
        feeds.push_back(inputs[i].runtime_value ? RuntimeValue(*inputs[i].runtime_value) : RuntimeValue());
      }
    }
    for (size_t i = 0; i < n_outputs; ++i) outs.push_back(graph->add_value("out" + std::to_string(i)));
    node = graph->add_node(op, ins, outs, "node");
    node->attrs() = attrs;
    for (ir::Value* v : outs) graph->outputs().push_back(v);
  }

  Status infer() { return ops::infer_shapes(*graph); }
  const ir::ValueType& output_type(size_t i) const { return node->output(i)->type(); }

  Result<std::vector<RuntimeValue>> run() {
    KILN_RETURN_IF_ERROR(infer());
    auto interp = cpu::Interpreter::create(graph);
    if (!interp.is_ok()) return interp.status();
    return interp.value()->run(feeds);
  }
};

template <typename T>
Tensor make_tensor(DataType dt, std::vector<int64_t> dims, const std::vector<T>& values) {
  Tensor t(dt, std::move(dims));
  for (size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
  return t;
}

inline Tensor make_strings(std::vector<int64_t> dims, const std::vector<std::string>& values) {
  Tensor t(DataType::kString, std::move(dims));
  for (size_t i = 0; i < values.size(); ++i) t.strings()[i] = values[i];
  return t;
}

}  // namespace kiln::testing
