#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

// softmax(Q K^T / sqrt(d) + mask) V with Q, K, V [2, 4, 6, 8] (batch, heads, seq, dim).
onnx::ModelProto attention(bool with_mask, bool scale_by_mul) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "Q", {2, 4, 6, 8});
  float_input(m, "K", {2, 4, 6, 8});
  float_input(m, "V", {2, 4, 6, 8});
  if (with_mask) float_input(m, "M", {2, 1, 1, 6});
  add_initializer_values(g, "c", {}, {scale_by_mul ? 0.35355339f : 2.8284271f});
  attr_ints(add_node(g, "Transpose", {"K"}, {"KT"}), "perm", {0, 1, 3, 2});
  add_node(g, "MatMul", {"Q", "KT"}, {"qk"});
  add_node(g, scale_by_mul ? "Mul" : "Div", {"qk", "c"}, {"s"});
  if (with_mask) add_node(g, "Add", {"s", "M"}, {"sm"});
  attr_int(add_node(g, "Softmax", {with_mask ? "sm" : "s"}, {"p"}), "axis", -1);
  add_node(g, "MatMul", {"p", "V"}, {"Y"});
  float_output(m, "Y");
  return m;
}

TEST(AttentionFusion, ScaleMaskSoftmaxBecomesOneNode) {
  for (bool mask : {false, true})
    for (bool mul : {false, true}) {
      auto r = optimize_and_compare(attention(mask, mul), only_passes({"attention-fusion"}));
      ASSERT_TRUE(r.after.graph);
      EXPECT_EQ(r.before.graph->nodes().size(), mask ? 6u : 5u);
      ASSERT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"Transpose", "kiln::Attention"}));
      const ir::Node* a = r.after.graph->nodes()[1].get();
      EXPECT_EQ(a->num_inputs(), mask ? 4u : 3u);
      EXPECT_NEAR(a->attrs().get_float("scale", 0), 0.35355339f, 1e-6);
      EXPECT_EQ(a->fused_from().size(), mask ? 5u : 4u);
    }
}

TEST(AttentionFusion, DeclinesWhenScoresAreAlsoRead) {
  auto m = attention(false, false);
  float_output(m, "s");
  auto r = optimize_and_compare(m, only_passes({"attention-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "Softmax"), 1);
}

}  // namespace
}  // namespace kiln::testing
