#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

// Conv followed by one activation written by `add_act` (reads "c", writes "Y").
template <typename F>
onnx::ModelProto conv_then(int64_t opset, F add_act) {
  auto m = new_model(opset);
  auto* g = m.mutable_graph();
  float_input(m, "X", {1, 2, 5, 5});
  add_initializer(g, "W", {3, 2, 3, 3}, -2.0f, 2.0f);
  add_initializer(g, "B", {3});
  add_node(g, "Conv", {"X", "W", "B"}, {"c"});
  add_act(g);
  float_output(m, "Y");
  return m;
}

void expect_fused(const onnx::ModelProto& m, const std::string& activation, size_t fused_from) {
  auto r = optimize_and_compare(m, only_passes({"activation-fusion"}));
  ASSERT_TRUE(r.after.graph);
  ASSERT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"kiln::FusedConv"})) << activation;
  const ir::Node* n = r.after.graph->nodes()[0].get();
  EXPECT_EQ(n->attrs().get_string("activation", ""), activation);
  EXPECT_EQ(n->fused_from().size(), fused_from);
  EXPECT_FALSE(r.log.empty());
}

TEST(ActivationFusion, SimpleActivations) {
  for (std::string op : {"Relu", "Sigmoid", "Tanh", "HardSwish", "LeakyRelu", "HardSigmoid"})
    expect_fused(conv_then(17, [&](onnx::GraphProto* g) { add_node(g, op, {"c"}, {"Y"}); }), op, 2);
}

TEST(ActivationFusion, ClipAsRelu6) {
  expect_fused(conv_then(13,
                         [](onnx::GraphProto* g) {
                           add_initializer_values(g, "lo", {}, {0.0f});
                           add_initializer_values(g, "hi", {}, {6.0f});
                           add_node(g, "Clip", {"c", "lo", "hi"}, {"Y"});
                         }),
               "Clip", 2);
  expect_fused(conv_then(9,
                         [](onnx::GraphProto* g) {
                           auto* c = add_node(g, "Clip", {"c"}, {"Y"});
                           attr_float(c, "min", 0.0f);
                           attr_float(c, "max", 6.0f);
                         }),
               "Clip", 2);
}

TEST(ActivationFusion, SiluWrittenAsMulSigmoid) {
  expect_fused(conv_then(13,
                         [](onnx::GraphProto* g) {
                           add_node(g, "Sigmoid", {"c"}, {"s"});
                           add_node(g, "Mul", {"s", "c"}, {"Y"});
                         }),
               "Silu", 3);
}

TEST(ActivationFusion, GeluBothForms) {
  expect_fused(conv_then(20, [](onnx::GraphProto* g) { add_node(g, "Gelu", {"c"}, {"Y"}); }), "Gelu", 2);
  expect_fused(conv_then(20,
                         [](onnx::GraphProto* g) {
                           auto* n = add_node(g, "Gelu", {"c"}, {"Y"});
                           auto* a = add_attr(n, "approximate");
                           a->set_type(onnx::AttributeProto::STRING);
                           a->set_s("tanh");
                         }),
               "GeluTanh", 2);
}

TEST(ActivationFusion, GemmAndMatMulRoots) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {3, 4});
  add_initializer(g, "W", {4, 5});
  add_initializer(g, "C", {5});
  add_node(g, "Gemm", {"X", "W", "C"}, {"g"});
  add_node(g, "Relu", {"g"}, {"Y"});
  add_node(g, "MatMul", {"X", "W"}, {"mm"});
  add_node(g, "Tanh", {"mm"}, {"Z"});
  float_output(m, "Y");
  float_output(m, "Z");
  auto r = optimize_and_compare(m, only_passes({"activation-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "kiln::FusedGemm"), 1);
  EXPECT_EQ(count_op(*r.after.graph, "kiln::FusedMatMul"), 1);
  EXPECT_EQ(r.after.graph->nodes().size(), 2u);
}

TEST(ActivationFusion, DeclinesWhenThePreActivationValueIsAlsoRead) {
  auto m = conv_then(13, [](onnx::GraphProto* g) {
    add_node(g, "Relu", {"c"}, {"Y"});
    add_node(g, "Sigmoid", {"c"}, {"Z"});
  });
  float_output(m, "Z");
  auto r = optimize_and_compare(m, only_passes({"activation-fusion"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(r.after.graph->nodes().size(), 3u);
}

}  // namespace
}  // namespace kiln::testing
