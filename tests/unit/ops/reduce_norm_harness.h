// A one-node graph for the unit tests of the reduction, softmax, normalization and loss ops:
// declare typed inputs (some as constants), run shape inference and the CPU kernel.
#pragma once
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backends/cpu/interpreter.h"
#include "ir/graph.h"
#include "ops/shape_inference.h"

namespace kiln::testing {

inline ir::ValueType tensor_type(DataType dt, std::optional<Shape> s) { return ir::ValueType::tensor(dt, std::move(s)); }

class SingleNode {
 public:
  // Inputs are (name, type); an empty name is an omitted optional input.
  SingleNode(const std::string& op, int64_t opset, const std::vector<std::pair<std::string, ir::ValueType>>& inputs,
             size_t num_outputs = 1)
      : graph_(std::make_shared<ir::Graph>()) {
    graph_->set_opset("", opset);
    std::vector<ir::Value*> ins, outs;
    for (const auto& [name, type] : inputs) {
      if (name.empty()) {
        ins.push_back(nullptr);
        continue;
      }
      ir::Value* v = graph_->add_value(name, type);
      graph_->inputs().push_back(v);
      ins.push_back(v);
    }
    for (size_t i = 0; i < num_outputs; ++i) {
      ir::Value* v = graph_->add_value("out" + std::to_string(i), ir::ValueType::unknown());
      graph_->outputs().push_back(v);
      outs.push_back(v);
    }
    node_ = graph_->add_node(op, ins, outs, "node");
  }

  ir::Attributes& attrs() { return node_->attrs(); }
  // Makes input `name` a constant (an initializer) rather than a graph input.
  void set_constant(const std::string& name, Tensor t) {
    ir::Value* v = graph_->find_value(name);
    auto& in = graph_->inputs();
    in.erase(std::remove(in.begin(), in.end(), v), in.end());
    v->set_constant(std::make_shared<Tensor>(std::move(t)));
  }
  Status infer() { return ops::infer_shapes(*graph_); }
  const ir::ValueType& output_type(size_t i) const { return graph_->outputs()[i]->type(); }

  // Runs with the non-constant inputs in declaration order.
  Result<std::vector<RuntimeValue>> run(const std::vector<RuntimeValue>& inputs) {
    auto interp = cpu::Interpreter::create(graph_);
    if (!interp.is_ok()) return interp.status();
    return interp.value()->run(inputs);
  }

 private:
  std::shared_ptr<ir::Graph> graph_;
  ir::Node* node_;
};

template <typename T>
Tensor make_tensor(DataType dt, std::vector<int64_t> dims, const std::vector<T>& values) {
  Tensor t(dt, std::move(dims));
  for (size_t i = 0; i < values.size() && i < static_cast<size_t>(t.numel()); ++i) t.data<T>()[i] = values[i];
  return t;
}
inline Tensor f32(std::vector<int64_t> dims, const std::vector<float>& v) { return make_tensor(DataType::kFloat32, std::move(dims), v); }
inline Tensor i64(std::vector<int64_t> dims, const std::vector<int64_t>& v) { return make_tensor(DataType::kInt64, std::move(dims), v); }
inline Tensor i32(std::vector<int64_t> dims, const std::vector<int32_t>& v) { return make_tensor(DataType::kInt32, std::move(dims), v); }

}  // namespace kiln::testing
