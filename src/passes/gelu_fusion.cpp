// GELU recognition: the decomposed forms exporters write,
//   erf:  0.5 * x * (1 + Erf(x / sqrt(2)))            (x * (1/sqrt 2) also accepted)
//   tanh: 0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * Pow(x, 3))))
// with the final products in any of the usual orders, become one kiln::Gelu (approximate =
// "none" / "tanh"), which activation fusion can then merge into a preceding MatMul/Gemm/Conv.
#include <cmath>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

struct Match {
  ir::Value* x = nullptr;
  ir::Value* y = nullptr;
  std::vector<ir::Node*> nodes;
};

// The single node reading v that is a `op` (ai.onnx), or nullptr.
ir::Node* only_reader(const ir::Graph& g, const ir::Value* v, const std::string& op) {
  ir::Node* c = single_consumer(g, v);
  return c && c->domain().empty() && c->op_type() == op ? c : nullptr;
}

// From one_plus = 1 + f(x): the product 0.5 * x * one_plus in its three usual shapes.
bool match_tail(const ir::Graph& g, ir::Value* x, ir::Value* one_plus, Match& m) {
  ir::Node* m1 = only_reader(g, one_plus, "Mul");
  if (!m1) return false;
  ir::Value* o = other_input(*m1, one_plus);
  if (!o) return false;
  if (o == x) {  // (x * a) * 0.5
    ir::Node* m2 = only_reader(g, m1->output(0), "Mul");
    if (!m2 || !is_scalar_near(other_input(*m2, m1->output(0)), 0.5)) return false;
    m.nodes.insert(m.nodes.end(), {m1, m2});
    m.y = m2->output(0);
    return true;
  }
  if (ir::Node* h = producer_op(g, o, "Mul"); h && other_input(*h, x) && is_scalar_near(other_input(*h, x), 0.5) &&
                                              single_consumer(g, o) == m1) {  // (x * 0.5) * a
    m.nodes.insert(m.nodes.end(), {h, m1});
    m.y = m1->output(0);
    return true;
  }
  if (is_scalar_near(o, 0.5)) {  // x * (a * 0.5)
    ir::Node* m2 = only_reader(g, m1->output(0), "Mul");
    if (!m2 || other_input(*m2, m1->output(0)) != x) return false;
    m.nodes.insert(m.nodes.end(), {m1, m2});
    m.y = m2->output(0);
    return true;
  }
  return false;
}

// 1 + v, as Add(v, 1) in either order.
ir::Node* plus_one(const ir::Graph& g, const ir::Value* v) {
  ir::Node* a = only_reader(g, v, "Add");
  return a && is_scalar_near(other_input(*a, v), 1.0) ? a : nullptr;
}

bool match_erf(const ir::Graph& g, ir::Node& erf, Match& m) {
  ir::Value* d = erf.input(0);
  ir::Node* scale = d ? d->producer() : nullptr;
  if (!scale || scale->owner() != &g || !scale->domain().empty() || single_consumer(g, d) != &erf) return false;
  if (scale->op_type() == "Div" && is_scalar_near(scale->input(1), std::sqrt(2.0))) m.x = scale->input(0);
  else if (scale->op_type() == "Mul") {
    for (int s = 0; s < 2; ++s)
      if (is_scalar_near(scale->input(1 - s), 1.0 / std::sqrt(2.0))) m.x = scale->input(s);
  }
  if (!m.x) return false;
  ir::Node* add = plus_one(g, erf.output(0));
  if (!add) return false;
  m.nodes = {scale, &erf, add};
  return match_tail(g, m.x, add->output(0), m);
}

bool match_tanh(const ir::Graph& g, ir::Node& tanh, Match& m) {
  ir::Node* outer = producer_op(g, tanh.input(0), "Mul");  // sqrt(2/pi) * inner
  if (!outer || single_consumer(g, tanh.input(0)) != &tanh) return false;
  ir::Node* inner = nullptr;
  for (int s = 0; s < 2; ++s)
    if (is_scalar_near(outer->input(1 - s), std::sqrt(2.0 / M_PI))) inner = producer_op(g, outer->input(s), "Add");
  if (!inner || single_consumer(g, inner->output(0)) != outer) return false;
  for (int s = 0; s < 2 && !m.x; ++s) {  // x + 0.044715 * x^3
    ir::Node* cube_mul = producer_op(g, inner->input(1 - s), "Mul");
    if (!cube_mul || single_consumer(g, cube_mul->output(0)) != inner) continue;
    for (int t = 0; t < 2; ++t) {
      if (!is_scalar_near(cube_mul->input(1 - t), 0.044715)) continue;
      ir::Node* pow = producer_op(g, cube_mul->input(t), "Pow");
      if (pow && pow->input(0) == inner->input(s) && is_scalar_near(pow->input(1), 3.0) &&
          single_consumer(g, pow->output(0)) == cube_mul) {
        m.x = inner->input(s);
        m.nodes = {pow, cube_mul, inner, outer, &tanh};
      }
    }
  }
  if (!m.x) return false;
  ir::Node* add = plus_one(g, tanh.output(0));
  if (!add) return false;
  m.nodes.push_back(add);
  return match_tail(g, m.x, add->output(0), m);
}

class GeluFusion : public Pass {
 public:
  const char* name() const override { return "gelu-fusion"; }

  bool matches(const ir::Graph&, const ir::Node& n) const override {
    return n.domain().empty() && (n.op_type() == "Erf" || n.op_type() == "Tanh") && n.input(0);
  }

  bool rewrite(ir::Graph& g, ir::Node& n, const PassLog& log) override {
    Match m;
    bool is_tanh = n.op_type() == "Tanh";
    if (!(is_tanh ? match_tanh(g, n, m) : match_erf(g, n, m))) return false;
    if (!m.x->type().is_tensor() || m.x->type().dtype != m.y->type().dtype) return false;
    std::vector<std::string> origin;
    for (ir::Node* k : m.nodes) append_origin(origin, k);
    std::string name = m.nodes.back()->name();
    for (ir::Node* k : m.nodes) g.remove_node(k);
    g.set_opset("kiln", 1);
    ir::Node* gelu = g.add_node("Gelu", {m.x}, {m.y}, name, "kiln");
    gelu->attrs().set("approximate", std::string(is_tanh ? "tanh" : "none"));
    gelu->fused_from() = origin;
    if (log) log("gelu-fusion: " + std::to_string(origin.size()) + " nodes -> " + gelu->describe());
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_gelu_fusion() { return std::make_unique<GeluFusion>(); }

}  // namespace kiln::passes
