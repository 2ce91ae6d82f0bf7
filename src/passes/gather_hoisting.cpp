// Moves a Gather with constant indices above the row-wise node that produces its data, so that
// the node computes only the rows that are kept:
//   Gather(f(X, ...), idx, axis)  ->  f(Gather(X, idx, axis'), ...)
// where f is elementwise (numpy broadcasting), LayerNormalization over axes after `axis`, or a
// MatMul / kiln::FusedMatMul with a 2-D B and `axis` not the last (a row of Y depends on the
// same row of A, bias and Z only). Exact: each kept row is computed by the same arithmetic.
// The producer's output must be read by this Gather alone (an identical Gather of an input that
// already exists is reused, so both branches of a residual block can follow).
// Why: a classifier that reads one token (ViT's class token: x[:, 0] after the last encoder
// layer) otherwise runs the last layer's MLP, out-projection and LayerNorms on every token.
#include <algorithm>
#include <set>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

const std::set<std::string> kElementwise = {
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Relu", "LeakyRelu", "Elu", "Selu", "Sigmoid", "HardSigmoid",
    "Tanh", "Erf", "Exp", "Log", "Neg", "Abs", "Sqrt", "Reciprocal", "Softplus", "Gelu", "Cast", "Identity", "Clip"};

struct GatherSpec {
  int64_t axis;       // in the gathered value's rank
  Tensor index;       // int64 scalar or 1-D
  bool scalar() const { return index.rank() == 0; }
};

std::optional<GatherSpec> constant_gather(const ir::Node& n, int64_t rank) {
  const ir::Value* idx = n.input(1);
  if (!idx || !idx->is_constant() || idx->constant().rank() > 1) return std::nullopt;
  const DataType dt = idx->constant().dtype();
  if (dt != DataType::kInt64 && dt != DataType::kInt32) return std::nullopt;
  int64_t axis = n.attrs().get_int("axis", 0);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return std::nullopt;
  Tensor index(DataType::kInt64, idx->constant().dims());
  auto values = idx->constant().to_i64();
  std::copy(values.begin(), values.end(), index.data<int64_t>());
  return GatherSpec{axis, std::move(index)};
}

// How one input of the hoisted node follows the Gather: gathered (at `axis`, with the Gather's
// index or with 0 where a broadcast dim of 1 meets a scalar index) or kept.
struct Plan {
  bool gather = false;
  int64_t axis = 0;
  bool index_zero = false;
};

bool same_index(const Tensor& a, const Tensor& b) { return a.dims() == b.dims() && a.to_i64() == b.to_i64(); }

std::optional<int64_t> rank_of(const ir::Value* v) {
  if (!v || v->type().kind != ir::ValueKind::kTensor || !v->type().shape) return std::nullopt;
  return static_cast<int64_t>(v->type().shape->rank());
}

class GatherHoisting : public Pass {
 public:
  const char* name() const override { return "gather-hoisting"; }

  bool matches(const ir::Graph&, const ir::Node& n) const override {
    return n.domain().empty() && n.op_type() == "Gather" && n.num_inputs() == 2 && n.input(0) && n.input(1) &&
           n.output(0) && n.input(0)->producer();
  }

  bool rewrite(ir::Graph& g, ir::Node& gather, const PassLog& log) override {
    ir::Value* x = gather.input(0);
    ir::Node* f = x->producer();
    auto rank = rank_of(x);
    if (!rank || single_consumer(g, x) != &gather || f->num_outputs() != 1) return false;
    auto spec = constant_gather(gather, *rank);
    if (!spec) return false;
    // Products keep a rank-2 A at least (the CUDA kernels take matrices); nothing becomes 0-d.
    if (*rank - (spec->scalar() ? 1 : 0) < 2) return false;
    const Dim& gathered_dim = (*x->type().shape)[spec->axis];
    if (!gathered_dim.is_constant()) return false;
    for (int64_t i : spec->index.to_i64())
      if (i < -gathered_dim.value() || i >= gathered_dim.value()) return false;  // the Gather reports it

    std::vector<Plan> plans(f->num_inputs());
    const std::string op = f->op_type();
    const bool onnx = f->domain().empty();
    const bool elementwise = (onnx && kElementwise.count(op)) || (f->domain() == "kiln" && op == "Gelu");
    const bool matmul = (onnx && op == "MatMul") || (f->domain() == "kiln" && op == "FusedMatMul");
    const bool layernorm = onnx && op == "LayerNormalization";
    if (elementwise || (matmul && f->num_inputs() > 3)) {
      for (size_t i = 0; i < f->num_inputs(); ++i) {
        if (matmul && i < 3) continue;  // FusedMatMul's Z: elementwise with Y
        if (!broadcast_plan(f->input(i), *x, *spec, plans[i])) return false;
      }
    }
    if (matmul) {
      auto b_rank = rank_of(f->input(1));
      auto a_rank = rank_of(f->input(0));
      if (!b_rank || *b_rank != 2 || !a_rank || *a_rank != *rank || spec->axis >= *rank - 1) return false;
      plans[0] = {true, spec->axis, false};  // bias (input 2) covers Y's last axis only
    } else if (layernorm) {
      if (rank_of(f->input(0)) != rank) return false;
      int64_t axis = f->attrs().get_int("axis", -1);
      if (axis < 0) axis += *rank;
      if (spec->axis >= axis) return false;  // the gathered axis is normalized over
      plans[0] = {true, spec->axis, false};
      // Negative, so that it names the same axes at the new rank (a scalar index drops one).
      f->attrs().set("axis", axis - *rank);
    } else if (!elementwise) {
      return false;
    }

    const std::string what = gather.describe() + " above " + f->describe();
    std::vector<ir::Value*> inputs;
    for (size_t i = 0; i < f->num_inputs(); ++i) {
      ir::Value* in = f->input(i);
      inputs.push_back(plans[i].gather ? gathered(g, in, plans[i].axis, plans[i].index_zero ? zero() : spec->index)
                                       : in);
    }
    ir::Value* y = gather.output(0);
    g.remove_node(&gather);
    replace_node(g, f, op, f->domain(), inputs, {y});
    if (log) log("gather-hoisting: " + what);
    return true;
  }

 private:
  static Tensor zero() {
    Tensor t(DataType::kInt64, {});
    t.data<int64_t>()[0] = 0;
    return t;
  }

  // How input `in` of an elementwise node follows a Gather of its output `x` (numpy
  // broadcasting aligns trailing dims); false when it cannot.
  static bool broadcast_plan(const ir::Value* in, const ir::Value& x, const GatherSpec& spec, Plan& plan) {
    if (!in) return true;
    auto in_rank = rank_of(in);
    if (!in_rank) return false;
    const int64_t aligned = spec.axis - (static_cast<int64_t>(x.type().shape->rank()) - *in_rank);
    if (aligned < 0) return true;  // broadcast over the gathered axis: unchanged
    const Dim& d = (*in->type().shape)[aligned];
    const Dim& xd = (*x.type().shape)[spec.axis];
    if (!d.is_constant()) return false;
    if (d.value() == xd.value()) {
      plan = {true, aligned, false};
      return true;
    }
    if (d.value() != 1) return false;
    if (spec.scalar()) plan = {true, aligned, true};  // the axis goes away: drop it here too
    return true;  // a 1-D index keeps a broadcastable dim of 1
  }

  // Gather(v, index, axis), reusing an identical Gather of v when there is one.
  static ir::Value* gathered(ir::Graph& g, ir::Value* v, int64_t axis, const Tensor& index) {
    auto v_rank = rank_of(v);
    for (ir::Node* u : v_rank ? g.consumers(v) : std::vector<ir::Node*>{}) {
      if (!u->domain().empty() || u->op_type() != "Gather" || u->input(0) != v || !u->output(0)) continue;
      auto other = constant_gather(*u, *v_rank);
      if (other && other->axis == axis && same_index(other->index, index)) return u->output(0);
    }
    ir::Value* iv = g.add_constant(g.unique_name(v->name() + "_hoisted_index"), index);
    ir::Value* out = g.add_value(g.unique_name(v->name() + "_gathered"));
    ir::Node* n = g.add_node("Gather", {v, iv}, {out}, g.unique_name(v->name() + "_hoisted_gather"));
    n->attrs().set("axis", axis);
    return out;
  }
};

}  // namespace

std::unique_ptr<Pass> make_gather_hoisting() { return std::make_unique<GatherHoisting>(); }

}  // namespace kiln::passes
