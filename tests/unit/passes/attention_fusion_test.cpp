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
      // The key's Transpose is absorbed as perm_kt.
      ASSERT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"kiln::Attention"}));
      const ir::Node* a = r.after.graph->nodes()[0].get();
      EXPECT_EQ(a->num_inputs(), mask ? 4u : 3u);
      EXPECT_NEAR(a->attrs().get_float("scale", 0), 0.35355339f, 1e-6);
      EXPECT_EQ(a->attrs().get_ints("perm_kt", {}), (std::vector<int64_t>{0, 1, 3, 2}));
      EXPECT_EQ(a->input(1)->name(), "K");
      EXPECT_EQ(a->fused_from().size(), mask ? 6u : 5u);
    }
}

TEST(AttentionFusion, DeclinesWhenScoresAreAlsoRead) {
  auto m = attention(false, false);
  float_output(m, "s");
  auto r = optimize_and_compare(m, only_passes({"attention-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "Softmax"), 1);
}

// One self-attention layer as transformers' BertSelfAttention (eager) exports it: per-head
// Reshape -> Transpose(0,2,1,3) of Q, K, V, the key's Transpose(0,1,3,2), Div by sqrt(d), the
// extended mask (1 - mask[:, None, None, :]) * -10000 added to the scores, the head merge
// Transpose(0,2,1,3) -> Reshape. Without an attention_mask input, BertModel builds the mask
// from ones (ConstantOfShape), so after folding it is an all-zero (-0.0) [B, 1, 1, S] constant.
// B = 2, S = 6, H = 2, D = 8.
onnx::ModelProto bert_layer(bool real_mask) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 6, 16});
  if (real_mask) float_input(m, "M", {2, 6});
  for (const char* w : {"Wq", "Wk", "Wv"}) add_initializer(g, w, {16, 16});
  add_initializer_values(g, "c8", {}, {8.0f});
  add_initializer_values(g, "one", {}, {1.0f});
  add_initializer_values(g, "big", {}, {-10000.0f});
  add_initializer_i64(g, "st", {1}, {0});
  add_initializer_i64(g, "en", {1}, {2});
  add_initializer_i64(g, "hd", {2}, {2, 8});
  add_initializer_i64(g, "hid", {1}, {16});
  add_initializer_i64(g, "ax1", {1}, {1});
  add_initializer_i64(g, "ax2", {1}, {2});
  add_node(g, "Shape", {"X"}, {"xs"});
  add_node(g, "Slice", {"xs", "st", "en"}, {"bs"});
  attr_int(add_node(g, "Concat", {"bs", "hd"}, {"qshape"}), "axis", 0);
  attr_int(add_node(g, "Concat", {"bs", "hid"}, {"oshape"}), "axis", 0);
  for (std::string n : {"q", "k", "v"}) {
    std::string w = n == "q" ? "Wq" : n == "k" ? "Wk" : "Wv";
    add_node(g, "MatMul", {"X", w}, {n + "0"});
    add_node(g, "Reshape", {n + "0", "qshape"}, {n + "1"});
    attr_ints(add_node(g, "Transpose", {n + "1"}, {n + "2"}), "perm", {0, 2, 1, 3});
  }
  attr_ints(add_node(g, "Transpose", {"k2"}, {"kt"}), "perm", {0, 1, 3, 2});
  add_node(g, "MatMul", {"q2", "kt"}, {"qk"});
  add_node(g, "Div", {"qk", "c8"}, {"s"});
  if (!real_mask) {
    add_node(g, "ConstantOfShape", {"bs"}, {"zeros"});
    add_node(g, "Add", {"zeros", "one"}, {"M"});
  }
  add_node(g, "Unsqueeze", {"M", "ax1"}, {"m1"});
  add_node(g, "Unsqueeze", {"m1", "ax2"}, {"m2"});
  add_node(g, "Sub", {"one", "m2"}, {"m3"});
  add_node(g, "Mul", {"m3", "big"}, {"ext"});
  add_node(g, "Add", {"s", "ext"}, {"sm"});
  attr_int(add_node(g, "Softmax", {"sm"}, {"p"}), "axis", -1);
  add_node(g, "MatMul", {"p", "v2"}, {"ctx"});
  attr_ints(add_node(g, "Transpose", {"ctx"}, {"ct"}), "perm", {0, 2, 1, 3});
  add_node(g, "Reshape", {"ct", "oshape"}, {"Y"});
  float_output(m, "Y");
  return m;
}

const ir::Node* find_op(const ir::Graph& g, const std::string& type) {
  for (const auto& n : g.nodes())
    if ((n->domain().empty() ? n->op_type() : n->domain() + "::" + n->op_type()) == type) return n.get();
  return nullptr;
}

TEST(AttentionFusion, HfBertWithoutMaskInputFusesAndAbsorbsTransposes) {
  auto r = optimize_and_compare(bert_layer(false));
  ASSERT_TRUE(r.after.graph);
  const ir::Node* a = find_op(*r.after.graph, "kiln::Attention");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->num_inputs(), 3u);  // the all-zero mask is gone
  EXPECT_EQ(count_op(*r.after.graph, "Transpose"), 0);
  EXPECT_EQ(count_op(*r.after.graph, "kiln::ElementwiseChain"), 0);
  EXPECT_EQ(a->attrs().get_ints("perm_q", {}), (std::vector<int64_t>{0, 2, 1, 3}));
  EXPECT_EQ(a->attrs().get_ints("perm_kt", {}), (std::vector<int64_t>{0, 2, 3, 1}));
  EXPECT_EQ(a->attrs().get_ints("perm_v", {}), (std::vector<int64_t>{0, 2, 1, 3}));
  EXPECT_EQ(a->attrs().get_ints("perm_y", {}), (std::vector<int64_t>{0, 2, 1, 3}));
  EXPECT_NEAR(a->attrs().get_float("scale", 0), 0.125f, 1e-7);
}

TEST(AttentionFusion, HfBertRealMaskIsTakenByAttentionNotTheChain) {
  auto r = optimize_and_compare(bert_layer(true));
  ASSERT_TRUE(r.after.graph);
  const ir::Node* a = find_op(*r.after.graph, "kiln::Attention");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->num_inputs(), 4u);
  ASSERT_TRUE(a->input(3)->type().shape);
  EXPECT_EQ(a->input(3)->type().shape->static_dims(), (std::vector<int64_t>{2, 1, 1, 6}));
  EXPECT_EQ(count_op(*r.after.graph, "Transpose"), 0);
  EXPECT_EQ(count_op(*r.after.graph, "Softmax"), 0);
}

TEST(AttentionFusion, TransposeReadByOthersStays) {
  auto m = attention(false, false);
  float_output(m, "KT");
  auto r = optimize_and_compare(m, only_passes({"attention-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "Transpose"), 1);
  const ir::Node* a = find_op(*r.after.graph, "kiln::Attention");
  ASSERT_NE(a, nullptr);
  EXPECT_FALSE(a->attrs().has("perm_kt"));
}

// timm / torch SDPA style: q (and k^T) scaled before the MatMul, no scale after it.
TEST(AttentionFusion, ScalingOfQAndKIsAbsorbed) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "Q", {2, 4, 6, 8});
  float_input(m, "K", {2, 4, 6, 8});
  float_input(m, "V", {2, 4, 6, 8});
  add_initializer_values(g, "sq", {}, {0.5f});
  add_initializer_values(g, "two", {1}, {2.0f});
  add_node(g, "Mul", {"sq", "Q"}, {"qs"});
  attr_ints(add_node(g, "Transpose", {"K"}, {"KT"}), "perm", {0, 1, 3, 2});
  add_node(g, "Div", {"KT", "two"}, {"kts"});
  add_node(g, "MatMul", {"qs", "kts"}, {"qk"});
  attr_int(add_node(g, "Softmax", {"qk"}, {"p"}), "axis", -1);
  add_node(g, "MatMul", {"p", "V"}, {"Y"});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"attention-fusion"}));
  ASSERT_TRUE(r.after.graph);
  ASSERT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"kiln::Attention"}));
  const ir::Node* a = r.after.graph->nodes()[0].get();
  EXPECT_NEAR(a->attrs().get_float("scale", 0), 0.25f, 1e-7);
  EXPECT_EQ(a->input(0)->name(), "Q");
  EXPECT_EQ(a->input(1)->name(), "K");
}

TEST(AttentionFusion, AllZeroMaskOfAnAttentionIsDropped) {
  // The mask becomes a zero constant only after attention-fusion took it: the neutral-element
  // pass drops it from the kiln::Attention.
  auto m = attention(false, false);
  auto* g = m.mutable_graph();
  add_initializer_values(g, "Z", {1, 1, 1, 6}, std::vector<float>(6, -0.0f));
  for (auto& n : *g->mutable_node())
    if (n.op_type() == "Softmax") n.set_input(0, "sz");
  add_node(g, "Add", {"s", "Z"}, {"sz"});
  auto r = optimize_and_compare(m, only_passes({"attention-fusion"}));
  ASSERT_TRUE(r.after.graph);
  const ir::Node* a = find_op(*r.after.graph, "kiln::Attention");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->num_inputs(), 4u);
  passes::PassOptions o = only_passes({"neutral-element-elimination"});
  ASSERT_TRUE(passes::optimize(*r.after.graph, o).is_ok());
  a = find_op(*r.after.graph, "kiln::Attention");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->num_inputs(), 3u);
  auto inputs = io::random_inputs(*r.before.graph, 99);
  ASSERT_TRUE(inputs.is_ok());
  auto want = cpu::Interpreter::create(r.before.graph).value()->run(*inputs);
  auto got = cpu::Interpreter::create(r.after.graph).value()->run(*inputs);
  ASSERT_TRUE(want.is_ok() && got.is_ok());
  auto c = io::compare_values((*want)[0], (*got)[0], 1e-5, 1e-6);
  EXPECT_TRUE(c.ok) << c.message;
}

// q, k, v as slots of one packed [B, S, 3, H, D] tensor (ViT's qkv product split by Gathers with
// constant indices, one negative, one on a negative axis): the Gathers go into select_* and the
// attention reads the packed tensor.
onnx::ModelProto packed_qkv_attention() {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "QKV", {2, 5, 3, 4, 8});
  add_initializer_i64(g, "i0", {}, {0});
  add_initializer_i64(g, "i1", {}, {1});
  add_initializer_i64(g, "im1", {}, {-1});
  attr_int(add_node(g, "Gather", {"QKV", "i0"}, {"q"}), "axis", 2);
  attr_int(add_node(g, "Gather", {"QKV", "i1"}, {"k"}), "axis", -3);
  attr_int(add_node(g, "Gather", {"QKV", "im1"}, {"v"}), "axis", 2);
  attr_ints(add_node(g, "Transpose", {"q"}, {"qh"}), "perm", {0, 2, 1, 3});
  attr_ints(add_node(g, "Transpose", {"k"}, {"kt"}), "perm", {0, 2, 3, 1});
  attr_ints(add_node(g, "Transpose", {"v"}, {"vh"}), "perm", {0, 2, 1, 3});
  add_node(g, "MatMul", {"qh", "kt"}, {"qk"});
  attr_int(add_node(g, "Softmax", {"qk"}, {"p"}), "axis", -1);
  add_node(g, "MatMul", {"p", "vh"}, {"Y"});
  float_output(m, "Y");
  return m;
}

TEST(AttentionFusion, GathersOfAPackedQkvBecomeSelects) {
  auto r = optimize_and_compare(packed_qkv_attention(), only_passes({"attention-fusion"}));
  ASSERT_TRUE(r.after.graph);
  ASSERT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"kiln::Attention"}));
  const ir::Node* a = r.after.graph->nodes()[0].get();
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(a->input(i)->name(), "QKV");
  EXPECT_EQ(a->attrs().get_ints("select_q", {}), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(a->attrs().get_ints("select_kt", {}), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(a->attrs().get_ints("select_v", {}), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(a->attrs().get_ints("perm_kt", {}), (std::vector<int64_t>{0, 2, 3, 1}));
}

TEST(AttentionFusion, GatherReadByOthersStays) {
  auto m = packed_qkv_attention();
  float_output(m, "k");
  auto r = optimize_and_compare(m, only_passes({"attention-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "Gather"), 1);
  const ir::Node* a = find_op(*r.after.graph, "kiln::Attention");
  ASSERT_NE(a, nullptr);
  EXPECT_FALSE(a->attrs().has("select_kt"));
  EXPECT_TRUE(a->attrs().has("select_q") && a->attrs().has("select_v"));
}

}  // namespace
}  // namespace kiln::testing
