// Residual fusion: Add(P(x), Z) with P a Conv/Gemm/MatMul (or its fused form without residual
// and activation yet) becomes P with Z as its residual input: Y = act(P(x) + Z), where the
// activation, if any, is fused afterwards. Z must have exactly the output's shape and be
// computed before P, so the fused node cannot depend on itself.
#include "passes/fusion_util.h"
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

class ResidualFusion : public Pass {
 public:
  const char* name() const override { return "residual-fusion"; }

  bool matches(const ir::Graph&, const ir::Node& n) const override {
    return n.domain().empty() && n.op_type() == "Add" && n.num_inputs() == 2 && n.input(0) && n.input(1);
  }

  bool rewrite(ir::Graph& g, ir::Node& add, const PassLog& log) override {
    const ir::Value* out = add.output(0);
    if (!out || !out->type().shape) return false;
    // Prefer the root computed last, so Z (the other side) is surely ready before it.
    ir::Node* best = nullptr;
    ir::Value* best_z = nullptr;
    int best_index = -1;
    for (int side = 0; side < 2; ++side) {
      ir::Value* x = add.input(side);
      ir::Value* z = add.input(1 - side);
      ir::Node* p = x->producer();
      if (!p || p->owner() != &g || !is_epilogue_root(*p) || has_fused_activation(*p) || has_residual(*p)) continue;
      if (single_consumer(g, x) != &add || z->is_constant() || !x->type().shape || !z->type().shape) continue;
      if (*x->type().shape != *out->type().shape || *z->type().shape != *out->type().shape) continue;
      if (x->type().dtype != z->type().dtype) continue;
      int pi = node_index(g, p);
      int zi = z->producer() ? node_index(g, z->producer()) : -1;
      if (z->producer() && (zi < 0 || zi > pi)) continue;
      if (pi > best_index) {
        best = p;
        best_z = z;
        best_index = pi;
      }
    }
    if (!best) return false;
    std::string what = best->describe() + " + " + add.describe();
    ir::Value* y = add.output(0);
    std::string add_name = add.name();
    auto add_fused = add.fused_from();
    g.remove_node(&add);
    ir::Node* fused = to_fused(g, best, y);
    fused->set_input(3, best_z);
    if (add_fused.empty()) fused->fused_from().push_back(add_name);
    else fused->fused_from().insert(fused->fused_from().end(), add_fused.begin(), add_fused.end());
    if (log) log("residual-fusion: fused " + what);
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_residual_fusion() { return std::make_unique<ResidualFusion>(); }

}  // namespace kiln::passes
