#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

// ResNet's projection block end: Relu(BN(conv3(X1)) + BN(downsample(X2))), both 1x1, the
// downsample with `stride`. X1 [2, c1, 4, 4] (the block's narrow width), X2 [2, c2, 4s, 4s].
onnx::ModelProto projection_block(int64_t c1, int64_t c2, int64_t k, int64_t stride) {
  auto m = new_model(17);
  auto* g = m.mutable_graph();
  float_input(m, "X1", {2, c1, 4, 4});
  float_input(m, "X2", {2, c2, 4 * stride, 4 * stride});
  add_initializer(g, "W3", {k, c1, 1, 1});
  add_initializer(g, "Wd", {k, c2, 1, 1});
  for (const std::string bn : {"bn3", "bnd"}) {
    add_initializer(g, bn + "_scale", {k}, 0.5f, 1.5f);
    add_initializer(g, bn + "_bias", {k});
    add_initializer(g, bn + "_mean", {k});
    add_initializer(g, bn + "_var", {k}, 0.5f, 1.5f);
  }
  add_node(g, "Conv", {"X1", "W3"}, {"c3"});
  attr_ints(add_node(g, "Conv", {"X2", "Wd"}, {"cd"}), "strides", {stride, stride});
  add_node(g, "BatchNormalization", {"c3", "bn3_scale", "bn3_bias", "bn3_mean", "bn3_var"}, {"b3"});
  add_node(g, "BatchNormalization", {"cd", "bnd_scale", "bnd_bias", "bnd_mean", "bnd_var"}, {"bd"});
  add_node(g, "Add", {"b3", "bd"}, {"s"});
  add_node(g, "Relu", {"s"}, {"Y"});
  float_output(m, "Y");
  return m;
}

int convolutions(const ir::Graph& g) { return count_op(g, "Conv") + count_op(g, "kiln::FusedConv"); }

TEST(ConvAddMerge, UnstridedProjectionIsOneConvolution) {
  auto r = optimize_and_compare(projection_block(4, 4, 16, 1));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(convolutions(*r.after.graph), 1);
  EXPECT_EQ(count_op(*r.after.graph, "Concat"), 1);
  EXPECT_EQ(count_op(*r.after.graph, "Slice"), 0);
  EXPECT_EQ(count_op(*r.after.graph, "Add"), 0);
}

TEST(ConvAddMerge, StridedProjectionSamplesItsInput) {
  auto r = optimize_and_compare(projection_block(4, 8, 16, 2));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(convolutions(*r.after.graph), 1);
  EXPECT_EQ(count_op(*r.after.graph, "kiln::SampledConcat"), 1);
  EXPECT_EQ(count_op(*r.after.graph, "Concat"), 0);
  // The merged convolution reads 4 + 8 channels and applies the Relu itself.
  EXPECT_EQ(count_op(*r.after.graph, "kiln::FusedConv"), 1);
  for (const auto& n : r.after.graph->nodes())
    if (n->op_type() == "FusedConv") {
      EXPECT_EQ(n->input(1)->type().shape->static_dims(), (std::vector<int64_t>{16, 12, 1, 1}));
      EXPECT_EQ(n->attrs().get_string("activation", ""), "Relu");
    }
}

TEST(ConvAddMerge, DeclinesWhenTheInputsAreWiderThanTheOutput) {
  auto r = optimize_and_compare(projection_block(8, 8, 16, 1));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(convolutions(*r.after.graph), 2);
  EXPECT_EQ(count_op(*r.after.graph, "Concat"), 0);
}

}  // namespace
}  // namespace kiln::testing
