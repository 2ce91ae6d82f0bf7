#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

// timm's ViT attention as torch exports it: qkv [B, N, 3C] -> Reshape [B, N, 3, H, D] ->
// Transpose(2, 0, 3, 1, 4) -> unbind(0) (Split + Squeeze, or Gather with scalar indices) ->
// q * scale, q @ k^T, Softmax, @ v, Transpose(0, 2, 1, 3) -> Reshape [B, N, C].
// B = 2, N = 7, H = 4, D = 8.
onnx::ModelProto vit_attention(bool gather_form, int64_t opset = 13) {
  auto m = new_model(opset);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 7, 96});
  add_initializer_i64(g, "s5", {5}, {2, 7, 3, 4, 8});
  add_initializer_i64(g, "s3", {3}, {2, 7, 32});
  add_initializer_values(g, "sc", {}, {0.35355339f});
  add_node(g, "Reshape", {"X", "s5"}, {"x5"});
  attr_ints(add_node(g, "Transpose", {"x5"}, {"t"}), "perm", {2, 0, 3, 1, 4});
  if (gather_form) {
    for (int i = 0; i < 3; ++i) {
      std::string idx = "i" + std::to_string(i);
      add_initializer_i64(g, idx, {}, {i});
      add_node(g, "Gather", {"t", idx}, {std::string("qkv")[i] + std::string("h")});
    }
  } else {
    add_initializer_i64(g, "ones", {3}, {1, 1, 1});
    add_initializer_i64(g, "ax0", {1}, {0});
    add_node(g, "Split", {"t", "ones"}, {"p0", "p1", "p2"});
    for (int i = 0; i < 3; ++i)
      add_node(g, "Squeeze", {"p" + std::to_string(i), "ax0"}, {std::string("qkv")[i] + std::string("h")});
  }
  add_node(g, "Mul", {"qh", "sc"}, {"qs"});
  attr_ints(add_node(g, "Transpose", {"kh"}, {"kt"}), "perm", {0, 1, 3, 2});
  add_node(g, "MatMul", {"qs", "kt"}, {"a"});
  attr_int(add_node(g, "Softmax", {"a"}, {"p"}), "axis", -1);
  add_node(g, "MatMul", {"p", "vh"}, {"o"});
  attr_ints(add_node(g, "Transpose", {"o"}, {"ot"}), "perm", {0, 2, 1, 3});
  add_node(g, "Reshape", {"ot", "s3"}, {"Y"});
  float_output(m, "Y");
  return m;
}

TEST(UnbindPushdown, SplitSqueezeBecomesGathers) {
  auto r = optimize_and_compare(vit_attention(false), only_passes({"unbind-pushdown"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "Split"), 0);
  EXPECT_EQ(count_op(*r.after.graph, "Squeeze"), 0);
  EXPECT_EQ(count_op(*r.after.graph, "Gather"), 3);
  for (const auto& n : r.after.graph->nodes())
    if (n->op_type() == "Gather") {
      EXPECT_EQ(n->attrs().get_int("axis", -1), 2);
    }
}

TEST(UnbindPushdown, GatherFormToo) {
  auto r = optimize_and_compare(vit_attention(true), only_passes({"unbind-pushdown"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "Gather"), 3);
  // The 5-D transpose is gone; each slice has its own 4-D Transpose(0, 2, 1, 3).
  for (const auto& n : r.after.graph->nodes())
    if (n->op_type() == "Transpose" && n->input(0)->name().find("gathered") != std::string::npos) {
      EXPECT_EQ(n->attrs().get_ints("perm", {}), (std::vector<int64_t>{0, 2, 1, 3}));
    }
}

TEST(UnbindPushdown, WholeVitAttentionHasNoTransposeLeft) {
  for (bool gather : {false, true}) {
    auto r = optimize_and_compare(vit_attention(gather));
    ASSERT_TRUE(r.after.graph);
    EXPECT_EQ(count_op(*r.after.graph, "Transpose"), 0) << gather;
    EXPECT_EQ(count_op(*r.after.graph, "kiln::Attention"), 1) << gather;
    EXPECT_EQ(count_op(*r.after.graph, "Mul"), 0) << gather;  // q's scale went into the attention
  }
}

TEST(UnbindPushdown, DeclinesWhenTheTransposeIsAlsoRead) {
  auto m = vit_attention(false);
  float_output(m, "t");
  auto r = optimize_and_compare(m, only_passes({"unbind-pushdown"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "Split"), 1);
}

}  // namespace
}  // namespace kiln::testing
