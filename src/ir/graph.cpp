#include "ir/graph.h"

#include <algorithm>
#include <unordered_set>

namespace kiln::ir {

std::string Node::describe() const {
  std::string s = op_type_;
  if (!domain_.empty()) s = domain_ + "::" + s;
  return s + " '" + name_ + "'";
}

void Node::set_input(size_t i, Value* v) {
  if (i >= inputs_.size()) inputs_.resize(i + 1, nullptr);
  inputs_[i] = v;
}

Value* Graph::add_value(const std::string& name, ValueType type) {
  auto v = std::make_unique<Value>();
  v->name_ = name.empty() ? unique_name("v") : name;
  if (by_name_.count(v->name_)) throw_error(StatusCode::kInvalidModel, "value '" + v->name_ + "' is defined twice");
  v->type_ = std::move(type);
  v->owner_ = this;
  Value* raw = v.get();
  by_name_[raw->name_] = raw;
  values_.push_back(std::move(v));
  return raw;
}

Value* Graph::add_constant(const std::string& name, Tensor t) {
  Value* v = add_value(name, ValueType::tensor(t.dtype(), Shape::from_dims(t.dims())));
  v->constant_ = std::make_shared<const Tensor>(std::move(t));
  return v;
}

Value* Graph::find_value(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

Value* Graph::lookup(const std::string& name) const {
  for (const Graph* g = this; g; g = g->parent_)
    if (Value* v = g->find_value(name)) return v;
  return nullptr;
}

std::string Graph::unique_name(const std::string& base) const {
  if (!lookup(base)) return base;
  for (int i = 1;; ++i) {
    std::string candidate = base + "_" + std::to_string(i);
    if (!lookup(candidate)) return candidate;
  }
}

Node* Graph::add_node(const std::string& op_type, const std::vector<Value*>& inputs,
                      const std::vector<Value*>& outputs, const std::string& name,
                      const std::string& domain) {
  auto n = std::make_unique<Node>();
  n->op_type_ = op_type;
  n->domain_ = domain;
  n->name_ = name.empty() ? op_type + "_" + std::to_string(next_node_id_) : name;
  ++next_node_id_;
  n->inputs_ = inputs;
  n->outputs_ = outputs;
  n->owner_ = this;
  for (Value* out : outputs) {
    if (!out) continue;
    if (out->producer_)
      throw_error(StatusCode::kInvalidModel, "value '" + out->name() + "' is produced by two nodes ('" +
                                                 out->producer_->name() + "' and '" + n->name_ + "')");
    out->producer_ = n.get();
  }
  Node* raw = n.get();
  nodes_.push_back(std::move(n));
  return raw;
}

void Graph::remove_node(Node* node) {
  for (Value* out : node->outputs_)
    if (out && out->producer_ == node) out->producer_ = nullptr;
  nodes_.erase(std::remove_if(nodes_.begin(), nodes_.end(), [&](const auto& p) { return p.get() == node; }),
               nodes_.end());
}

void Graph::set_node_output(Node* node, size_t i, Value* v) {
  if (i >= node->outputs_.size()) node->outputs_.resize(i + 1, nullptr);
  if (Value* old = node->outputs_[i]; old && old->producer_ == node) old->producer_ = nullptr;
  if (v && v->producer_ && v->producer_ != node)
    throw_error(StatusCode::kInternal, "value '" + v->name() + "' already has a producer");
  node->outputs_[i] = v;
  if (v) v->producer_ = node;
}

std::vector<Node*> Graph::node_list() const {
  std::vector<Node*> out;
  out.reserve(nodes_.size());
  for (const auto& n : nodes_) out.push_back(n.get());
  return out;
}

namespace {

// Values a node reads, including those its subgraphs read from outside themselves.
void collect_reads(const Node* node, std::vector<const Value*>& out) {
  for (Value* v : node->inputs())
    if (v) out.push_back(v);
  for (const auto& [name, attr] : node->attrs().all()) {
    std::vector<Graph*> subs;
    if (auto* g = std::get_if<std::shared_ptr<Graph>>(&attr)) subs.push_back(g->get());
    if (auto* gs = std::get_if<std::vector<std::shared_ptr<Graph>>>(&attr))
      for (auto& g : *gs) subs.push_back(g.get());
    for (Graph* sub : subs)
      for (const auto& sn : sub->nodes()) collect_reads(sn.get(), out);
  }
}

}  // namespace

Status Graph::topological_sort() {
  std::unordered_map<const Node*, size_t> index;
  for (size_t i = 0; i < nodes_.size(); ++i) index[nodes_[i].get()] = i;
  std::vector<std::vector<size_t>> users(nodes_.size());
  std::vector<int> pending(nodes_.size(), 0);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    std::vector<const Value*> reads;
    collect_reads(nodes_[i].get(), reads);
    std::unordered_set<const Node*> seen;
    for (const Value* v : reads) {
      auto it = v->producer_ ? index.find(v->producer_) : index.end();
      if (it == index.end() || !seen.insert(v->producer_).second) continue;
      users[it->second].push_back(i);
      ++pending[i];
    }
  }
  std::vector<size_t> order, ready;
  for (size_t i = nodes_.size(); i-- > 0;)
    if (pending[i] == 0) ready.push_back(i);
  while (!ready.empty()) {
    size_t i = ready.back();
    ready.pop_back();
    order.push_back(i);
    for (auto it = users[i].rbegin(); it != users[i].rend(); ++it)
      if (--pending[*it] == 0) ready.push_back(*it);
  }
  if (order.size() != nodes_.size()) {
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (pending[i] > 0)
        return invalid_model("graph '" + name_ + "' has a cycle through node " + nodes_[i]->describe());
  }
  std::vector<std::unique_ptr<Node>> sorted;
  sorted.reserve(nodes_.size());
  for (size_t i : order) sorted.push_back(std::move(nodes_[i]));
  nodes_ = std::move(sorted);
  return Status::ok();
}

std::vector<Node*> Graph::consumers(const Value* v) const {
  std::vector<Node*> out;
  for (const auto& n : nodes_) {
    std::vector<const Value*> reads;
    collect_reads(n.get(), reads);
    if (std::find(reads.begin(), reads.end(), v) != reads.end()) out.push_back(n.get());
  }
  return out;
}

void Graph::replace_all_uses(Value* from, Value* to) {
  for (auto& n : nodes_) {
    for (auto& in : n->inputs_)
      if (in == from) in = to;
  }
  for (Graph* sub : subgraphs()) sub->replace_all_uses(from, to);
  for (auto& out : outputs_)
    if (out == from) out = to;
}

void Graph::remove_unused_values() {
  std::unordered_set<const Value*> used;
  for (Value* v : inputs_) used.insert(v);
  for (Value* v : outputs_) used.insert(v);
  for (const auto& n : nodes_) {
    for (Value* v : n->outputs_) used.insert(v);
    std::vector<const Value*> reads;
    collect_reads(n.get(), reads);
    used.insert(reads.begin(), reads.end());
  }
  // Values of this graph that a subgraph of an enclosing graph might read are still
  // referenced through that subgraph's nodes, which collect_reads covers from the parent.
  std::vector<std::unique_ptr<Value>> kept;
  for (auto& v : values_) {
    if (used.count(v.get())) kept.push_back(std::move(v));
    else by_name_.erase(v->name_);
  }
  values_ = std::move(kept);
}

int64_t Graph::opset(const std::string& domain) const {
  for (const Graph* g = this; g; g = g->parent_) {
    auto it = g->opsets_.find(domain);
    if (it != g->opsets_.end()) return it->second;
  }
  return 0;
}

std::vector<Graph*> Graph::subgraphs() const {
  std::vector<Graph*> out;
  for (const auto& n : nodes_)
    for (const auto& [name, attr] : n->attrs().all()) {
      if (auto* g = std::get_if<std::shared_ptr<Graph>>(&attr)) out.push_back(g->get());
      if (auto* gs = std::get_if<std::vector<std::shared_ptr<Graph>>>(&attr))
        for (auto& g : *gs) out.push_back(g.get());
    }
  return out;
}

}  // namespace kiln::ir
