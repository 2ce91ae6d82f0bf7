#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

// A ResNet basic block tail: Relu(Conv2(X) + Conv1(X)).
onnx::ModelProto block() {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {1, 3, 6, 6});
  add_initializer(g, "W1", {4, 3, 1, 1});
  add_initializer(g, "W2", {4, 3, 3, 3});
  add_initializer(g, "B2", {4});
  add_node(g, "Conv", {"X", "W1"}, {"shortcut"});
  attr_ints(add_node(g, "Conv", {"X", "W2", "B2"}, {"main"}), "pads", {1, 1, 1, 1});
  add_node(g, "Add", {"main", "shortcut"}, {"sum"});
  add_node(g, "Relu", {"sum"}, {"Y"});
  float_output(m, "Y");
  return m;
}

TEST(ResidualFusion, AddOfTwoConvsFusesIntoTheLaterOne) {
  auto r = optimize_and_compare(block(), only_passes({"residual-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(r.before.graph->nodes().size(), 4u);
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"Conv", "kiln::FusedConv", "Relu"}));
  const ir::Node* fused = r.after.graph->nodes()[1].get();
  EXPECT_EQ(fused->input(3)->name(), "shortcut");
}

TEST(ResidualFusion, WithActivationFusionTheBlockIsTwoLayers) {
  auto r = optimize_and_compare(block(), only_passes({"residual-fusion", "activation-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"Conv", "kiln::FusedConv"}));
  const ir::Node* fused = r.after.graph->nodes()[1].get();
  EXPECT_EQ(fused->attrs().get_string("activation", ""), "Relu");
  EXPECT_EQ(fused->fused_from().size(), 3u);
}

TEST(ResidualFusion, DeclinesBroadcastingAdds) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 4});
  float_input(m, "Z", {4});
  add_initializer(g, "W", {4, 4});
  add_node(g, "MatMul", {"X", "W"}, {"mm"});
  add_node(g, "Add", {"mm", "Z"}, {"Y"});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"residual-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(r.after.graph->nodes().size(), 2u);
}

}  // namespace
}  // namespace kiln::testing
