// Transpose motion: a Transpose that keeps the last axis in place commutes with a row-wise
// product (MatMul by a constant matrix, optionally + a bias over the last axis):
//   MatMul(Transpose(x, p), W) [+ b] = Transpose(MatMul(x, W) [+ b], p).
// So it can move to whichever side lets another pass remove it:
// - sink below the product when the product's readers are movement ops (movement-collapse then
//   folds it into their chain: ViT's seq-first Transpose before the qkv projection);
// - hoist above the product when the product reads a movement op or kiln::Attention
//   (attention-fusion absorbs it into perm_y: ViT's Transpose back to batch-first after the
//   output projection), which also lets the residual Add join the product.
// The two directions never both apply to one product, so the pass cannot loop.
// Also here: Reshape(x -> 2-D) -> Gemm(constant B, bias) -> Reshape(back to x's leading dims)
// is the row-wise MatMul(x, B) + bias, the form the rules above (and bias/residual fusion) match.
#include <numeric>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

std::optional<std::vector<int64_t>> row_perm(const ir::Node& t) {
  if (!t.domain().empty() || t.op_type() != "Transpose" || !t.input(0) || !t.output(0)) return std::nullopt;
  if (!t.input(0)->type().shape) return std::nullopt;
  const size_t rank = t.input(0)->type().shape->rank();
  std::vector<int64_t> p = t.attrs().get_ints("perm", {});
  if (p.size() != rank || rank < 2 || p.back() != static_cast<int64_t>(rank) - 1) return std::nullopt;
  std::vector<bool> seen(rank, false);
  for (int64_t v : p) {
    if (v < 0 || v >= static_cast<int64_t>(rank) || seen[v]) return std::nullopt;
    seen[v] = true;
  }
  return p;
}

// MatMul(a, W) with W a rank-2 constant, a of rank >= 2.
bool is_row_product(const ir::Node& n) {
  if (!n.domain().empty() || n.op_type() != "MatMul" || !n.input(0) || !n.input(1) || !n.output(0)) return false;
  const ir::Value* w = n.input(1);
  return w->is_constant() && w->constant().rank() == 2 && n.input(0)->type().shape &&
         n.input(0)->type().shape->rank() >= 2;
}

// Add(v, b) / Add(b, v) with b a constant of rank <= 1 (broadcast over the last axis only).
ir::Value* bias_of(const ir::Node& add, const ir::Value* v) {
  if (!add.domain().empty() || add.op_type() != "Add" || add.num_inputs() != 2) return nullptr;
  ir::Value* b = other_input(add, v);
  return b && b->is_constant() && b->constant().rank() <= 1 ? b : nullptr;
}

bool is_movement_op(const ir::Node& n) {
  static const char* kOps[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Gather", "Identity"};
  if (!n.domain().empty()) return false;
  for (const char* op : kOps)
    if (n.op_type() == op) return true;
  return false;
}

// The product's tail: MatMul -> [bias Add], each read only by the next. Returns the last value.
ir::Value* tail_of(const ir::Graph& g, ir::Node* mm, ir::Node** add, ir::Value** bias) {
  *add = nullptr;
  *bias = nullptr;
  ir::Value* v = mm->output(0);
  ir::Node* next = single_consumer(g, v);
  if (next && (*bias = bias_of(*next, v))) {
    *add = next;
    return next->output(0);
  }
  return v;
}

// A value whose producer now reads differently shaped data: its shape is inferred again after
// the round (the old one would contradict the new inference).
void forget_shape(ir::Value* v) {
  if (v) v->type().shape.reset();
}

class TransposeMotion : public Pass {
 public:
  const char* name() const override { return "transpose-motion"; }

  bool matches(const ir::Graph&, const ir::Node& n) const override {
    return n.domain().empty() && (n.op_type() == "Transpose" || n.op_type() == "Gemm");
  }

  bool rewrite(ir::Graph& g, ir::Node& n, const PassLog& log) override {
    if (n.op_type() == "Gemm") return gemm_to_matmul(g, n, log);
    auto p = row_perm(n);
    if (!p) return false;
    return sink(g, n, *p, log) || hoist(g, n, *p, log);
  }

 private:
  // Transpose(x) -> MatMul -> [Add b] -> movement readers  =>  MatMul(x) -> [Add b] -> Transpose.
  static bool sink(ir::Graph& g, ir::Node& t, const std::vector<int64_t>& p, const PassLog& log) {
    ir::Value* x = t.input(0);
    const ir::Node* xp = x->producer();
    if (xp && (is_movement_op(*xp) || (xp->domain() == "kiln" && xp->op_type() == "Attention"))) return false;
    ir::Node* mm = single_consumer(g, t.output(0));
    if (!mm || !is_row_product(*mm) || mm->input(0) != t.output(0)) return false;
    ir::Node* add;
    ir::Value* bias;
    ir::Value* end = tail_of(g, mm, &add, &bias);
    auto readers = g.consumers(end);
    if (readers.empty() || is_graph_output(g, end)) return false;
    for (const ir::Node* r : readers)
      if (!is_movement_op(*r)) return false;
    // Rewire: the product reads x; a new Transpose writes `end` from the tail's new value.
    ir::Value* moved = g.add_value(g.unique_name(end->name() + "_rows"));
    mm->set_input(0, x);
    g.set_node_output(add ? add : mm, 0, moved);
    forget_shape(mm->output(0));
    ir::Node* nt = g.add_node("Transpose", {moved}, {end}, g.unique_name(t.name() + "_sunk"));
    nt->attrs().set("perm", p);
    nt->fused_from() = t.fused_from();
    std::string what = t.describe();
    g.remove_node(&t);
    if (log) log("transpose-motion: moved " + what + " below " + mm->describe());
    return true;
  }

  // MatMul(a) -> [Add b] -> Transpose, a from a movement op or kiln::Attention
  //   =>  Transpose(a) -> MatMul -> [Add b].
  static bool hoist(ir::Graph& g, ir::Node& t, const std::vector<int64_t>& p, const PassLog& log) {
    ir::Value* v = t.input(0);
    ir::Node* prod = v->producer();
    if (!prod || prod->owner() != &g || single_consumer(g, v) != &t) return false;
    ir::Node* add = nullptr;
    ir::Node* mm = prod;
    if (!is_row_product(*prod)) {
      add = prod;
      ir::Value* inner = nullptr;
      for (ir::Value* in : add->inputs())
        if (in && in->producer() && is_row_product(*in->producer())) inner = in;
      if (!inner || !bias_of(*add, inner) || single_consumer(g, inner) != add) return false;
      mm = inner->producer();
    }
    ir::Value* a = mm->input(0);
    ir::Node* src = a->producer();
    if (!src || !(is_movement_op(*src) || (src->domain() == "kiln" && src->op_type() == "Attention"))) return false;
    ir::Value* out = t.output(0);
    ir::Value* ta = g.add_value(g.unique_name(a->name() + "_transposed"));
    ir::Node* nt = g.add_node("Transpose", {a}, {ta}, g.unique_name(t.name() + "_hoisted"));
    nt->attrs().set("perm", p);
    nt->fused_from() = t.fused_from();
    std::string what = t.describe();
    g.remove_node(&t);
    mm->set_input(0, ta);
    g.set_node_output(add ? add : mm, 0, out);
    forget_shape(mm->output(0));
    if (log) log("transpose-motion: moved " + what + " above " + mm->describe());
    return true;
  }

  // Reshape(x -> [M, K]) -> Gemm(., B const, C const over N) -> Reshape(-> lead + [N]) with
  // prod(lead) = M  =>  Reshape(x -> lead + [K]) -> MatMul(., B as [K, N]) -> Add(C).
  static bool gemm_to_matmul(ir::Graph& g, ir::Node& gemm, const PassLog& log) {
    const auto& at = gemm.attrs();
    if (at.get_float("alpha", 1.f) != 1.f || at.get_float("beta", 1.f) != 1.f || at.get_int("transA", 0) != 0)
      return false;
    ir::Value* a = gemm.input(0);
    ir::Value* b = gemm.num_inputs() > 1 ? gemm.input(1) : nullptr;
    ir::Value* c = gemm.num_inputs() > 2 ? gemm.input(2) : nullptr;
    if (!a || !b || !b->is_constant() || (c && (!c->is_constant() || c->constant().rank() > 1))) return false;
    ir::Node* r_in = a->producer();
    if (!r_in || !r_in->domain().empty() || r_in->op_type() != "Reshape" || single_consumer(g, a) != &gemm) return false;
    ir::Node* r_out = single_consumer(g, gemm.output(0));
    if (!r_out || !r_out->domain().empty() || r_out->op_type() != "Reshape" || r_out->input(0) != gemm.output(0))
      return false;
    auto ad = static_dims(a);
    auto od = static_dims(r_out->output(0));
    auto bd = static_dims(b);
    if (!ad || !od || !bd || ad->size() != 2 || od->size() < 3 || bd->size() != 2) return false;
    const bool tb = at.get_int("transB", 0) != 0;
    const int64_t k = (*ad)[1], n = tb ? (*bd)[0] : (*bd)[1];
    if ((tb ? (*bd)[1] : (*bd)[0]) != k || od->back() != n) return false;
    std::vector<int64_t> lead(od->begin(), od->end() - 1);
    if (std::accumulate(lead.begin(), lead.end(), int64_t{1}, std::multiplies<>()) != (*ad)[0]) return false;
    ir::Value* w = b;
    if (tb) {
      auto wv = constant_values(b, k * n);
      if (!wv) return false;
      std::vector<double> t(static_cast<size_t>(k * n));
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < k; ++j) t[j * n + i] = (*wv)[i * k + j];
      w = g.add_constant(g.unique_name(b->name() + "_kn"), make_float_tensor(b->type().dtype, {k, n}, t));
    }
    std::vector<int64_t> in_dims = lead;
    in_dims.push_back(k);
    const std::string base = gemm.name();
    std::vector<std::string> origin;
    append_origin(origin, &gemm);
    ir::Value* x = r_in->input(0);
    ir::Value* y = r_out->output(0);
    std::string what = gemm.describe();
    g.remove_node(r_out);
    g.remove_node(&gemm);
    Replacement r(g, base, origin);
    ir::Value* rows = r.add("Reshape", {x, r.dims(in_dims)}, nullptr, "_rows")->output(0);
    ir::Value* prod = r.add("MatMul", {rows, w}, c ? nullptr : y, "_product")->output(0);
    if (c) r.add("Add", {prod, c}, y, "_bias");
    if (log) log("transpose-motion: " + what + " between reshapes -> MatMul over the leading dims");
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_transpose_motion() { return std::make_unique<TransposeMotion>(); }

}  // namespace kiln::passes
