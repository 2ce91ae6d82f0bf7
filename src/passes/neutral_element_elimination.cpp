// Removes arithmetic with a constant neutral element: Add(x, 0), Add(0, x), Sub(x, 0), Mul(x, 1),
// Mul(1, x), Div(x, 1), where the constant is a float tensor whose every element is 0 (either
// sign) or 1, of x's dtype, and broadcasting it leaves x's shape unchanged (rank no larger, each
// dim 1 or equal to x's static dim). Also drops an all-zero constant mask of kiln::Attention
// when it does not enlarge the scores. The result equals x exactly, except that x = -0 plus +0
// gives +0 (numerically equal).
// Why: HF BERT exported without an attention_mask builds its additive mask from ones, and after
// constant folding the mask is an all-zero [B, 1, 1, S] tensor added to the scores; removing the
// Add lets attention-fusion see MatMul -> Div -> Softmax -> MatMul.
#include <optional>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

// True when v is a float constant of dtype dt whose elements all equal `want` (0 matches -0).
bool constant_all(const ir::Value* v, DataType dt, double want) {
  if (!v || !v->is_constant() || v->constant().dtype() != dt) return false;
  auto vals = constant_values(v);
  if (!vals) return false;
  for (double x : *vals)
    if (x != want) return false;  // -0.0 == 0.0; NaN never equals
  return true;
}

// Broadcasting a tensor of `c` dims against x leaves x's shape unchanged.
bool keeps_shape(const ir::Value* x, const std::vector<int64_t>& c) {
  if (!x || !x->type().is_tensor() || !x->type().shape) return false;
  const Shape& s = *x->type().shape;
  if (c.size() > s.rank()) return false;
  for (size_t k = 0; k < c.size(); ++k) {
    const Dim& d = s[s.rank() - c.size() + k];
    if (c[k] == 1) continue;
    if (!d.is_constant() || d.value() != c[k]) return false;
  }
  return true;
}

// The scores' dims of a kiln::Attention with static Q and KT that are rank 4 after their
// selects, read through its perms (batch and head dims equal), or nothing.
std::optional<std::vector<int64_t>> attention_scores_dims(const ir::Node& n) {
  auto q = static_dims(n.input(0)), kt = static_dims(n.input(1));
  auto drop_selected = [&](std::optional<std::vector<int64_t>>& d, const char* attr) {
    if (!d || !n.attrs().has(attr)) return;
    std::vector<int64_t> sel = n.attrs().get_ints(attr, {});
    if (sel.size() != 2 || sel[0] < 0 || sel[0] >= static_cast<int64_t>(d->size())) d.reset();
    else d->erase(d->begin() + sel[0]);
  };
  drop_selected(q, "select_q");
  drop_selected(kt, "select_kt");
  if (!q || !kt || q->size() != 4 || kt->size() != 4) return std::nullopt;
  auto view = [&](const std::vector<int64_t>& d, const char* attr) -> std::optional<std::vector<int64_t>> {
    std::vector<int64_t> p = n.attrs().get_ints(attr, {0, 1, 2, 3});
    if (p.size() != 4) return std::nullopt;
    std::vector<int64_t> out(4);
    for (int i = 0; i < 4; ++i) {
      if (p[i] < 0 || p[i] > 3) return std::nullopt;
      out[i] = d[p[i]];
    }
    return out;
  };
  auto qv = view(*q, "perm_q"), kv = view(*kt, "perm_kt");
  if (!qv || !kv || (*qv)[0] != (*kv)[0] || (*qv)[1] != (*kv)[1]) return std::nullopt;
  return std::vector<int64_t>{(*qv)[0], (*qv)[1], (*qv)[2], (*kv)[3]};
}

class NeutralElementElimination : public Pass {
 public:
  const char* name() const override { return "neutral-element-elimination"; }

  bool matches(const ir::Graph&, const ir::Node& n) const override {
    if (n.domain() == "kiln") return n.op_type() == "Attention" && n.input(3) && n.input(3)->is_constant();
    if (!n.domain().empty() || n.num_inputs() != 2 || n.num_outputs() != 1 || !n.output(0)) return false;
    const std::string& op = n.op_type();
    return op == "Add" || op == "Sub" || op == "Mul" || op == "Div";
  }

  bool rewrite(ir::Graph& g, ir::Node& n, const PassLog& log) override {
    if (n.domain() == "kiln") return drop_attention_mask(g, n, log);
    const std::string& op = n.op_type();
    const double neutral = (op == "Add" || op == "Sub") ? 0.0 : 1.0;
    const bool commutes = op == "Add" || op == "Mul";
    for (int side = 0; side < (commutes ? 2 : 1); ++side) {
      ir::Value* x = n.input(side);
      ir::Value* c = n.input(1 - side);
      if (!x || !c || x == c) continue;
      DataType dt = x->type().dtype;
      if (!constant_all(c, dt, neutral) || !keeps_shape(x, c->constant().dims())) continue;
      ir::Value* out = n.output(0);
      // bypass_node keeps a graph output's name by making x's producer write it; impossible
      // when x has no producer here or is itself a graph output.
      if (is_graph_output(g, out) && (!x->producer() || x->producer()->owner() != &g || is_graph_output(g, x)))
        return false;
      std::string what = n.describe();
      n.set_input(0, x);
      if (!bypass_node(g, &n)) return false;  // not reached: the conditions above hold
      if (log) log("neutral-element-elimination: removed " + what);
      return true;
    }
    return false;
  }

 private:
  static bool drop_attention_mask(ir::Graph& g, ir::Node& n, const PassLog& log) {
    const ir::Value* m = n.input(3);
    if (!n.input(0) || !constant_all(m, n.input(0)->type().dtype, 0.0)) return false;
    auto scores = attention_scores_dims(n);
    if (!scores) return false;
    const auto& md = m->constant().dims();
    if (md.size() > 4) return false;
    for (size_t k = 0; k < md.size(); ++k)
      if (md[k] != 1 && md[k] != (*scores)[4 - md.size() + k]) return false;
    std::vector<ir::Value*> ins(n.inputs().begin(), n.inputs().begin() + 3);
    std::vector<ir::Value*> outs = n.outputs();
    ir::Node* now = replace_node(g, &n, "Attention", "kiln", ins, outs);
    if (log) log("neutral-element-elimination: dropped the all-zero mask of " + now->describe());
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_neutral_element_elimination() { return std::make_unique<NeutralElementElimination>(); }

}  // namespace kiln::passes
