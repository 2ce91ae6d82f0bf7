#include "passes/fusion_util.h"

#include "passes/pass_util.h"

namespace kiln::passes {

bool is_epilogue_root(const ir::Node& n) {
  const std::string& op = n.op_type();
  if (n.domain().empty()) return op == "Conv" || op == "Gemm" || op == "MatMul";
  return n.domain() == "kiln" && (op == "FusedConv" || op == "FusedGemm" || op == "FusedMatMul");
}

bool has_fused_activation(const ir::Node& n) { return !n.attrs().get_string("activation", "").empty(); }

bool has_residual(const ir::Node& n) { return n.domain() == "kiln" && n.input(3) != nullptr; }

ir::Node* to_fused(ir::Graph& g, ir::Node* p, ir::Value* out) {
  std::vector<ir::Value*> ins = p->inputs();
  ins.resize(4, nullptr);
  std::string op = p->domain() == "kiln" ? p->op_type() : "Fused" + p->op_type();
  if (p->fused_from().empty()) p->fused_from().push_back(p->name());
  g.set_opset("kiln", 1);
  return replace_node(g, p, op, "kiln", ins, {out});
}

}  // namespace kiln::passes
