#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

// P(X, W[, B]) -> BatchNormalization with `channels` channels.
void add_bn(onnx::GraphProto* g, const std::string& in, const std::string& out, int64_t channels) {
  add_initializer(g, "gamma", {channels}, 0.5f, 1.5f);
  add_initializer(g, "beta", {channels});
  add_initializer(g, "mean", {channels});
  add_initializer(g, "var", {channels}, 0.1f, 2.0f);
  attr_float(add_node(g, "BatchNormalization", {in, "gamma", "beta", "mean", "var"}, {out}), "epsilon", 1e-3f);
}

TEST(BatchNormFolding, FoldsIntoConvWithAndWithoutBias) {
  for (bool with_bias : {false, true}) {
    auto m = new_model(15);
    auto* g = m.mutable_graph();
    float_input(m, "X", {2, 3, 6, 6});
    add_initializer(g, "W", {4, 3, 3, 3});
    add_initializer(g, "B", {4});
    std::vector<std::string> ins{"X", "W"};
    if (with_bias) ins.push_back("B");
    attr_ints(add_node(g, "Conv", ins, {"c"}), "pads", {1, 1, 1, 1});
    add_bn(g, "c", "Y", 4);
    float_output(m, "Y");
    auto r = optimize_and_compare(m, only_passes({"batchnorm-folding"}));
    ASSERT_TRUE(r.after.graph);
    EXPECT_EQ(op_types(*r.before.graph), (std::vector<std::string>{"Conv", "BatchNormalization"}));
    EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"Conv"}));
    EXPECT_EQ(r.after.graph->nodes()[0]->fused_from().size(), 2u);
  }
}

TEST(BatchNormFolding, FoldsIntoGroupedConvTranspose) {
  auto m = new_model(15);
  auto* g = m.mutable_graph();
  float_input(m, "X", {1, 4, 5, 5});
  add_initializer(g, "W", {4, 3, 3, 3});  // C_in 4, group 2 -> 6 output channels
  auto* ct = add_node(g, "ConvTranspose", {"X", "W"}, {"c"});
  attr_int(ct, "group", 2);
  attr_ints(ct, "strides", {2, 2});
  add_bn(g, "c", "Y", 6);
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"batchnorm-folding"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"ConvTranspose"}));
}

TEST(BatchNormFolding, FoldsIntoGemmAndMatMul) {
  for (bool trans_b : {false, true}) {
    auto m = new_model(15);
    auto* g = m.mutable_graph();
    float_input(m, "X", {3, 5});
    add_initializer(g, "W", trans_b ? std::vector<int64_t>{4, 5} : std::vector<int64_t>{5, 4});
    add_initializer(g, "C", {4});
    auto* gemm = add_node(g, "Gemm", {"X", "W", "C"}, {"c"});
    attr_int(gemm, "transB", trans_b);
    attr_float(gemm, "alpha", 0.7f);
    attr_float(gemm, "beta", 1.3f);
    add_bn(g, "c", "Y", 4);
    float_output(m, "Y");
    auto r = optimize_and_compare(m, only_passes({"batchnorm-folding"}));
    ASSERT_TRUE(r.after.graph);
    EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"Gemm"}));
  }
  auto m = new_model(15);
  auto* g = m.mutable_graph();
  float_input(m, "X", {3, 5});
  add_initializer(g, "W", {5, 4});
  add_node(g, "MatMul", {"X", "W"}, {"c"});
  add_bn(g, "c", "Y", 4);
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"batchnorm-folding"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"kiln::FusedMatMul"}));
}

TEST(BatchNormFolding, DeclinesWhenTheConvOutputIsAlsoRead) {
  auto m = new_model(15);
  auto* g = m.mutable_graph();
  float_input(m, "X", {1, 2, 4, 4});
  add_initializer(g, "W", {2, 2, 1, 1});
  add_node(g, "Conv", {"X", "W"}, {"c"});
  add_bn(g, "c", "Y", 2);
  add_node(g, "Relu", {"c"}, {"Z"});
  float_output(m, "Y");
  float_output(m, "Z");
  auto r = optimize_and_compare(m, only_passes({"batchnorm-folding"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "BatchNormalization"), 1);
}

}  // namespace
}  // namespace kiln::testing
