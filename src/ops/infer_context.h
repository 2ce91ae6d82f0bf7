// What a shape-inference function sees: the node, its input types and any input whose value
// is known at build time (initializers, folded shape computations).
#pragma once
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::ops {

class InferenceContext {
 public:
  InferenceContext(const ir::Node& node, int version, std::vector<const ir::ValueType*> input_types,
                   std::vector<const Tensor*> input_constants, int* symbol_counter)
      : node_(node), version_(version), input_types_(std::move(input_types)),
        input_constants_(std::move(input_constants)),
        outputs_(node.num_outputs(), ir::ValueType::unknown()),
        symbol_counter_(symbol_counter) {}

  const ir::Node& node() const { return node_; }
  int version() const { return version_; }
  const ir::Attributes& attrs() const { return node_.attrs(); }
  size_t num_inputs() const { return input_types_.size(); }
  size_t num_outputs() const { return outputs_.size(); }
  bool has_input(size_t i) const { return i < input_types_.size() && input_types_[i] != nullptr; }
  // Throws Error naming the node when input i is absent.
  const ir::ValueType& input_type(size_t i) const;
  DataType input_dtype(size_t i) const { return input_type(i).dtype; }
  // The input's shape when its rank is known, else nullptr.
  const Shape* input_shape(size_t i) const;
  // The input's value when it is known at build time, else nullptr.
  const Tensor* input_constant(size_t i) const {
    return i < input_constants_.size() ? input_constants_[i] : nullptr;
  }

  void set_output(size_t i, ir::ValueType type);
  void set_output(size_t i, DataType dtype, std::optional<Shape> shape) {
    set_output(i, ir::ValueType::tensor(dtype, std::move(shape)));
  }
  const std::vector<ir::ValueType>& outputs() const { return outputs_; }
  // A fresh symbolic dim for data-dependent sizes (NonZero's count, ...).
  Dim new_symbol();
  // Throws Error(kInvalidModel) naming the node.
  [[noreturn]] void fail(const std::string& message) const;

 private:
  const ir::Node& node_;
  int version_;
  std::vector<const ir::ValueType*> input_types_;
  std::vector<const Tensor*> input_constants_;
  std::vector<ir::ValueType> outputs_;
  int* symbol_counter_;
};

}  // namespace kiln::ops
