#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

TEST(DeadNodeElimination, RemovesUnreadChains) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {3, 4});
  add_node(g, "Relu", {"X"}, {"Y"});
  add_node(g, "Sigmoid", {"X"}, {"dead1"});
  add_node(g, "Tanh", {"dead1"}, {"dead2"});
  add_node(g, "Add", {"dead2", "Y"}, {"dead3"});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"dead-node-elimination"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(r.before.graph->nodes().size(), 4u);
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"Relu"}));
  EXPECT_EQ(r.after.graph->find_value("dead2"), nullptr);  // unused values are dropped too
}

}  // namespace
}  // namespace kiln::testing
