#include "passes/pass_util.h"

#include <algorithm>
#include <cmath>

namespace kiln::passes {

bool is_graph_output(const ir::Graph& g, const ir::Value* v) {
  return std::find(g.outputs().begin(), g.outputs().end(), v) != g.outputs().end();
}

ir::Node* single_consumer(const ir::Graph& g, const ir::Value* v) {
  if (!v || is_graph_output(g, v)) return nullptr;
  auto users = g.consumers(v);
  return users.size() == 1 ? users[0] : nullptr;
}

std::optional<std::vector<double>> constant_values(const ir::Value* v, int64_t expected) {
  if (!v || !v->is_constant()) return std::nullopt;
  DataType dt = v->constant().dtype();
  if (dt != DataType::kFloat32 && dt != DataType::kFloat64 && dt != DataType::kFloat16 && dt != DataType::kBFloat16)
    return std::nullopt;
  if (expected >= 0 && v->constant().numel() != expected) return std::nullopt;
  return v->constant().to_f64();
}

std::optional<double> constant_scalar(const ir::Value* v) {
  auto vals = constant_values(v, 1);
  if (!vals) return std::nullopt;
  return (*vals)[0];
}

Tensor make_float_tensor(DataType dt, const std::vector<int64_t>& dims, const std::vector<double>& values) {
  Tensor t(dt, dims);
  dispatch_float(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      if constexpr (std::is_same_v<T, double>) p[i] = values[i];
      else p[i] = T(static_cast<float>(values[i]));
    }
  });
  return t;
}

// op_type and domain by value: callers may pass old's own strings, which die with it.
ir::Node* replace_node(ir::Graph& g, ir::Node* old, std::string op_type, std::string domain,
                       const std::vector<ir::Value*>& inputs, const std::vector<ir::Value*>& outputs) {
  std::string name = old->name();
  ir::Attributes attrs = old->attrs();
  std::vector<std::string> fused = old->fused_from();
  g.remove_node(old);
  ir::Node* n = g.add_node(op_type, inputs, outputs, name, domain);
  n->attrs() = std::move(attrs);
  n->fused_from() = std::move(fused);
  return n;
}

bool bypass_node(ir::Graph& g, ir::Node* node) {
  ir::Value* in = node->input(0);
  ir::Value* out = node->output(0);
  if (!in || !out) return false;
  if (!is_graph_output(g, out)) {
    g.remove_node(node);
    g.replace_all_uses(out, in);
    return true;
  }
  // Keep the graph output's name: the input's producer writes `out` itself.
  ir::Node* producer = in->producer();
  if (!producer || producer->owner() != &g || is_graph_output(g, in)) return false;
  g.remove_node(node);
  g.replace_all_uses(in, out);
  std::vector<ir::Value*> outs = producer->outputs();
  for (auto& o : outs)
    if (o == in) o = out;
  std::vector<ir::Value*> ins = producer->inputs();
  replace_node(g, producer, producer->op_type(), producer->domain(), ins, outs);
  return true;
}

int node_index(const ir::Graph& g, const ir::Node* n) {
  const auto& nodes = g.nodes();
  for (size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].get() == n) return static_cast<int>(i);
  return -1;
}

void record_fused(ir::Node* into, const ir::Node* from) {
  auto& list = into->fused_from();
  if (list.empty()) list.push_back(into->name());
  if (from->fused_from().empty()) list.push_back(from->name());
  else list.insert(list.end(), from->fused_from().begin(), from->fused_from().end());
}

std::optional<std::vector<int64_t>> static_dims(const ir::Value* v) {
  if (!v || !v->type().has_static_shape()) return std::nullopt;
  return v->type().shape->static_dims();
}

}  // namespace kiln::passes

namespace kiln::passes {

ir::Node* producer_op(const ir::Graph& g, const ir::Value* v, const std::string& op) {
  ir::Node* p = v ? v->producer() : nullptr;
  if (!p || p->owner() != &g || !p->domain().empty() || p->op_type() != op) return nullptr;
  return p;
}

ir::Value* other_input(const ir::Node& n, const ir::Value* v) {
  if (n.num_inputs() != 2 || n.input(0) == n.input(1)) return nullptr;
  if (n.input(0) == v) return n.input(1);
  if (n.input(1) == v) return n.input(0);
  return nullptr;
}

bool is_scalar_near(const ir::Value* v, double want, double tol) {
  auto s = constant_scalar(v);
  return s && std::abs(*s - want) <= tol * std::max(1.0, std::abs(want));
}

void append_origin(std::vector<std::string>& into, const ir::Node* from) {
  if (from->fused_from().empty()) into.push_back(from->name());
  else into.insert(into.end(), from->fused_from().begin(), from->fused_from().end());
}

ir::Node* Replacement::add(const std::string& op, std::vector<ir::Value*> inputs, ir::Value* out,
                           const std::string& suffix) {
  if (!out) out = g_.add_value(g_.unique_name(base_ + suffix + "_out"));
  ir::Node* n = g_.add_node(op, std::move(inputs), {out}, g_.unique_name(base_ + suffix));
  n->fused_from() = origin_;
  return n;
}

ir::Value* Replacement::dims(const std::vector<int64_t>& values) {
  return g_.add_constant(g_.unique_name(base_ + "_shape"), Tensor::from_i64(values));
}

}  // namespace kiln::passes
