#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

void i64_const(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& v) {
  add_initializer_i64(g, name, {static_cast<int64_t>(v.size())}, v);
}

// torch 2.11's export of torchvision's MultiheadAttention input split (S=3, B=2, H=2, D=4):
// qkv [S, B, 3*E] -> q, k, v as [B, H, S, D].
onnx::ModelProto vit_qkv_split() {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "QKV", {3, 2, 24});
  i64_const(g, "s5", {3, 2, 3, 8});
  i64_const(g, "zero", {0});
  i64_const(g, "three", {3});
  i64_const(g, "heads", {3, 4, 4});
  i64_const(g, "bhsd", {2, 2, 3, 4});
  add_node(g, "Reshape", {"QKV", "s5"}, {"r"});
  add_node(g, "Unsqueeze", {"r", "zero"}, {"u"});
  attr_ints(add_node(g, "Transpose", {"u"}, {"t"}), "perm", {3, 1, 2, 0, 4});
  add_node(g, "Squeeze", {"t", "three"}, {"sq"});
  const char* names[3] = {"Q", "K", "V"};
  for (int i = 0; i < 3; ++i) {
    std::string n = names[i];
    add_initializer_i64(g, "i" + n, {}, {i});
    attr_int(add_node(g, "Gather", {"sq", "i" + n}, {"g" + n}), "axis", 0);
    add_node(g, "Reshape", {"g" + n, "heads"}, {"h" + n});
    attr_ints(add_node(g, "Transpose", {"h" + n}, {"t" + n}), "perm", {1, 0, 2});
    add_node(g, "Reshape", {"t" + n, "bhsd"}, {n});
    float_output(m, n);
  }
  return m;
}

TEST(MovementCollapse, ViTQkvSplitBecomesOneGatherAndOneTransposePerOutput) {
  auto r = optimize_and_compare(vit_qkv_split(), only_passes({"movement-collapse", "dead-node-elimination"}), 0, 0);
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "Gather"), 3);
  EXPECT_EQ(count_op(*r.after.graph, "Transpose"), 3);  // was 4 Transposes and 3 Gathers
  EXPECT_EQ(count_op(*r.after.graph, "Squeeze"), 0);
}

TEST(MovementCollapse, ChainOfReshapesAndASizeOneTransposeNeedsNoCopy) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 3, 4});
  i64_const(g, "a", {6, 1, 4});
  add_node(g, "Reshape", {"X", "a"}, {"r"});
  attr_ints(add_node(g, "Transpose", {"r"}, {"t"}), "perm", {1, 0, 2});  // moves only the 1
  attr_int(add_node(g, "Flatten", {"t"}, {"Y"}), "axis", 2);
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"movement-collapse", "dead-node-elimination"}), 0, 0);
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "Transpose"), 0);
}

TEST(MovementCollapse, LeavesChainsThatAreNotOneStridedView) {
  // Transpose then merge the transposed dims: a real reshuffle, already minimal (one copy).
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 3, 4});
  i64_const(g, "a", {12, 2});
  attr_ints(add_node(g, "Transpose", {"X"}, {"t"}), "perm", {1, 2, 0});
  add_node(g, "Reshape", {"t", "a"}, {"Y"});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"movement-collapse"}), 0, 0);
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"Transpose", "Reshape"}));
}

// A channels-last input's Transpose in front of a patchify (--input-layout nhwc on ViT): the
// whole chain ends in a Reshape merging axes the patch Transpose orders, no strided view of X,
// but its prefix up to that Transpose is: the two Transposes become one.
TEST(MovementCollapse, PrefixEndingAtACopyCollapsesWhenTheWholeChainCannot) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 4, 4, 3});  // [N,H,W,C]
  i64_const(g, "split", {2, 3, 2, 2, 2, 2});
  i64_const(g, "rows", {8, 12});
  attr_ints(add_node(g, "Transpose", {"X"}, {"nchw"}), "perm", {0, 3, 1, 2});
  add_node(g, "Reshape", {"nchw", "split"}, {"s"});
  attr_ints(add_node(g, "Transpose", {"s"}, {"p"}), "perm", {0, 2, 4, 1, 3, 5});
  add_node(g, "Reshape", {"p", "rows"}, {"Y"});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"movement-collapse", "dead-node-elimination"}), 0, 0);
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "Transpose"), 1);
}

TEST(MovementCollapse, TwoTransposesThatCancelBecomeAReshape) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 3, 4});
  attr_ints(add_node(g, "Transpose", {"X"}, {"t"}), "perm", {2, 0, 1});
  attr_ints(add_node(g, "Transpose", {"t"}, {"Y"}), "perm", {1, 2, 0});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"movement-collapse", "dead-node-elimination"}), 0, 0);
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "Transpose"), 0);
}

// Gathers on split dims, negative indices, merges of non-contiguous dims that a later reshape
// splits again: every chain must keep its values (the pass may or may not fire).
TEST(MovementCollapse, MixedChainsKeepTheirValues) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {4, 6, 10});
  i64_const(g, "a", {4, 2, 3, 10});
  i64_const(g, "b", {3, 4, 2, 5, 2});
  i64_const(g, "c", {3, 8, 10});
  add_initializer_i64(g, "neg", {}, {-1});
  add_initializer_i64(g, "one", {1}, {1});
  add_node(g, "Reshape", {"X", "a"}, {"r1"});
  attr_ints(add_node(g, "Transpose", {"r1"}, {"t1"}), "perm", {2, 0, 1, 3});  // [3,4,2,10]
  add_node(g, "Reshape", {"t1", "b"}, {"r2"});
  attr_int(add_node(g, "Gather", {"r2", "neg"}, {"g1"}), "axis", 3);  // [3,4,2,2]
  attr_ints(add_node(g, "Transpose", {"g1"}, {"Y1"}), "perm", {1, 0, 3, 2});
  float_output(m, "Y1");
  add_node(g, "Reshape", {"t1", "c"}, {"r3"});
  attr_int(add_node(g, "Gather", {"r3", "one"}, {"g2"}), "axis", 1);  // [3,1,10]
  attr_ints(add_node(g, "Transpose", {"g2"}, {"Y2"}), "perm", {2, 1, 0});
  float_output(m, "Y2");
  auto r = optimize_and_compare(m, only_passes({"movement-collapse", "dead-node-elimination"}), 0, 0);
  ASSERT_TRUE(r.after.graph);
  int fired = 0;
  for (const std::string& line : r.log) fired += line.rfind("movement-collapse:", 0) == 0;
  EXPECT_EQ(fired, 2);
}

}  // namespace
}  // namespace kiln::testing
