// Attention recognition: MatMul(Q, KT) -> [Div(c) | Mul(c)] -> [Add(mask)] -> Softmax(last
// axis) -> MatMul(., V) becomes one kiln::Attention(Q, KT, V[, mask]) with scale = 1/c (Div)
// or c (Mul), 1 when absent. Every intermediate must be read only by the next step. Needs no
// static shapes (a transformer's later layers get theirs only rounds later, and by then the
// elementwise-chain fusion would have taken the Div/Add).
// Then the Transposes around a kiln::Attention are absorbed into its perm_q / perm_kt / perm_v /
// perm_y attributes (docs/FUSED_OPS.md): the head-split Transpose(0,2,1,3) of Q, K, V, the
// key's Transpose(0,1,3,2) and the head-merge Transpose of the output, when only the attention
// reads them. A Gather of one slot of a packed qkv tensor (constant scalar index) in front of
// Q, KT or V goes into select_q / select_kt / select_v: the attention reads the packed tensor
// through strides instead of three copies.
#include <algorithm>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

// The Transpose's permutation (reversed dims when the attribute is absent and the rank known).
std::optional<std::vector<int64_t>> transpose_perm(const ir::Node& t) {
  const ir::Value* x = t.input(0);
  if (!x) return std::nullopt;
  std::vector<int64_t> p;
  if (t.attrs().has("perm")) {
    p = t.attrs().get_ints("perm", {});
  } else {
    if (!x->type().shape) return std::nullopt;
    for (int64_t i = static_cast<int64_t>(x->type().shape->rank()); i-- > 0;) p.push_back(i);
  }
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i)
    if (sorted[i] != static_cast<int64_t>(i)) return std::nullopt;
  if (x->type().shape && x->type().shape->rank() != p.size()) return std::nullopt;
  return p;
}

std::vector<int64_t> identity_perm(size_t n) {
  std::vector<int64_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<int64_t>(i);
  return p;
}

// Stores perm under `name`, or drops the attribute when perm is the identity.
void set_perm(ir::Node& n, const char* name, const std::vector<int64_t>& perm) {
  if (perm == identity_perm(perm.size())) n.attrs().erase(name);
  else n.attrs().set(name, perm);
}

constexpr const char* kInputPerms[3] = {"perm_q", "perm_kt", "perm_v"};
constexpr const char* kInputSelects[3] = {"select_q", "select_kt", "select_v"};

// Absorbs Gather(X, constant scalar index, axis) in front of Q, KT or V into select_*: [axis,
// index], both normalized (X's rank and the axis's dim must be known). The perm, applied after
// the select, stays as it is.
bool absorb_select(ir::Graph& g, ir::Node& att, const PassLog& log) {
  for (size_t i = 0; i < 3; ++i) {
    ir::Value* x = att.input(i);
    ir::Node* gather = producer_op(g, x, "Gather");
    if (!gather || att.attrs().has(kInputSelects[i]) || single_consumer(g, x) != &att) continue;
    if (std::count(att.inputs().begin(), att.inputs().end(), x) != 1) continue;
    ir::Value* data = gather->input(0);
    const ir::Value* index = gather->input(1);
    if (!data || !index || !index->is_constant() || index->constant().rank() != 0) continue;
    if (!is_integer(index->constant().dtype()) || !data->type().shape || data->type().dtype != x->type().dtype) continue;
    const auto& shape = *data->type().shape;
    const int64_t rank = static_cast<int64_t>(shape.rank());
    int64_t axis = gather->attrs().get_int("axis", 0);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank || !shape[static_cast<size_t>(axis)].is_constant()) continue;
    const int64_t extent = shape[static_cast<size_t>(axis)].value();
    int64_t at = index->constant().to_i64()[0];
    if (at < 0) at += extent;
    if (at < 0 || at >= extent) continue;
    att.set_input(i, data);
    att.attrs().set(kInputSelects[i], std::vector<int64_t>{axis, at});
    append_origin(att.fused_from(), gather);
    if (log) log("attention-fusion: absorbed " + gather->describe() + " into " + att.describe());
    g.remove_node(gather);
    return true;
  }
  return false;
}

// Absorbs a scaling of Q or KT by a constant scalar into `scale`: Mul(x, c), Mul(c, x), Div(x, c)
// (timm scales q before the MatMul; torch's SDPA export scales q and k^T by sqrt(scale) each).
bool absorb_scale(ir::Graph& g, ir::Node& att, const PassLog& log) {
  for (size_t i = 0; i < 2; ++i) {
    ir::Value* x = att.input(i);
    ir::Node* p = x ? x->producer() : nullptr;
    if (!p || !p->domain().empty() || (p->op_type() != "Mul" && p->op_type() != "Div")) continue;
    if (single_consumer(g, x) != &att || std::count(att.inputs().begin(), att.inputs().end(), x) != 1) continue;
    const bool div = p->op_type() == "Div";
    for (int side = 0; side < (div ? 1 : 2); ++side) {
      ir::Value* in = p->input(side);
      auto c = constant_scalar(p->input(1 - side));
      if (!in || !c || (div && *c == 0) || in->type().dtype != x->type().dtype) continue;
      // The scalar must not broadcast x up: x keeps in's shape.
      if (!in->type().shape || !x->type().shape || in->type().shape->rank() != x->type().shape->rank()) continue;
      double scale = att.attrs().get_float("scale", 1.0f) * (div ? 1.0 / *c : *c);
      att.attrs().set("scale", static_cast<float>(scale));
      att.set_input(i, in);
      append_origin(att.fused_from(), p);
      if (log) log("attention-fusion: absorbed " + p->describe() + " into " + att.describe());
      g.remove_node(p);
      return true;
    }
  }
  return false;
}

// Y [.., H, D] -> Reshape(merge the last two dims) -> Transpose(p, last axis kept) is
// Transpose(Y, p + [last]) -> Reshape: the Transpose goes into perm_y and the Reshape (a view)
// stays after the attention. (transpose-motion leaves ViT's batch-first Transpose there.)
bool absorb_through_head_merge(ir::Graph& g, ir::Node& att, ir::Node& r, const PassLog& log) {
  ir::Value* y = att.output(0);
  if (!r.domain().empty() || r.op_type() != "Reshape" || r.input(0) != y || !r.output(0)) return false;
  ir::Node* t = single_consumer(g, r.output(0));
  if (!t || !t->domain().empty() || t->op_type() != "Transpose" || !t->output(0)) return false;
  auto yd = static_dims(y);
  auto rd = static_dims(r.output(0));
  auto tp = transpose_perm(*t);
  auto od = static_dims(t->output(0));
  if (!yd || !rd || !tp || !od || yd->size() < 3 || rd->size() + 1 != yd->size()) return false;
  const size_t rank = rd->size();
  for (size_t i = 0; i + 1 < rank; ++i)
    if ((*rd)[i] != (*yd)[i]) return false;
  if (rd->back() != (*yd)[rank - 1] * (*yd)[rank]) return false;
  if (tp->size() != rank || tp->back() != static_cast<int64_t>(rank) - 1) return false;
  std::vector<int64_t> tp4 = *tp;
  tp4.push_back(static_cast<int64_t>(rank));
  std::vector<int64_t> old = att.attrs().get_ints("perm_y", identity_perm(tp4.size()));
  if (old.size() != tp4.size()) return false;
  std::vector<int64_t> p(old.size());
  for (size_t k = 0; k < old.size(); ++k) p[k] = old[tp4[k]];
  ir::Value* out = t->output(0);
  std::string what = t->describe();
  append_origin(att.fused_from(), t);
  g.remove_node(t);
  // Y' = Y transposed (new value), then the Reshape writes the Transpose's old output.
  ir::Value* moved = g.add_value(g.unique_name(y->name() + "_merged_order"));
  g.set_node_output(&att, 0, moved);
  set_perm(att, "perm_y", p);
  r.set_input(0, moved);
  r.set_input(1, g.add_constant(g.unique_name(r.name() + "_shape"), Tensor::from_i64(*od)));
  g.set_node_output(&r, 0, out);
  if (log) log("attention-fusion: absorbed " + what + " (after the head merge) into " + att.describe());
  return true;
}

// Absorbs one Transpose next to a kiln::Attention; true when the graph changed.
bool absorb_transpose(ir::Graph& g, ir::Node& att, const PassLog& log) {
  for (size_t i = 0; i < 3; ++i) {
    ir::Value* x = att.input(i);
    ir::Node* t = producer_op(g, x, "Transpose");
    if (!t || single_consumer(g, x) != &att) continue;
    if (std::count(att.inputs().begin(), att.inputs().end(), x) != 1) continue;
    auto tp = transpose_perm(*t);
    if (!tp) continue;
    std::vector<int64_t> old = att.attrs().get_ints(kInputPerms[i], identity_perm(tp->size()));
    if (old.size() != tp->size()) continue;
    // Transpose(Transpose(X, tp), old) = Transpose(X, p) with p[k] = tp[old[k]].
    std::vector<int64_t> p(old.size());
    for (size_t k = 0; k < old.size(); ++k) p[k] = (*tp)[old[k]];
    att.set_input(i, t->input(0));
    set_perm(att, kInputPerms[i], p);
    append_origin(att.fused_from(), t);
    if (log) log("attention-fusion: absorbed " + t->describe() + " into " + att.describe());
    g.remove_node(t);
    return true;
  }
  ir::Value* y = att.output(0);
  ir::Node* t = single_consumer(g, y);
  if (t && absorb_through_head_merge(g, att, *t, log)) return true;
  if (!t || !t->domain().empty() || t->op_type() != "Transpose" || t->input(0) != y || !t->output(0)) return false;
  auto tp = transpose_perm(*t);
  if (!tp) return false;
  std::vector<int64_t> old = att.attrs().get_ints("perm_y", identity_perm(tp->size()));
  if (old.size() != tp->size()) return false;
  // Transpose(Transpose(Y, old), tp) = Transpose(Y, p) with p[k] = old[tp[k]].
  std::vector<int64_t> p(old.size());
  for (size_t k = 0; k < old.size(); ++k) p[k] = old[(*tp)[k]];
  ir::Value* out = t->output(0);
  append_origin(att.fused_from(), t);
  if (log) log("attention-fusion: absorbed " + t->describe() + " into " + att.describe());
  g.remove_node(t);
  g.set_node_output(&att, 0, out);
  set_perm(att, "perm_y", p);
  return true;
}

class AttentionFusion : public Pass {
 public:
  const char* name() const override { return "attention-fusion"; }

  bool matches(const ir::Graph&, const ir::Node& n) const override {
    if (n.domain() == "kiln" && n.op_type() == "Attention") return n.num_inputs() >= 3 && n.output(0);
    return n.domain().empty() && n.op_type() == "Softmax" && n.input(0) && n.output(0);
  }

  bool rewrite(ir::Graph& g, ir::Node& node, const PassLog& log) override {
    if (node.domain() == "kiln")
      return absorb_scale(g, node, log) || absorb_transpose(g, node, log) || absorb_select(g, node, log);
    return fuse(g, node, log);
  }

 private:
  bool fuse(ir::Graph& g, ir::Node& softmax, const PassLog& log) {
    // Softmax over the last axis only: axis -1 needs no rank (for opset < 13 too: coercing to
    // 2-D at the last axis is a last-axis softmax).
    const ir::Value* s_in = softmax.input(0);
    int64_t axis = softmax.attrs().get_int("axis", g.opset("") >= 13 ? -1 : 1);
    if (axis != -1) {
      if (!s_in->type().shape) return false;
      int64_t rank = static_cast<int64_t>(s_in->type().shape->rank());
      if (axis < 0) axis += rank;
      if (axis != rank - 1) return false;
    }
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
    if (!q || !kt || !v || !y) return false;  // a MatMul with an omitted input: not an attention
    DataType dt = q->type().dtype;
    if (dt == DataType::kUndefined || kt->type().dtype != dt || v->type().dtype != dt ||
        (mask && mask->type().dtype != dt))
      return false;

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
