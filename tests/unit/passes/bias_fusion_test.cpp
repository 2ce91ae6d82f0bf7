#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

TEST(BiasFusion, MatMulPlusConstantBecomesFusedMatMulWithBias) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 3, 4});
  add_initializer(g, "W", {4, 5});
  add_initializer(g, "b", {5});
  add_node(g, "MatMul", {"X", "W"}, {"mm"});
  add_node(g, "Add", {"b", "mm"}, {"Y"});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"bias-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(op_types(*r.before.graph), (std::vector<std::string>{"MatMul", "Add"}));
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"kiln::FusedMatMul"}));
  EXPECT_EQ(r.after.graph->nodes()[0]->fused_from().size(), 2u);
}

TEST(BiasFusion, ConvPlusPerChannelConstantFoldsIntoConvBias) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {1, 2, 5, 5});
  add_initializer(g, "W", {3, 2, 3, 3});
  add_initializer(g, "B", {3});
  add_initializer(g, "c", {1, 3, 1, 1});
  add_node(g, "Conv", {"X", "W", "B"}, {"conv"});
  add_node(g, "Add", {"conv", "c"}, {"Y"});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"bias-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"Conv"}));
}

TEST(BiasFusion, DeclinesBroadcastsThatAreNotPerChannel) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {1, 2, 3, 3});
  add_initializer(g, "W", {3, 2, 1, 1});
  add_initializer(g, "c", {3});  // broadcasts over the width, not the channels
  add_node(g, "Conv", {"X", "W"}, {"conv"});
  add_node(g, "Add", {"conv", "c"}, {"Y"});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"bias-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(r.after.graph->nodes().size(), 2u);
}

}  // namespace
}  // namespace kiln::testing
