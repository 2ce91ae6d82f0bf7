// What a reference CPU kernel sees: the node, its input values, and a place for its outputs.
// Kernels throw kiln::Error for bad input; the interpreter adds the node's name.
#pragma once
#include <functional>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"

namespace kiln::ops {

// Runs a subgraph (If/Loop/Scan bodies) with the given inputs in the caller's scope.
using SubgraphRunner =
    std::function<std::vector<RuntimeValue>(const ir::Graph&, const std::vector<RuntimeValue>&)>;

class KernelContext {
 public:
  KernelContext(const ir::Node& node, int version, std::vector<const RuntimeValue*> inputs,
                SubgraphRunner runner)
      : node_(node), version_(version), inputs_(std::move(inputs)), outputs_(node.num_outputs()),
        runner_(std::move(runner)) {}

  const ir::Node& node() const { return node_; }
  int version() const { return version_; }
  const ir::Attributes& attrs() const { return node_.attrs(); }

  size_t num_inputs() const { return inputs_.size(); }
  // True when input i is given (not omitted, not an absent optional).
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] && !inputs_[i]->is_none(); }
  const Tensor& input(size_t i) const;        // throws when absent or not a tensor
  const RuntimeValue& input_value(size_t i) const;  // may be none (absent optional)

  size_t num_outputs() const { return outputs_.size(); }
  // Whether the graph uses output i (optional outputs may be omitted by the model).
  bool wants_output(size_t i) const { return i < outputs_.size() && node_.output(i) != nullptr; }
  // Allocates output i (zero-filled) and returns it for writing.
  Tensor& allocate_output(size_t i, DataType dtype, std::vector<int64_t> dims);
  void set_output(size_t i, RuntimeValue value);
  std::vector<RuntimeValue>& outputs() { return outputs_; }

  std::vector<RuntimeValue> run_subgraph(const ir::Graph& g, const std::vector<RuntimeValue>& inputs) const {
    return runner_(g, inputs);
  }
  [[noreturn]] void fail(const std::string& message) const;

 private:
  const ir::Node& node_;
  int version_;
  std::vector<const RuntimeValue*> inputs_;
  std::vector<RuntimeValue> outputs_;
  SubgraphRunner runner_;
};

}  // namespace kiln::ops
