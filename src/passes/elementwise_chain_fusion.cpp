// Elementwise chain fusion: a run of elementwise ops where each reads the previous one's
// output (and nothing else reads it) becomes one kiln::ElementwiseChain node whose program
// (ops, operands, swapped; docs/FUSED_OPS.md) replays the steps in order: one kernel, one pass
// over memory. A late pass: it runs once the pattern fusions are done, and takes what they left.
#include <set>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

bool is_unary(const std::string& op) {
  static const std::set<std::string> k = {"Relu", "Sigmoid", "Tanh", "Exp", "Log", "Neg",
                                          "Abs", "Sqrt", "Erf", "Reciprocal"};
  return k.count(op) != 0;
}
bool is_binary(const std::string& op) { return op == "Add" || op == "Sub" || op == "Mul" || op == "Div"; }

bool is_float_tensor(const ir::Value* v) {
  if (!v || !v->type().is_tensor()) return false;
  DataType dt = v->type().dtype;
  return dt == DataType::kFloat32 || dt == DataType::kFloat64 || dt == DataType::kFloat16 || dt == DataType::kBFloat16;
}

// A standard elementwise op node, or a chain.
bool is_step(const ir::Node& n) {
  if (n.domain() == "kiln") return n.op_type() == "ElementwiseChain";
  if (!n.domain().empty() || n.num_outputs() != 1) return false;
  if (is_unary(n.op_type())) return n.num_inputs() == 1 && n.attrs().empty();
  return is_binary(n.op_type()) && n.num_inputs() == 2 && n.input(0) && n.input(1);
}

struct Program {
  std::vector<ir::Value*> inputs;
  std::vector<std::string> ops;
  std::vector<int64_t> operands, swapped;

  int64_t operand_index(ir::Value* v) {
    for (size_t i = 1; i < inputs.size(); ++i)
      if (inputs[i] == v) return static_cast<int64_t>(i);
    inputs.push_back(v);
    return static_cast<int64_t>(inputs.size() - 1);
  }
  // Appends node n's step, with `acc` the input of n that carries the chain.
  void add_step(const ir::Node& n, const ir::Value* acc) {
    ops.push_back(n.op_type());
    if (n.num_inputs() == 1) {
      operands.push_back(-1);
      swapped.push_back(0);
      return;
    }
    int side = n.input(0) == acc ? 0 : 1;
    operands.push_back(operand_index(n.input(1 - side)));
    swapped.push_back(side);
  }
};

Program program_of(const ir::Node& n) {
  Program p;
  p.inputs.push_back(n.input(0));
  if (n.domain() == "kiln") {
    p.inputs = n.inputs();
    p.ops = n.attrs().get_strings("ops");
    p.operands = n.attrs().get_ints("operands");
    p.swapped = n.attrs().get_ints("swapped");
  } else {
    p.add_step(n, n.input(0));
  }
  return p;
}

class ElementwiseChainFusion : public Pass {
 public:
  const char* name() const override { return "elementwise-chain-fusion"; }
  // Late: until shapes are known (a Reshape whose target comes from Shape ops folds only in a
  // later round) bias-fusion cannot check a bias, and a chain formed meanwhile would keep HF
  // BERT's bias and residual Adds out of the product for good.
  bool runs_last() const override { return true; }

  bool matches(const ir::Graph&, const ir::Node& n) const override { return n.domain().empty() && is_step(n); }

  bool rewrite(ir::Graph& g, ir::Node& e, const PassLog& log) override {
    if (!is_float_tensor(e.output(0))) return false;
    for (int side = 0; side < static_cast<int>(e.num_inputs()); ++side) {
      ir::Value* acc = e.input(side);
      ir::Node* p = acc ? acc->producer() : nullptr;
      if (!p || p->owner() != &g || !is_step(*p) || single_consumer(g, acc) != &e) continue;
      if (e.num_inputs() == 2 && e.input(0) == e.input(1)) continue;
      if (!is_float_tensor(acc) || acc->type().dtype != e.output(0)->type().dtype) continue;
      bool all_float = true;
      for (const ir::Value* in : p->inputs()) all_float = all_float && is_float_tensor(in);
      for (const ir::Value* in : e.inputs()) all_float = all_float && is_float_tensor(in);
      if (!all_float) continue;
      Program prog = program_of(*p);
      prog.add_step(e, acc);
      std::vector<std::string> origin;
      append_origin(origin, p);
      append_origin(origin, &e);
      std::string name = e.name();
      ir::Value* y = e.output(0);
      g.remove_node(&e);
      g.remove_node(p);
      g.set_opset("kiln", 1);
      ir::Node* chain = g.add_node("ElementwiseChain", prog.inputs, {y}, name, "kiln");
      chain->attrs().set("ops", prog.ops);
      chain->attrs().set("operands", prog.operands);
      chain->attrs().set("swapped", prog.swapped);
      chain->fused_from() = origin;
      if (log) log("elementwise-chain-fusion: " + chain->describe() + " now runs " + std::to_string(prog.ops.size()) + " steps");
      return true;
    }
    return false;
  }
};

}  // namespace

std::unique_ptr<Pass> make_elementwise_chain_fusion() { return std::make_unique<ElementwiseChainFusion>(); }

}  // namespace kiln::passes
