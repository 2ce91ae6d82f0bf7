#include <fstream>

#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

void i64_const(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& v) {
  add_initializer_i64(g, name, {static_cast<int64_t>(v.size())}, v);
}

// ViT's qkv side: the seq-first Transpose before the projection moves below it, next to the
// Reshape that reads the product.
TEST(TransposeMotion, SinksBelowAProductReadByMovementOps) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 3, 8});
  add_initializer(g, "W", {8, 12});
  add_initializer(g, "B", {12});
  i64_const(g, "s", {3, 2, 3, 4});
  attr_ints(add_node(g, "Transpose", {"X"}, {"t"}), "perm", {1, 0, 2});
  add_node(g, "MatMul", {"t", "W"}, {"mm"});
  add_node(g, "Add", {"mm", "B"}, {"a"});
  add_node(g, "Reshape", {"a", "s"}, {"Y"});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"transpose-motion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"MatMul", "Add", "Transpose", "Reshape"}));
}

// ViT's output side: Reshape -> Gemm -> Reshape becomes a product over the leading dims, and
// the batch-first Transpose after it moves above it (next to the attention that absorbs it).
TEST(TransposeMotion, GemmBetweenReshapesBecomesAProductAndTheTransposeRisesAboveIt) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {3, 2, 8});
  add_initializer(g, "W", {5, 8});  // transB
  add_initializer(g, "C", {5});
  i64_const(g, "flat", {6, 8});
  i64_const(g, "back", {3, 2, 5});
  add_node(g, "Reshape", {"X", "flat"}, {"x2"});
  attr_int(add_node(g, "Gemm", {"x2", "W", "C"}, {"y2"}), "transB", 1);
  add_node(g, "Reshape", {"y2", "back"}, {"y3"});
  attr_ints(add_node(g, "Transpose", {"y3"}, {"Y"}), "perm", {1, 0, 2});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"transpose-motion", "dead-node-elimination"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"Reshape", "Transpose", "MatMul", "Add"}));
}

TEST(TransposeMotion, StaysWhenNeitherSideCanTakeIt) {
  // Between a non-movement producer and a product read by a non-movement op.
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 3, 8});
  add_initializer(g, "W", {8, 4});
  add_node(g, "Relu", {"X"}, {"r"});
  attr_ints(add_node(g, "Transpose", {"r"}, {"t"}), "perm", {1, 0, 2});
  add_node(g, "MatMul", {"t", "W"}, {"mm"});
  add_node(g, "Sigmoid", {"mm"}, {"Y"});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"transpose-motion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"Relu", "Transpose", "MatMul", "Sigmoid"}));
}

TEST(TransposeMotion, AttentionAbsorbsATransposeAfterItsHeadMerge) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "Q", {2, 3, 4, 5});
  float_input(m, "KT", {2, 3, 5, 4});
  float_input(m, "V", {2, 3, 4, 5});
  i64_const(g, "merge", {2, 3, 20});
  add_node(g, "MatMul", {"Q", "KT"}, {"s"});
  attr_int(add_node(g, "Softmax", {"s"}, {"p"}), "axis", -1);
  add_node(g, "MatMul", {"p", "V"}, {"y"});
  add_node(g, "Reshape", {"y", "merge"}, {"ym"});
  attr_ints(add_node(g, "Transpose", {"ym"}, {"Y"}), "perm", {1, 0, 2});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"attention-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"kiln::Attention", "Reshape"}));
  EXPECT_EQ(r.after.graph->nodes()[0]->attrs().get_ints("perm_y", {}), (std::vector<int64_t>{1, 0, 2, 3}));
}

// A small ViT encoder attention block in the form torch 2.11 exports torchvision's (seq-first
// Transpose, qkv split through Unsqueeze/Transpose/Squeeze/Gather, q*k scale, Gemm between
// reshapes, batch-first Transpose, residual). With every pass: the product, the attention
// reading q/k/v from it (select_*), and the output projection with the residual; the rest are
// views.
TEST(TransposeMotion, TorchVitAttentionBlockLowersToItsProductsAndAttention) {
  std::ifstream in(std::string(KILN_SOURCE_DIR) + "/tests/unit/passes/models/vit_block_torch211.onnx", std::ios::binary);
  onnx::ModelProto m;
  ASSERT_TRUE(in && m.ParseFromIstream(&in));
  auto r = optimize_and_compare(m);
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(op_types(*r.after.graph),
            (std::vector<std::string>{"MatMul", "Reshape", "Reshape", "Reshape", "kiln::Attention", "Reshape",
                                      "kiln::FusedMatMul"}));
}

}  // namespace
}  // namespace kiln::testing
