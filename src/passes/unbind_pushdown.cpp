// Moves a Transpose below the unbind that follows it: T = Transpose(X, p) read only by
// Split(axis 0, all sizes 1) -> Squeeze(axis 0) per output, or only by Gather(axis 0, constant
// scalar index), becomes per slice i: Transpose(Gather(X, axis = p[0], index i), p'), where p'
// is p without its first entry, renumbered for the removed axis. Pure data movement: exact.
// Why: ViT's qkv.reshape(B, N, 3, H, D).permute(2, 0, 3, 1, 4).unbind(0) copies all of q, k, v
// twice (the 5-D transpose, then the split) before the head-split that attention needs; after
// the rewrite each of q, k, v is one gather of [B, N, H, D] and its Transpose(0, 2, 1, 3) is
// absorbed by attention-fusion into kiln::Attention's perms.
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

// A constant integer list (the Split/Squeeze inputs of opset 13+), or the attribute form.
std::optional<std::vector<int64_t>> ints_input_or_attr(const ir::Node& n, size_t input, const char* attr) {
  if (const ir::Value* v = n.input(input)) {
    if (!v->is_constant()) return std::nullopt;
    DataType dt = v->constant().dtype();
    if (dt != DataType::kInt64 && dt != DataType::kInt32) return std::nullopt;
    return v->constant().to_i64();
  }
  if (n.attrs().has(attr)) return n.attrs().get_ints(attr, {});
  return std::vector<int64_t>{};
}

class UnbindPushdown : public Pass {
 public:
  const char* name() const override { return "unbind-pushdown"; }

  bool matches(const ir::Graph&, const ir::Node& n) const override {
    return n.domain().empty() && n.op_type() == "Transpose" && n.input(0) && n.output(0);
  }

  bool rewrite(ir::Graph& g, ir::Node& t, const PassLog& log) override {
    ir::Value* x = t.input(0);
    ir::Value* tv = t.output(0);
    if (!x->type().shape || is_graph_output(g, tv)) return false;
    const int64_t rank = static_cast<int64_t>(x->type().shape->rank());
    if (rank < 2) return false;
    std::vector<int64_t> p = t.attrs().get_ints("perm", {});
    if (p.empty())
      for (int64_t i = rank; i-- > 0;) p.push_back(i);
    if (static_cast<int64_t>(p.size()) != rank) return false;
    std::vector<bool> seen(rank, false);
    for (int64_t v : p) {
      if (v < 0 || v >= rank || seen[v]) return false;
      seen[v] = true;
    }
    const int64_t axis = p[0];
    const Dim& d0 = (*x->type().shape)[axis];
    if (!d0.is_constant()) return false;

    // (index, value the slice must end up in, nodes that go away)
    struct Slice {
      int64_t index;
      ir::Value* out;
    };
    std::vector<Slice> slices;
    std::vector<ir::Node*> doomed;
    auto users = g.consumers(tv);
    if (users.empty()) return false;
    if (users.size() == 1 && users[0]->domain().empty() && users[0]->op_type() == "Split") {
      ir::Node* split = users[0];
      if (split->input(0) != tv || split->attrs().get_int("axis", 0) != 0) return false;
      if (static_cast<int64_t>(split->num_outputs()) != d0.value()) return false;
      auto sizes = ints_input_or_attr(*split, 1, "split");
      if (!sizes) return false;
      for (int64_t s : *sizes)
        if (s != 1) return false;
      if (split->attrs().has("num_outputs") && split->attrs().get_int("num_outputs", 0) != d0.value()) return false;
      doomed.push_back(split);
      for (size_t i = 0; i < split->num_outputs(); ++i) {
        ir::Value* part = split->output(i);
        if (!part) return false;
        ir::Node* sq = single_consumer(g, part);
        if (!sq || !sq->domain().empty() || sq->op_type() != "Squeeze" || sq->input(0) != part || !sq->output(0))
          return false;
        auto axes = ints_input_or_attr(*sq, 1, "axes");
        if (!axes || axes->size() != 1 || ((*axes)[0] != 0 && (*axes)[0] != -rank)) return false;
        slices.push_back({static_cast<int64_t>(i), sq->output(0)});
        doomed.push_back(sq);
      }
    } else {
      for (ir::Node* u : users) {
        if (!u->domain().empty() || u->op_type() != "Gather" || u->input(0) != tv || u->input(1) == tv || !u->output(0))
          return false;
        if (u->attrs().get_int("axis", 0) != 0) return false;
        const ir::Value* idx = u->input(1);
        if (!idx || !idx->is_constant() || idx->constant().rank() != 0) return false;
        DataType it = idx->constant().dtype();
        if (it != DataType::kInt64 && it != DataType::kInt32) return false;
        int64_t i = idx->constant().to_i64()[0];
        if (i < 0 || i >= d0.value()) return false;
        slices.push_back({i, u->output(0)});
        doomed.push_back(u);
      }
    }

    // p' : p[1..] renumbered for the axis the Gather removes.
    std::vector<int64_t> rest;
    for (size_t k = 1; k < p.size(); ++k) rest.push_back(p[k] > axis ? p[k] - 1 : p[k]);
    std::string what = t.describe();
    std::vector<std::string> origin;
    append_origin(origin, &t);
    for (ir::Node* n : doomed) append_origin(origin, n);
    for (ir::Node* n : doomed) g.remove_node(n);
    g.remove_node(&t);
    for (const Slice& s : slices) {
      Tensor index(DataType::kInt64, {});
      index.data<int64_t>()[0] = s.index;
      ir::Value* iv = g.add_constant(g.unique_name(x->name() + "_unbind_index"), index);
      ir::Value* gathered = g.add_value(g.unique_name(s.out->name() + "_gathered"));
      ir::Node* gather = g.add_node("Gather", {x, iv}, {gathered}, g.unique_name(s.out->name() + "_gather"));
      gather->attrs().set("axis", axis);
      gather->fused_from() = origin;
      ir::Node* tr = g.add_node("Transpose", {gathered}, {s.out}, g.unique_name(s.out->name() + "_transpose"));
      tr->attrs().set("perm", rest);
      tr->fused_from() = origin;
    }
    if (log) log("unbind-pushdown: " + what + " moved below its " + std::to_string(slices.size()) + " slices");
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_unbind_pushdown() { return std::make_unique<UnbindPushdown>(); }

}  // namespace kiln::passes
