// Removes nodes that pass their input through unchanged at inference: Identity, Dropout (no
// mask read, not in training mode), Cast to the input's own dtype, Reshape to the input's own
// static shape. Graph output names stay stable (pass_util's bypass_node).
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

bool is_tensor_value(const ir::Value* v) { return v && v->type().is_tensor(); }

class IdentityElimination : public Pass {
 public:
  const char* name() const override { return "identity-elimination"; }

  bool matches(const ir::Graph&, const ir::Node& n) const override {
    if (!n.domain().empty() || n.num_outputs() == 0 || !is_tensor_value(n.input(0)) || !n.output(0)) return false;
    const std::string& op = n.op_type();
    return op == "Identity" || op == "Dropout" || op == "Cast" || op == "Reshape";
  }

  bool rewrite(ir::Graph& g, ir::Node& n, const PassLog& log) override {
    if (!is_noop(g, n)) return false;
    std::string what = n.describe();
    if (!bypass_node(g, &n)) return false;
    if (log) log("identity-elimination: removed " + what);
    return true;
  }

 private:
  static bool is_noop(const ir::Graph& g, const ir::Node& n) {
    const ir::Value* in = n.input(0);
    const ir::Value* out = n.output(0);
    const std::string& op = n.op_type();
    if (op == "Identity") return n.num_outputs() == 1;
    if (op == "Dropout") {
      // The mask output must be unused; training_mode (input 2) absent or a constant false.
      if (n.output(1) && (is_graph_output(g, n.output(1)) || !g.consumers(n.output(1)).empty())) return false;
      if (const ir::Value* tm = n.input(2)) {
        if (!tm->is_constant() || tm->constant().numel() != 1 || tm->constant().to_i64()[0] != 0) return false;
      }
      return true;
    }
    if (op == "Cast")
      return in->type().dtype != DataType::kUndefined && in->type().dtype == out->type().dtype;
    if (op == "Reshape") {
      auto a = static_dims(in), b = static_dims(out);
      return a && b && *a == *b && in->type().dtype == out->type().dtype;
    }
    return false;
  }
};

}  // namespace

std::unique_ptr<Pass> make_identity_elimination() { return std::make_unique<IdentityElimination>(); }

}  // namespace kiln::passes
