#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

TEST(ElementwiseChainFusion, ARunOfElementwiseOpsBecomesOneProgram) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 3, 4});
  float_input(m, "B", {4});
  add_initializer_values(g, "two", {}, {2.0f});
  add_node(g, "Add", {"X", "B"}, {"a"});
  add_node(g, "Sigmoid", {"a"}, {"s"});
  add_node(g, "Sub", {"two", "s"}, {"d"});  // operand on the left
  add_node(g, "Mul", {"d", "B"}, {"e"});    // B is reused: one input
  add_node(g, "Tanh", {"e"}, {"Y"});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"elementwise-chain-fusion"}), 1e-5, 1e-7);
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(r.before.graph->nodes().size(), 5u);
  ASSERT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"kiln::ElementwiseChain"}));
  const ir::Node* c = r.after.graph->nodes()[0].get();
  EXPECT_EQ(c->attrs().get_strings("ops"), (std::vector<std::string>{"Add", "Sigmoid", "Sub", "Mul", "Tanh"}));
  EXPECT_EQ(c->attrs().get_ints("operands"), (std::vector<int64_t>{1, -1, 2, 1, -1}));
  EXPECT_EQ(c->attrs().get_ints("swapped"), (std::vector<int64_t>{0, 0, 1, 0, 0}));
  EXPECT_EQ(c->num_inputs(), 3u);
  EXPECT_EQ(c->fused_from().size(), 5u);
}

TEST(ElementwiseChainFusion, StopsAtValuesReadTwice) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {4});
  add_node(g, "Relu", {"X"}, {"r"});
  add_node(g, "Exp", {"r"}, {"Y"});
  add_node(g, "Neg", {"r"}, {"Z"});
  float_output(m, "Y");
  float_output(m, "Z");
  auto r = optimize_and_compare(m, only_passes({"elementwise-chain-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(r.after.graph->nodes().size(), 3u);
}

}  // namespace
}  // namespace kiln::testing
