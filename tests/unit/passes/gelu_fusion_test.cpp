#include <cmath>

#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

// X[2,8] @ W -> h, then GELU of h written out as exporters do.
onnx::ModelProto erf_gelu(int tail) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 8});
  add_initializer(g, "W", {8, 6}, -2.0f, 2.0f);
  add_initializer_values(g, "sqrt2", {}, {1.4142135f});
  add_initializer_values(g, "one", {}, {1.0f});
  add_initializer_values(g, "half", {}, {0.5f});
  add_node(g, "MatMul", {"X", "W"}, {"h"});
  add_node(g, "Div", {"h", "sqrt2"}, {"d"});
  add_node(g, "Erf", {"d"}, {"e"});
  add_node(g, "Add", {"e", "one"}, {"a"});
  if (tail == 0) {
    add_node(g, "Mul", {"h", "a"}, {"m"});
    add_node(g, "Mul", {"m", "half"}, {"Y"});
  } else {
    add_node(g, "Mul", {"h", "half"}, {"hh"});
    add_node(g, "Mul", {"hh", "a"}, {"Y"});
  }
  float_output(m, "Y");
  return m;
}

TEST(GeluFusion, ErfFormInBothProductOrders) {
  for (int tail : {0, 1}) {
    auto r = optimize_and_compare(erf_gelu(tail), only_passes({"gelu-fusion"}));
    ASSERT_TRUE(r.after.graph);
    EXPECT_EQ(r.before.graph->nodes().size(), 6u);
    EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"MatMul", "kiln::Gelu"}));
    EXPECT_EQ(r.after.graph->nodes()[1]->fused_from().size(), 5u);
  }
}

TEST(GeluFusion, ThenActivationFusionMakesOneMatMul) {
  auto r = optimize_and_compare(erf_gelu(0));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"kiln::FusedMatMul"}));
  EXPECT_EQ(r.after.graph->nodes()[0]->attrs().get_string("activation", ""), "Gelu");
}

TEST(GeluFusion, TanhForm) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {3, 5});
  add_initializer_values(g, "three", {}, {3.0f});
  add_initializer_values(g, "c", {}, {0.044715f});
  add_initializer_values(g, "k", {}, {static_cast<float>(std::sqrt(2.0 / M_PI))});
  add_initializer_values(g, "one", {}, {1.0f});
  add_initializer_values(g, "half", {}, {0.5f});
  add_node(g, "Pow", {"X", "three"}, {"p"});
  add_node(g, "Mul", {"c", "p"}, {"cp"});
  add_node(g, "Add", {"X", "cp"}, {"in"});
  add_node(g, "Mul", {"in", "k"}, {"kin"});
  add_node(g, "Tanh", {"kin"}, {"t"});
  add_node(g, "Add", {"one", "t"}, {"a"});
  add_node(g, "Mul", {"a", "half"}, {"ah"});
  add_node(g, "Mul", {"X", "ah"}, {"Y"});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"gelu-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"kiln::Gelu"}));
  EXPECT_EQ(r.after.graph->nodes()[0]->attrs().get_string("approximate", ""), "tanh");
}

TEST(GeluFusion, DeclinesWrongConstants) {
  auto m = erf_gelu(0);
  m.mutable_graph()->mutable_initializer(1)->set_float_data(0, 1.5f);  // not sqrt(2)
  auto r = optimize_and_compare(m, only_passes({"gelu-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(r.after.graph->nodes().size(), 6u);
}

}  // namespace
}  // namespace kiln::testing
