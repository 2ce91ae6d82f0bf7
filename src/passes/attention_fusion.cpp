// Attention recognition: MatMul(Q, KT) -> [Div(c) | Mul(c)] -> [Add(mask)] -> Softmax(last
// axis) -> MatMul(., V) becomes one kiln::Attention(Q, KT, V[, mask]) with scale = 1/c (Div)
// or c (Mul), 1 when absent. Every intermediate must be read only by the next step.
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

class AttentionFusion : public Pass {
 public:
  const char* name() const override { return "attention-fusion"; }

  bool matches(const ir::Graph&, const ir::Node& n) const override {
    return n.domain().empty() && n.op_type() == "Softmax" && n.input(0) && n.output(0);
  }

  bool rewrite(ir::Graph& g, ir::Node& softmax, const PassLog& log) override {
    // Softmax over the last axis only.
    const ir::Value* s_in = softmax.input(0);
    if (!s_in->type().shape) return false;
    int64_t rank = static_cast<int64_t>(s_in->type().shape->rank());
    int64_t axis = softmax.attrs().get_int("axis", g.opset("") >= 13 ? -1 : 1);
    if (axis < 0) axis += rank;
    if (axis != rank - 1) return false;
    ir::Node* pv = single_consumer(g, softmax.output(0));
    if (!pv || !pv->domain().empty() || pv->op_type() != "MatMul" || pv->input(0) != softmax.output(0)) return false;

    std::vector<ir::Node*> nodes;
    ir::Value* cur = softmax.input(0);
    ir::Value* mask = nullptr;
    double scale = 1.0;
    if (ir::Node* add = producer_op(g, cur, "Add"); add && single_consumer(g, cur) == &softmax) {
      // The side that leads back to the scores is the one produced by Div/Mul/MatMul.
      for (int s = 0; s < 2 && !mask; ++s) {
        ir::Node* p = add->input(s) ? add->input(s)->producer() : nullptr;
        if (p && p->domain().empty() && (p->op_type() == "Div" || p->op_type() == "Mul" || p->op_type() == "MatMul")) {
          mask = add->input(1 - s);
          cur = add->input(s);
        }
      }
      if (!mask) return false;
      nodes.push_back(add);
    }
    ir::Node* next = nodes.empty() ? &softmax : nodes.back();
    for (const char* op : {"Div", "Mul"}) {
      ir::Node* sc = producer_op(g, cur, op);
      if (!sc || single_consumer(g, cur) != next) continue;
      int side = -1;
      for (int s = 0; s < 2; ++s)
        if ((std::string(op) == "Mul" || s == 0) && constant_scalar(sc->input(1 - s)) &&
            producer_op(g, sc->input(s), "MatMul"))
          side = s;
      if (side < 0) continue;
      double c = *constant_scalar(sc->input(1 - side));
      if (std::string(op) == "Div" && c == 0) return false;
      scale = std::string(op) == "Div" ? 1.0 / c : c;
      nodes.push_back(sc);
      next = sc;
      cur = sc->input(side);
      break;
    }
    ir::Node* qk = producer_op(g, cur, "MatMul");
    if (!qk || single_consumer(g, cur) != next) return false;
    nodes.push_back(qk);
    nodes.push_back(&softmax);
    nodes.push_back(pv);
    ir::Value* q = qk->input(0);
    ir::Value* kt = qk->input(1);
    ir::Value* v = pv->input(1);
    ir::Value* y = pv->output(0);
    DataType dt = q->type().dtype;
    if (kt->type().dtype != dt || v->type().dtype != dt || (mask && mask->type().dtype != dt)) return false;
    if (!y->type().shape) return false;

    std::vector<std::string> origin;
    for (ir::Node* k : nodes) append_origin(origin, k);
    std::string name = softmax.name();
    for (ir::Node* k : nodes) g.remove_node(k);
    g.set_opset("kiln", 1);
    std::vector<ir::Value*> ins{q, kt, v};
    if (mask) ins.push_back(mask);
    ir::Node* att = g.add_node("Attention", ins, {y}, name, "kiln");
    att->attrs().set("scale", static_cast<float>(scale));
    att->fused_from() = origin;
    if (log) log("attention-fusion: " + std::to_string(origin.size()) + " nodes -> " + att->describe());
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_attention_fusion() { return std::make_unique<AttentionFusion>(); }

}  // namespace kiln::passes
