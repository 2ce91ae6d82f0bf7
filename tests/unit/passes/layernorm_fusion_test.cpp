#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

// The decomposition PyTorch writes for LayerNorm below opset 17.
onnx::ModelProto decomposed(bool use_mul, bool affine) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 3, 8});
  add_initializer_values(g, "two", {}, {2.0f});
  add_initializer_values(g, "eps", {}, {1e-5f});
  add_initializer(g, "gamma", {8}, 0.5f, 1.5f);
  add_initializer(g, "beta", {8});
  attr_ints(add_node(g, "ReduceMean", {"X"}, {"mean"}), "axes", {-1});
  add_node(g, "Sub", {"X", "mean"}, {"d"});
  if (use_mul) add_node(g, "Mul", {"d", "d"}, {"sq"});
  else add_node(g, "Pow", {"d", "two"}, {"sq"});
  attr_ints(add_node(g, "ReduceMean", {"sq"}, {"var"}), "axes", {-1});
  add_node(g, "Add", {"var", "eps"}, {"ve"});
  add_node(g, "Sqrt", {"ve"}, {"s"});
  add_node(g, "Div", {"d", "s"}, {affine ? "n" : "Y"});
  if (affine) {
    add_node(g, "Mul", {"n", "gamma"}, {"ng"});
    add_node(g, "Add", {"ng", "beta"}, {"Y"});
  }
  float_output(m, "Y");
  return m;
}

TEST(LayerNormFusion, RecognizesTheDecomposedForms) {
  for (bool use_mul : {false, true})
    for (bool affine : {false, true}) {
      auto r = optimize_and_compare(decomposed(use_mul, affine), only_passes({"layernorm-fusion"}));
      ASSERT_TRUE(r.after.graph);
      EXPECT_EQ(r.before.graph->nodes().size(), affine ? 9u : 7u);
      ASSERT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"kiln::LayerNorm"}));
      const ir::Node* ln = r.after.graph->nodes()[0].get();
      EXPECT_EQ(ln->fused_from().size(), affine ? 9u : 7u);
      EXPECT_EQ(ln->input(1) != nullptr, affine);
      EXPECT_FLOAT_EQ(ln->attrs().get_float("epsilon", 0), 1e-5f);
    }
}

TEST(LayerNormFusion, DeclinesReductionsOverLeadingAxes) {
  auto m = decomposed(false, false);
  for (auto& n : *m.mutable_graph()->mutable_node())
    if (n.op_type() == "ReduceMean") n.mutable_attribute(0)->set_ints(0, 1);
  auto r = optimize_and_compare(m, only_passes({"layernorm-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(r.after.graph->nodes().size(), 7u);
}

}  // namespace
}  // namespace kiln::testing
