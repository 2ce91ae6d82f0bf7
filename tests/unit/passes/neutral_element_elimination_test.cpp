#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

// Y = Relu(op(X, C)) (or op(C, X) when swapped), X [2, 3, 4, 5], C constant of `dims` filled with v.
onnx::ModelProto binary(const std::string& op, const std::vector<int64_t>& dims, float v, bool swapped = false) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 3, 4, 5});
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  add_initializer_values(g, "C", dims, std::vector<float>(static_cast<size_t>(n), v));
  add_node(g, op, swapped ? std::vector<std::string>{"C", "X"} : std::vector<std::string>{"X", "C"}, {"t"});
  add_node(g, "Relu", {"t"}, {"Y"});
  float_output(m, "Y");
  return m;
}

std::vector<std::string> run(const onnx::ModelProto& m) {
  auto r = optimize_and_compare(m, only_passes({"neutral-element-elimination"}));
  return r.after.graph ? op_types(*r.after.graph) : std::vector<std::string>{};
}

const std::vector<std::string> kRemoved = {"Relu"};

TEST(NeutralElementElimination, RemovesNeutralConstants) {
  EXPECT_EQ(run(binary("Add", {1, 1, 1, 5}, 0.0f)), kRemoved);
  EXPECT_EQ(run(binary("Add", {2, 1, 1, 5}, -0.0f)), kRemoved);  // HF BERT's folded mask is -0.0
  EXPECT_EQ(run(binary("Add", {}, 0.0f, /*swapped=*/true)), kRemoved);
  EXPECT_EQ(run(binary("Sub", {5}, 0.0f)), kRemoved);
  EXPECT_EQ(run(binary("Mul", {3, 1, 1}, 1.0f)), kRemoved);
  EXPECT_EQ(run(binary("Mul", {1}, 1.0f, /*swapped=*/true)), kRemoved);
  EXPECT_EQ(run(binary("Div", {2, 3, 4, 5}, 1.0f)), kRemoved);
}

TEST(NeutralElementElimination, KeepsWhatIsNotAnIdentity) {
  const std::vector<std::string> add = {"Add", "Relu"}, sub = {"Sub", "Relu"}, div = {"Div", "Relu"}, mul = {"Mul", "Relu"};
  EXPECT_EQ(run(binary("Sub", {1}, 0.0f, /*swapped=*/true)), sub);  // 0 - x = -x
  EXPECT_EQ(run(binary("Div", {1}, 1.0f, /*swapped=*/true)), div);  // 1 / x
  EXPECT_EQ(run(binary("Add", {1}, 1e-30f)), add);                   // not zero
  EXPECT_EQ(run(binary("Mul", {1}, 0.0f)), mul);                     // zero is not Mul's neutral
  EXPECT_EQ(run(binary("Add", {3, 2, 3, 4, 5}, 0.0f)), (std::vector<std::string>{"Add", "Relu"}));  // enlarges x
  EXPECT_EQ(run(binary("Add", {1, 3, 4, 1}, 0.0f)), kRemoved);       // broadcasts within x
}

TEST(NeutralElementElimination, MixedValuesStay) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 3});
  add_initializer_values(g, "C", {3}, {0.0f, 0.0f, 1.0f});
  add_node(g, "Add", {"X", "C"}, {"Y"});
  float_output(m, "Y");
  EXPECT_EQ(run(m), (std::vector<std::string>{"Add"}));
}

TEST(NeutralElementElimination, GraphOutputKeepsItsName) {
  // Y = Add(Relu(X), 0) is a graph output: Relu writes Y itself.
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 3});
  add_initializer_values(g, "Z", {1}, {0.0f});
  add_node(g, "Relu", {"X"}, {"r"});
  add_node(g, "Add", {"r", "Z"}, {"Y"});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"neutral-element-elimination"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"Relu"}));
  EXPECT_EQ(r.after.graph->nodes()[0]->output(0)->name(), "Y");

  // Y = Add(X, 0) with X a graph input: nothing can write Y, so the Add stays.
  auto m2 = new_model(13);
  float_input(m2, "X", {2, 3});
  add_initializer_values(m2.mutable_graph(), "Z", {1}, {0.0f});
  add_node(m2.mutable_graph(), "Add", {"X", "Z"}, {"Y"});
  float_output(m2, "Y");
  EXPECT_EQ(run(m2), (std::vector<std::string>{"Add"}));
}

}  // namespace
}  // namespace kiln::testing
