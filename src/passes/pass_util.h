// Small graph helpers shared by the rewrites.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::passes {

bool is_graph_output(const ir::Graph& g, const ir::Value* v);
// The only node reading v, when v is not a graph output and exactly one node reads it.
ir::Node* single_consumer(const ir::Graph& g, const ir::Value* v);
// The value's data as doubles when it is a float constant with `expected` elements (any count
// when expected < 0); nothing otherwise.
std::optional<std::vector<double>> constant_values(const ir::Value* v, int64_t expected = -1);
// A float constant of v's dtype, shape dims, from doubles.
Tensor make_float_tensor(DataType dt, const std::vector<int64_t>& dims, const std::vector<double>& values);
// A scalar float constant's value (any rank with one element).
std::optional<double> constant_scalar(const ir::Value* v);
// Replaces `old` by a node of the given op with the given inputs and outputs, keeping its name,
// attributes and fused_from list. Returns the new node.
ir::Node* replace_node(ir::Graph& g, ir::Node* old, std::string op_type, std::string domain,
                       const std::vector<ir::Value*>& inputs, const std::vector<ir::Value*>& outputs);
// Removes a single-input single-output pass-through node: readers of its output read its input
// instead. When the output is a graph output its name is kept: the input's producer is made to
// write the output directly. False (graph untouched) when that is impossible.
bool bypass_node(ir::Graph& g, ir::Node* node);
// Position of each node in the graph's current order.
int node_index(const ir::Graph& g, const ir::Node* n);
// Appends fused_from of `from` (or its name when it has none) to `into`.
void record_fused(ir::Node* into, const ir::Node* from);
// The static dims of v, when known.
std::optional<std::vector<int64_t>> static_dims(const ir::Value* v);

// The nodes that replace a matched pattern: each named `base` + a suffix, each carrying the
// pattern's fused_from, each writing a new value unless given the value to write.
class Replacement {
 public:
  Replacement(ir::Graph& g, std::string base, std::vector<std::string> origin)
      : g_(g), base_(std::move(base)), origin_(std::move(origin)) {}
  ir::Node* add(const std::string& op, std::vector<ir::Value*> inputs, ir::Value* out, const std::string& suffix);
  // An int64 constant (a Reshape's target).
  ir::Value* dims(const std::vector<int64_t>& values);

 private:
  ir::Graph& g_;
  std::string base_;
  std::vector<std::string> origin_;
};

}  // namespace kiln::passes

namespace kiln::passes {

// The producer of v when it is a node of g with the given ai.onnx op type.
ir::Node* producer_op(const ir::Graph& g, const ir::Value* v, const std::string& op);
// For a two-input node reading v, the other input (nullptr when v is not an input or both are v).
ir::Value* other_input(const ir::Node& n, const ir::Value* v);
// True when v is a float constant with one element within tol of want.
bool is_scalar_near(const ir::Value* v, double want, double tol = 1e-4);
// Appends the names `from` stands for (its fused_from, or its own name) to `into`.
void append_origin(std::vector<std::string>& into, const ir::Node* from);

}  // namespace kiln::passes
