// Bias fusion: MatMul(A, B) + c with c a constant over the last dim becomes kiln::FusedMatMul
// with a bias (what the GPU runs as one GEMM with a bias epilogue); Conv(x, W[, b]) + c with c
// a constant of one value per channel ([C], [C,1,1], [1,C,1,1], ...) folds into Conv's bias.
#include "passes/fusion_util.h"
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

class BiasFusion : public Pass {
 public:
  const char* name() const override { return "bias-fusion"; }

  bool matches(const ir::Graph&, const ir::Node& n) const override {
    return n.domain().empty() && n.op_type() == "Add" && n.num_inputs() == 2 && n.input(0) && n.input(1);
  }

  bool rewrite(ir::Graph& g, ir::Node& add, const PassLog& log) override {
    for (int side = 0; side < 2; ++side) {
      ir::Value* x = add.input(side);
      ir::Value* c = add.input(1 - side);
      ir::Node* p = x->producer();
      if (!p || p->owner() != &g || !c->is_constant() || single_consumer(g, x) != &add) continue;
      if (!x->type().shape || !add.output(0)->type().shape || *x->type().shape != *add.output(0)->type().shape) continue;
      if (c->constant().dtype() != x->type().dtype) continue;
      std::string what = p->describe() + " + " + add.describe();  // both nodes are gone after a fusion
      bool done = false;
      if (p->domain().empty() && p->op_type() == "MatMul") done = fuse_matmul(g, p, add, c);
      else if (p->domain() == "kiln" && p->op_type() == "FusedMatMul" && !p->input(2) && !has_residual(*p) &&
               !has_fused_activation(*p))
        done = fuse_matmul(g, p, add, c);
      else if (p->domain().empty() && p->op_type() == "Conv") done = fuse_conv(g, p, add, c);
      if (done && log) log("bias-fusion: fused " + what);
      if (done) return true;
    }
    return false;
  }

 private:
  static void absorb(ir::Node* fused, const std::string& name, const std::vector<std::string>& from) {
    if (from.empty()) fused->fused_from().push_back(name);
    else fused->fused_from().insert(fused->fused_from().end(), from.begin(), from.end());
  }

  static bool fuse_matmul(ir::Graph& g, ir::Node* p, ir::Node& add, ir::Value* c) {
    const Shape& out = *add.output(0)->type().shape;
    if (out.rank() == 0 || !out[out.rank() - 1].is_constant()) return false;
    int64_t n = out[out.rank() - 1].value();
    const Tensor& t = c->constant();
    if (t.rank() > out.rank() || t.numel() != n || n == 1 || t.dims().back() != n) return false;
    ir::Value* bias = c;
    if (t.rank() != 1) bias = g.add_constant(g.unique_name(c->name() + "_1d"), t.reshaped({n}));
    ir::Value* y = add.output(0);
    std::string name = add.name();
    auto from = add.fused_from();
    g.remove_node(&add);
    ir::Node* fused = to_fused(g, p, y);
    fused->set_input(2, bias);
    absorb(fused, name, from);
    return true;
  }

  static bool fuse_conv(ir::Graph& g, ir::Node* p, ir::Node& add, ir::Value* c) {
    const Shape& out = *add.output(0)->type().shape;
    const ir::Value* w = p->input(1);
    if (out.rank() < 3 || !w || !w->type().has_static_shape()) return false;
    int64_t channels = w->type().shape->static_dims()[0];
    const Tensor& t = c->constant();
    // One value per channel: t's dims right-align with out's, so out's axis 1 is t's axis below.
    if (t.numel() != channels || t.rank() > out.rank()) return false;
    int64_t axis_in_t = static_cast<int64_t>(t.rank()) - static_cast<int64_t>(out.rank() - 1);
    if (axis_in_t < 0 && channels != 1) return false;
    for (int64_t i = 0; i < static_cast<int64_t>(t.rank()); ++i)
      if (i != axis_in_t && t.dim(i) != 1) return false;
    auto cv = constant_values(c);
    if (!cv) return false;
    std::vector<double> bias(channels, 0.0);
    if (p->input(2)) {
      auto b = constant_values(p->input(2), channels);
      if (!b) return false;
      bias = *b;
    }
    for (int64_t i = 0; i < channels; ++i) bias[i] += (*cv)[i];
    ir::Value* b = g.add_constant(g.unique_name(p->name() + "_bias"), make_float_tensor(t.dtype(), {channels}, bias));
    std::vector<ir::Value*> ins = p->inputs();
    ins.resize(3);
    ins[2] = b;
    ir::Value* y = add.output(0);
    std::string name = add.name();
    auto from = add.fused_from();
    g.remove_node(&add);
    if (p->fused_from().empty()) p->fused_from().push_back(p->name());
    ir::Node* fused = replace_node(g, p, "Conv", "", ins, {y});
    absorb(fused, name, from);
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_bias_fusion() { return std::make_unique<BiasFusion>(); }

}  // namespace kiln::passes
