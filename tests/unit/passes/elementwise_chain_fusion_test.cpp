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

// HF BERT's dense layer as torch 2.11 exports it: the embeddings' position slice ends at a
// length computed by Shape ops, so every shape below it is known only after constant folding.
// The dense bias and the residual Add must still end up in the product: with every pass, they
// used to become a 2-step chain in the first round, before bias-fusion could check the bias.
TEST(ElementwiseChainFusion, LeavesBiasAndResidualToTheProductWhenShapesComeLate) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 3, 8});
  add_initializer(g, "P", {1, 16, 8});
  add_initializer(g, "W", {8, 8});
  add_initializer(g, "B", {8});
  add_initializer_i64(g, "one", {}, {1});
  add_initializer_i64(g, "axes", {1}, {0});
  add_initializer_i64(g, "zero", {1}, {0});
  add_initializer_i64(g, "axis1", {1}, {1});
  add_node(g, "Shape", {"X"}, {"s"});
  add_node(g, "Gather", {"s", "one"}, {"len"});
  add_node(g, "Unsqueeze", {"len", "axes"}, {"end"});
  add_node(g, "Slice", {"P", "zero", "end", "axis1"}, {"pos"});
  add_node(g, "Add", {"X", "pos"}, {"x"});
  add_node(g, "MatMul", {"x", "W"}, {"mm"});
  add_node(g, "Add", {"B", "mm"}, {"biased"});  // bias on the left, as torch writes it
  add_node(g, "Add", {"biased", "x"}, {"Y"});
  float_output(m, "Y");
  auto r = optimize_and_compare(m);
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "kiln::FusedMatMul"), 1);
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"Add", "kiln::FusedMatMul"}));
}

}  // namespace
}  // namespace kiln::testing
