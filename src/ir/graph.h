// The graph IR: values (edges), nodes and graphs. A graph owns its values and nodes; a node
// of a subgraph may read values of the graphs around it (ONNX's outer-scope references).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/attribute.h"
#include "ir/value_type.h"

namespace kiln::ir {

class Node;
class Graph;

class Value {
 public:
  const std::string& name() const { return name_; }
  ValueType& type() { return type_; }
  const ValueType& type() const { return type_; }
  Node* producer() const { return producer_; }
  Graph* owner() const { return owner_; }
  // Initializers and folded constants carry their data.
  bool is_constant() const { return constant_ != nullptr; }
  const Tensor& constant() const { return *constant_; }
  std::shared_ptr<const Tensor> constant_ptr() const { return constant_; }
  void set_constant(std::shared_ptr<const Tensor> t) { constant_ = std::move(t); }
  void set_name(std::string name) { name_ = std::move(name); }

 private:
  friend class Graph;
  std::string name_;
  ValueType type_;
  Node* producer_ = nullptr;
  Graph* owner_ = nullptr;
  std::shared_ptr<const Tensor> constant_;
};

class Node {
 public:
  const std::string& name() const { return name_; }
  const std::string& op_type() const { return op_type_; }
  const std::string& domain() const { return domain_; }  // "" is the default ai.onnx domain
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  // nullptr for an omitted optional input; also nullptr past the end.
  Value* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  Value* output(size_t i) const { return i < outputs_.size() ? outputs_[i] : nullptr; }
  size_t num_inputs() const { return inputs_.size(); }
  size_t num_outputs() const { return outputs_.size(); }
  Attributes& attrs() { return attrs_; }
  const Attributes& attrs() const { return attrs_; }
  Graph* owner() const { return owner_; }
  // Names of the original nodes this one replaced (fusion), for errors and inspect.
  std::vector<std::string>& fused_from() { return fused_from_; }
  const std::vector<std::string>& fused_from() const { return fused_from_; }
  // "Conv 'conv1'" for messages.
  std::string describe() const;

  void set_input(size_t i, Value* v);
  void set_name(std::string name) { name_ = std::move(name); }
  void set_op_type(std::string op, std::string domain = "") { op_type_ = std::move(op); domain_ = std::move(domain); }

 private:
  friend class Graph;
  std::string name_, op_type_, domain_;
  std::vector<Value*> inputs_, outputs_;
  Attributes attrs_;
  std::vector<std::string> fused_from_;
  Graph* owner_ = nullptr;
};

class Graph {
 public:
  explicit Graph(std::string name = "main", Graph* parent = nullptr) : name_(std::move(name)), parent_(parent) {}
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  const std::string& name() const { return name_; }
  Graph* parent() const { return parent_; }
  void set_parent(Graph* parent) { parent_ = parent; }

  // Values. Names are unique within a graph.
  Value* add_value(const std::string& name, ValueType type = {});
  Value* add_constant(const std::string& name, Tensor t);
  Value* find_value(const std::string& name) const;  // this graph only
  Value* lookup(const std::string& name) const;      // this graph, then enclosing graphs
  std::string unique_name(const std::string& base) const;
  const std::vector<std::unique_ptr<Value>>& values() const { return values_; }

  // Nodes, kept in topological order by topological_sort().
  Node* add_node(const std::string& op_type, const std::vector<Value*>& inputs,
                 const std::vector<Value*>& outputs, const std::string& name = "",
                 const std::string& domain = "");
  void remove_node(Node* node);  // detaches its outputs' producer link
  // Makes `v` (which nothing produces) output i of `node`; the old output loses its producer.
  void set_node_output(Node* node, size_t i, Value* v);
  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  std::vector<Node*> node_list() const;
  // Orders nodes so producers come first; an error naming a node on the cycle otherwise.
  Status topological_sort();
  // Every node that reads v, in this graph and in subgraphs of its nodes.
  std::vector<Node*> consumers(const Value* v) const;
  void replace_all_uses(Value* from, Value* to);
  void remove_unused_values();

  std::vector<Value*>& inputs() { return inputs_; }
  const std::vector<Value*>& inputs() const { return inputs_; }
  std::vector<Value*>& outputs() { return outputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }

  // Opset per domain ("" = ai.onnx), inherited by subgraphs.
  void set_opset(const std::string& domain, int64_t version) { opsets_[domain] = version; }
  int64_t opset(const std::string& domain) const;  // 0 when not imported
  const std::map<std::string, int64_t>& opsets() const { return opsets_; }

  // Subgraphs held by the attributes of this graph's nodes.
  std::vector<Graph*> subgraphs() const;

 private:
  std::string name_;
  Graph* parent_;
  std::vector<std::unique_ptr<Value>> values_;
  std::unordered_map<std::string, Value*> by_name_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Value*> inputs_, outputs_;
  std::map<std::string, int64_t> opsets_;
  int next_node_id_ = 0;
};

// A loaded model: the main graph plus metadata.
struct Model {
  std::shared_ptr<Graph> graph = std::make_shared<Graph>();
  int64_t ir_version = 0;
  std::string producer_name, producer_version;
  std::string path;  // where it was loaded from, if anywhere
};

}  // namespace kiln::ir
