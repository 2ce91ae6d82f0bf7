#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

// The end of a ViT: x0 [2, 5, 8] -> out-projection + residual -> LayerNorm -> MLP (erf GELU as
// torch exports it) + residual -> final LayerNorm -> Gather(axis 1, `index`) (the class token).
onnx::ModelProto vit_tail(const std::vector<int64_t>& index_dims, const std::vector<int64_t>& index,
                          bool extra_reader = false) {
  auto m = new_model(17);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 5, 8});
  float_input(m, "A", {2, 5, 8});  // the attention output
  add_initializer(g, "Wo", {8, 8});
  add_initializer(g, "bo", {8});
  add_initializer(g, "W1", {8, 16});
  add_initializer(g, "b1", {16});
  add_initializer(g, "W2", {16, 8});
  add_initializer(g, "b2", {8});
  add_initializer(g, "ln_s", {8}, 0.5f, 1.5f);
  add_initializer(g, "ln_b", {8});
  add_initializer_values(g, "sqrt2", {}, {1.41421356f});
  add_initializer_values(g, "one", {}, {1.f});
  add_initializer_values(g, "half", {}, {0.5f});
  add_initializer_i64(g, "idx", index_dims, index);
  add_node(g, "MatMul", {"A", "Wo"}, {"o0"});
  add_node(g, "Add", {"o0", "bo"}, {"o1"});
  add_node(g, "Add", {"o1", "X"}, {"x1"});
  add_node(g, "LayerNormalization", {"x1", "ln_s", "ln_b"}, {"n1"});
  add_node(g, "MatMul", {"n1", "W1"}, {"h0"});
  add_node(g, "Add", {"h0", "b1"}, {"h1"});
  add_node(g, "Div", {"h1", "sqrt2"}, {"g0"});
  add_node(g, "Erf", {"g0"}, {"g1"});
  add_node(g, "Add", {"g1", "one"}, {"g2"});
  add_node(g, "Mul", {"h1", "g2"}, {"g3"});
  add_node(g, "Mul", {"g3", "half"}, {"g4"});
  add_node(g, "MatMul", {"g4", "W2"}, {"m0"});
  add_node(g, "Add", {"m0", "b2"}, {"m1"});
  add_node(g, "Add", {"m1", "x1"}, {"x2"});
  add_node(g, "LayerNormalization", {"x2", "ln_s", "ln_b"}, {"n2"});
  attr_int(add_node(g, "Gather", {"n2", "idx"}, {"Y"}), "axis", 1);
  float_output(m, "Y");
  if (extra_reader) {  // the full sequence is an output too: nothing may move
    add_node(g, "Identity", {"n2"}, {"Full"});
    float_output(m, "Full");
  }
  return m;
}

// The rank of every product's output (a hoisted Gather leaves the last layer's products with
// the class token's rows only).
std::vector<int64_t> product_ranks(const ir::Graph& g) {
  std::vector<int64_t> ranks;
  for (const auto& n : g.nodes())
    if (n->op_type() == "FusedMatMul" || n->op_type() == "MatMul")
      ranks.push_back(static_cast<int64_t>(n->output(0)->type().shape->rank()));
  return ranks;
}

TEST(GatherHoisting, ClassTokenGatherMovesAboveTheLastLayer) {
  auto r = optimize_and_compare(vit_tail({}, {0}));
  ASSERT_TRUE(r.after.graph);
  // Out-projection, MLP1 and MLP2 all run on [2, 8]: one row per batch item.
  EXPECT_EQ(product_ranks(*r.after.graph), (std::vector<int64_t>{2, 2, 2}));
  // The Gathers left read the graph inputs (the attention output and the residual stream).
  for (const auto& n : r.after.graph->nodes())
    if (n->op_type() == "Gather") {
      EXPECT_FALSE(n->input(0)->producer()) << n->describe();
    }
}

TEST(GatherHoisting, OneDimensionalIndexKeepsTheAxis) {
  auto r = optimize_and_compare(vit_tail({2}, {4, -5}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(product_ranks(*r.after.graph), (std::vector<int64_t>{3, 3, 3}));
  for (const auto& n : r.after.graph->nodes())
    if (n->op_type() == "FusedMatMul") {
      EXPECT_EQ((*n->output(0)->type().shape)[1].value(), 2);
    }
}

TEST(GatherHoisting, DeclinesWhenTheFullValueIsRead) {
  auto r = optimize_and_compare(vit_tail({}, {0}, /*extra_reader=*/true));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(product_ranks(*r.after.graph), (std::vector<int64_t>{3, 3, 3}));
}

TEST(GatherHoisting, DeclinesOnTheNormalizedAxis) {
  auto m = new_model(17);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 5, 8});
  add_initializer(g, "s", {8});
  add_initializer(g, "b", {8});
  add_initializer_i64(g, "idx", {}, {3});
  add_node(g, "LayerNormalization", {"X", "s", "b"}, {"n"});
  attr_int(add_node(g, "Gather", {"n", "idx"}, {"Y"}), "axis", -1);
  float_output(m, "Y");
  auto r = optimize_and_compare(m);
  ASSERT_TRUE(r.after.graph);
  for (const auto& n : r.after.graph->nodes())
    if (n->op_type() == "Gather") {
      EXPECT_TRUE(n->input(0)->producer()) << "the Gather must stay after the LayerNorm";
    }
}

TEST(GatherHoisting, BroadcastInputsFollow) {
  // Y = Gather(Relu(X + P), 1, axis 0) with P [1, 5, 8] (broadcast over the gathered axis) and
  // Q [8]: P loses its dim of 1, Q stays.
  auto m = new_model(17);
  auto* g = m.mutable_graph();
  float_input(m, "X", {3, 5, 8});
  add_initializer(g, "P", {1, 5, 8});
  add_initializer(g, "Q", {8});
  add_initializer_i64(g, "idx", {}, {1});
  add_node(g, "Add", {"X", "P"}, {"a"});
  add_node(g, "Mul", {"a", "Q"}, {"b"});
  add_node(g, "Relu", {"b"}, {"c"});
  attr_int(add_node(g, "Gather", {"c", "idx"}, {"Y"}), "axis", 0);
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"gather-hoisting"}));
  ASSERT_TRUE(r.after.graph);
  for (const auto& n : r.after.graph->nodes())
    if (n->op_type() == "Relu" || n->op_type() == "Add" || n->op_type() == "Mul") {
      EXPECT_EQ(n->output(0)->type().shape->rank(), 2u) << n->describe();
    }
}

}  // namespace
}  // namespace kiln::testing
