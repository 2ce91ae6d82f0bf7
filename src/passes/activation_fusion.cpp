// Activation fusion: act(P(x)) with P a Conv/Gemm/MatMul (or its fused form without an
// activation yet) becomes one kiln:: fused node with `activation` set. Recognizes Relu, Clip
// (Relu6 and any constant bounds), Sigmoid, SiLU written as x * Sigmoid(x), Swish, Gelu (erf
// and tanh), kiln::Gelu, LeakyRelu, HardSwish, HardSigmoid and Tanh.
#include <limits>

#include "passes/fusion_util.h"
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

struct Activation {
  std::string name;
  float alpha = 0, beta = 0;
};

// The activation `n` applies to its input 0, when it is one fused ops can take.
std::optional<Activation> activation_of(const ir::Graph& g, const ir::Node& n) {
  const std::string& op = n.op_type();
  if (n.domain() == "kiln" && op == "Gelu")
    return Activation{n.attrs().get_string("approximate", "none") == "tanh" ? "GeluTanh" : "Gelu"};
  if (!n.domain().empty() || n.num_outputs() != 1) return std::nullopt;
  if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "HardSwish") return Activation{op};
  if (op == "LeakyRelu") return Activation{op, n.attrs().get_float("alpha", 0.01f)};
  if (op == "HardSigmoid") return Activation{op, n.attrs().get_float("alpha", 0.2f), n.attrs().get_float("beta", 0.5f)};
  if (op == "Swish") return Activation{op, n.attrs().get_float("alpha", 1.0f)};
  if (op == "Gelu") {
    std::string approx = n.attrs().get_string("approximate", "none");
    if (approx != "none" && approx != "tanh") return std::nullopt;
    return Activation{approx == "tanh" ? "GeluTanh" : "Gelu"};
  }
  if (op == "Clip") {
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    if (g.opset("") < 11) {
      lo = n.attrs().get_float("min", lo);
      hi = n.attrs().get_float("max", hi);
    } else {
      for (size_t i = 1; i < 3; ++i) {
        if (!n.input(i)) continue;
        auto v = constant_scalar(n.input(i));
        if (!v) return std::nullopt;
        (i == 1 ? lo : hi) = static_cast<float>(*v);
      }
    }
    return Activation{"Clip", lo, hi};
  }
  return std::nullopt;
}

// The root whose output `x` is; nullptr unless it can take an activation.
ir::Node* root_of(const ir::Graph& g, const ir::Value* x) {
  ir::Node* p = x ? x->producer() : nullptr;
  if (!p || p->owner() != &g || !is_epilogue_root(*p) || has_fused_activation(*p)) return nullptr;
  if (!x->type().is_tensor() || !is_float(x->type().dtype)) return nullptr;
  return p;
}

class ActivationFusion : public Pass {
 public:
  const char* name() const override { return "activation-fusion"; }

  bool matches(const ir::Graph& g, const ir::Node& n) const override {
    if (!n.input(0) || !root_of(g, n.input(0))) {
      // SiLU: Mul(x, Sigmoid(x)) in either operand order.
      return n.domain().empty() && n.op_type() == "Mul" && n.num_inputs() == 2;
    }
    return n.domain() == "kiln" ? n.op_type() == "Gelu" : n.domain().empty();
  }

  bool rewrite(ir::Graph& g, ir::Node& n, const PassLog& log) override {
    if (n.domain().empty() && n.op_type() == "Mul") return rewrite_silu(g, n, log);
    auto act = activation_of(g, n);
    if (!act) return false;
    ir::Value* x = n.input(0);
    ir::Node* p = root_of(g, x);
    if (!p || single_consumer(g, x) != &n) return false;
    fuse(g, p, n, {&n}, *act, log);
    return true;
  }

 private:
  bool rewrite_silu(ir::Graph& g, ir::Node& mul, const PassLog& log) {
    for (int side = 0; side < 2; ++side) {
      ir::Value* x = mul.input(side);
      ir::Value* s = mul.input(1 - side);
      ir::Node* sig = s ? s->producer() : nullptr;
      if (!x || !sig || !sig->domain().empty() || sig->op_type() != "Sigmoid" || sig->input(0) != x) continue;
      ir::Node* p = root_of(g, x);
      if (!p || single_consumer(g, s) != &mul || is_graph_output(g, x)) continue;
      auto users = g.consumers(x);
      if (users.size() != 2) continue;
      fuse(g, p, mul, {sig, &mul}, Activation{"Silu"}, log);
      return true;
    }
    return false;
  }

  static void fuse(ir::Graph& g, ir::Node* p, ir::Node& last, std::vector<ir::Node*> absorbed, const Activation& act,
                   const PassLog& log) {
    std::string what = p->describe();
    ir::Value* y = last.output(0);
    std::vector<std::string> names;
    for (ir::Node* a : absorbed) {
      what += " + " + a->describe();
      if (a->fused_from().empty()) names.push_back(a->name());
      else names.insert(names.end(), a->fused_from().begin(), a->fused_from().end());
    }
    for (ir::Node* a : absorbed) g.remove_node(a);
    ir::Node* fused = to_fused(g, p, y);
    fused->attrs().set("activation", act.name);
    fused->attrs().set("activation_alpha", act.alpha);
    fused->attrs().set("activation_beta", act.beta);
    fused->fused_from().insert(fused->fused_from().end(), names.begin(), names.end());
    if (log) log("activation-fusion: fused " + what);
  }
};

}  // namespace

std::unique_ptr<Pass> make_activation_fusion() { return std::make_unique<ActivationFusion>(); }

}  // namespace kiln::passes
