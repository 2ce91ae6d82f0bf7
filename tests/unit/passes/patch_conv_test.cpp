#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

onnx::ModelProto patch_conv(std::vector<int64_t> x_dims, std::vector<int64_t> strides, std::vector<int64_t> pads,
                            bool bias) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", x_dims);
  add_initializer(g, "W", {5, x_dims[1], 4, 2});
  std::vector<std::string> in = {"X", "W"};
  if (bias) {
    add_initializer(g, "B", {5});
    in.push_back("B");
  }
  auto* conv = add_node(g, "Conv", in, {"Y"});
  attr_ints(conv, "kernel_shape", {4, 2});
  attr_ints(conv, "strides", strides);
  attr_ints(conv, "pads", pads);
  float_output(m, "Y");
  return m;
}

TEST(PatchConv, KernelEqualToStrideBecomesTransposeAndProduct) {
  auto r = optimize_and_compare(patch_conv({2, 3, 8, 6}, {4, 2}, {0, 0, 0, 0}, true), only_passes({"patch-conv"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "Conv"), 0);
  EXPECT_EQ(count_op(*r.after.graph, "MatMul"), 1);
  EXPECT_EQ(count_op(*r.after.graph, "Add"), 1);
}

// From a channels-last input (--input-layout nhwc's Transpose): the patches come from the NHWC
// source with one Transpose, no copy to NCHW first.
TEST(PatchConv, ChannelsLastSourceNeedsOnePatchCopy) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "S", {2, 8, 6, 3});
  add_initializer(g, "W", {5, 3, 4, 2});
  add_initializer(g, "B", {5});
  attr_ints(add_node(g, "Transpose", {"S"}, {"X"}), "perm", {0, 3, 1, 2});
  auto* conv = add_node(g, "Conv", {"X", "W", "B"}, {"Y"});
  attr_ints(conv, "kernel_shape", {4, 2});
  attr_ints(conv, "strides", {4, 2});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"patch-conv", "dead-node-elimination"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "Conv"), 0);
  EXPECT_EQ(count_op(*r.after.graph, "Transpose"), 2);  // the patches, and the output back to NCHW
  const ir::Node* first = r.after.graph->nodes()[0].get();
  EXPECT_EQ(first->op_type(), "Reshape");
  EXPECT_EQ(first->input(0)->name(), "S");
}

TEST(PatchConv, WithEveryPassTheBiasJoinsTheProduct) {
  auto r = optimize_and_compare(patch_conv({2, 3, 8, 6}, {4, 2}, {0, 0, 0, 0}, true));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "kiln::FusedMatMul"), 1);
  EXPECT_EQ(count_op(*r.after.graph, "Conv"), 0);
}

TEST(PatchConv, LeavesOverlappingPaddedOrRaggedConvolutions) {
  for (auto m : {patch_conv({2, 3, 8, 6}, {2, 2}, {0, 0, 0, 0}, false),   // windows overlap
                 patch_conv({2, 3, 8, 6}, {4, 2}, {1, 0, 1, 0}, false),   // padded
                 patch_conv({2, 3, 9, 6}, {4, 2}, {0, 0, 0, 0}, false)}) {  // a ragged last row
    auto r = optimize_and_compare(m, only_passes({"patch-conv"}));
    ASSERT_TRUE(r.after.graph);
    EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"Conv"}));
  }
}

}  // namespace
}  // namespace kiln::testing
