// Constant folding: a node whose inputs are all known at build time is evaluated once with the
// reference CPU kernel and replaced by its result. Shape/Size of a value with a static shape
// become constants first, so whole shape-computation chains (Shape -> Gather -> Unsqueeze ->
// Concat -> Reshape) fold away.
#include <set>

#include "ops/registry.h"
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

// Results above this stay computed at run time rather than bloating the engine's weights.
constexpr int64_t kMaxFoldedBytes = 16 << 20;

bool is_random(const ir::Node& n) {
  static const std::set<std::string> kRandom = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                                "RandomUniformLike", "Multinomial", "Bernoulli"};
  return n.domain().empty() && kRandom.count(n.op_type());
}

bool has_subgraph(const ir::Node& n) {
  for (const auto& [name, attr] : n.attrs().all())
    if (std::holds_alternative<std::shared_ptr<ir::Graph>>(attr) ||
        std::holds_alternative<std::vector<std::shared_ptr<ir::Graph>>>(attr))
      return true;
  return false;
}

bool is_shape_of_static(const ir::Node& n) {
  return n.domain().empty() && (n.op_type() == "Shape" || n.op_type() == "Size") && n.input(0) &&
         n.input(0)->type().has_static_shape();
}

class ConstantFolding : public Pass {
 public:
  const char* name() const override { return "constant-folding"; }

  bool matches(const ir::Graph& g, const ir::Node& n) const override {
    if (is_random(n) || has_subgraph(n) || n.num_outputs() == 0) return false;
    for (const ir::Value* out : n.outputs())
      if (out && is_graph_output(g, out)) return false;  // graph outputs keep a producer
    if (is_shape_of_static(n)) return true;
    for (const ir::Value* in : n.inputs())
      if (in && !in->is_constant()) return false;
    return true;
  }

  bool rewrite(ir::Graph& g, ir::Node& n, const PassLog& log) override {
    const auto& registry = ops::OpRegistry::global();
    const ops::OpSchema* schema = registry.find(n.domain(), n.op_type());
    if (!schema || !schema->cpu) return false;
    auto version = registry.resolve(n, g.opset(n.domain()));
    if (!version.is_ok()) return false;
    for (const ir::Value* out : n.outputs())
      if (out && out->type().has_static_shape()) {
        auto count = checked_element_count(out->type().shape->static_dims());
        if (!count || *count * 8 > kMaxFoldedBytes) return false;
      }

    std::vector<RuntimeValue> storage;
    storage.reserve(n.num_inputs());
    std::vector<const RuntimeValue*> inputs;
    if (is_shape_of_static(n)) {
      // Shape and Size read only dims: a data-less view stands in for the value.
      storage.emplace_back(Tensor::view(DataType::kUInt8, n.input(0)->type().shape->static_dims(), nullptr));
      inputs.push_back(&storage.back());
    } else {
      for (const ir::Value* in : n.inputs()) {
        if (!in) {
          inputs.push_back(nullptr);
          continue;
        }
        storage.emplace_back(in->constant());
        inputs.push_back(&storage.back());
      }
    }
    ops::KernelContext ctx(n, version.value(), inputs, [](const ir::Graph&, const std::vector<RuntimeValue>&)
                                                           -> std::vector<RuntimeValue> {
      throw Error(StatusCode::kUnsupported, "subgraphs are not folded");
    });
    try {
      schema->cpu(ctx);
    } catch (const Error&) {
      return false;  // leave it to run time, where the error (if real) names the inputs
    }
    for (size_t i = 0; i < n.num_outputs(); ++i) {
      if (!n.output(i)) continue;
      const RuntimeValue& r = ctx.outputs()[i];
      if (!r.is_tensor() || r.tensor().dtype() == DataType::kString ||
          static_cast<int64_t>(r.tensor().nbytes()) > kMaxFoldedBytes)
        return false;
    }
    std::string what = n.describe();
    std::vector<ir::Value*> outs = n.outputs();
    g.remove_node(&n);
    for (size_t i = 0; i < outs.size(); ++i) {
      if (!outs[i]) continue;
      const Tensor& t = ctx.outputs()[i].tensor();
      outs[i]->set_constant(std::make_shared<const Tensor>(t));
      outs[i]->type() = ir::ValueType::tensor(t.dtype(), Shape::from_dims(t.dims()));
    }
    if (log) log("constant-folding: folded " + what);
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_constant_folding() { return std::make_unique<ConstantFolding>(); }

}  // namespace kiln::passes
