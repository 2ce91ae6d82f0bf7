// LayerNorm recognition from its decomposed form (what exporters write below opset 17):
//   mean = ReduceMean(x, trailing axes); d = x - mean; var = ReduceMean(d^2 or d*d, same axes)
//   y = d / Sqrt(var + eps) [* gamma] [+ beta]
// becomes one kiln::LayerNorm(x, gamma, beta) with axis = first reduced axis and epsilon.
// gamma/beta must be constants with the normalized element count.
#include <algorithm>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

// The reduced axes of a ReduceMean (attribute, or constant input from opset 18), normalized
// against rank; nothing when unknown or keepdims is 0.
std::optional<std::vector<int64_t>> reduce_axes(const ir::Node& r, int64_t rank) {
  if (r.attrs().get_int("keepdims", 1) != 1) return std::nullopt;
  std::vector<int64_t> axes;
  if (r.attrs().has("axes")) axes = r.attrs().get_ints("axes");
  else if (r.input(1) && r.input(1)->is_constant()) axes = r.input(1)->constant().to_i64();
  else return std::nullopt;
  for (int64_t& a : axes) {
    if (a < 0) a += rank;
    if (a < 0 || a >= rank) return std::nullopt;
  }
  std::sort(axes.begin(), axes.end());
  return axes;
}

class LayerNormFusion : public Pass {
 public:
  const char* name() const override { return "layernorm-fusion"; }

  bool matches(const ir::Graph&, const ir::Node& n) const override {
    return n.domain().empty() && n.op_type() == "Div" && n.num_inputs() == 2 && n.input(0) && n.input(1);
  }

  bool rewrite(ir::Graph& g, ir::Node& div, const PassLog& log) override {
    ir::Value* d = div.input(0);
    ir::Node* sub = producer_op(g, d, "Sub");
    ir::Node* sqrt = producer_op(g, div.input(1), "Sqrt");
    if (!sub || !sqrt || single_consumer(g, div.input(1)) != &div) return false;
    ir::Value* x = sub->input(0);
    ir::Node* mean = producer_op(g, sub->input(1), "ReduceMean");
    if (!mean || mean->input(0) != x || single_consumer(g, sub->input(1)) != sub) return false;
    ir::Node* add_eps = producer_op(g, sqrt->input(0), "Add");
    if (!add_eps || single_consumer(g, sqrt->input(0)) != sqrt) return false;
    ir::Node* var = nullptr;
    double eps = 0;
    for (int s = 0; s < 2 && !var; ++s) {
      auto e = constant_scalar(add_eps->input(1 - s));
      if (!e) continue;
      var = producer_op(g, add_eps->input(s), "ReduceMean");
      eps = *e;
    }
    if (!var || single_consumer(g, var->output(0)) != add_eps) return false;
    ir::Node* sq = var->input(0) ? var->input(0)->producer() : nullptr;
    if (!sq || sq->owner() != &g || !sq->domain().empty() || single_consumer(g, var->input(0)) != var) return false;
    bool squares_d = (sq->op_type() == "Pow" && sq->input(0) == d && is_scalar_near(sq->input(1), 2.0)) ||
                     (sq->op_type() == "Mul" && sq->input(0) == d && sq->input(1) == d);
    if (!squares_d) return false;
    // d is read by the square and the Div only.
    auto d_users = g.consumers(d);
    if (d_users.size() != 2 || is_graph_output(g, d)) return false;
    // Both reductions over the same trailing axes.
    if (!x->type().shape) return false;
    int64_t rank = static_cast<int64_t>(x->type().shape->rank());
    auto a1 = reduce_axes(*mean, rank), a2 = reduce_axes(*var, rank);
    if (!a1 || !a2 || *a1 != *a2 || a1->empty() || a1->back() != rank - 1) return false;
    for (size_t i = 1; i < a1->size(); ++i)
      if ((*a1)[i] != (*a1)[i - 1] + 1) return false;
    int64_t axis = a1->front();
    int64_t inner = 1;
    for (int64_t a = axis; a < rank; ++a) {
      const Dim& dim = (*x->type().shape)[static_cast<size_t>(a)];
      if (!dim.is_constant()) return false;
      inner *= dim.value();
    }
    std::vector<ir::Node*> nodes{mean, sub, sq, var, add_eps, sqrt, &div};
    ir::Value* y = div.output(0);
    ir::Value* gamma = nullptr;
    ir::Value* beta = nullptr;
    // Optional affine tail: * gamma, + beta (constants with the normalized count).
    auto take = [&](const std::string& op, ir::Value*& param) {
      ir::Node* c = single_consumer(g, y);
      if (!c || !c->domain().empty() || c->op_type() != op) return;
      ir::Value* p = other_input(*c, y);
      if (!p || !p->is_constant() || p->constant().numel() != inner || p->constant().dtype() != x->type().dtype ||
          p->constant().rank() > static_cast<size_t>(rank - axis))
        return;
      param = p;
      nodes.push_back(c);
      y = c->output(0);
    };
    take("Mul", gamma);
    if (gamma) take("Add", beta);
    if (y->type().dtype != x->type().dtype || !y->type().shape || *y->type().shape != *x->type().shape) return false;
    auto flat = [&](ir::Value* p) -> ir::Value* {
      if (!p || p->constant().rank() == 1) return p;
      return g.add_constant(g.unique_name(p->name() + "_1d"), p->constant().reshaped({inner}));
    };
    gamma = flat(gamma);
    beta = flat(beta);
    std::vector<std::string> origin;
    for (ir::Node* k : nodes) append_origin(origin, k);
    std::string name = div.name();
    for (ir::Node* k : nodes) g.remove_node(k);
    g.set_opset("kiln", 1);
    ir::Node* ln = g.add_node("LayerNorm", {x, gamma, beta}, {y}, name, "kiln");
    ln->attrs().set("axis", axis);
    ln->attrs().set("epsilon", static_cast<float>(eps));
    ln->fused_from() = origin;
    if (log) log("layernorm-fusion: " + std::to_string(origin.size()) + " nodes -> " + ln->describe());
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_layernorm_fusion() { return std::make_unique<LayerNormFusion>(); }

}  // namespace kiln::passes
