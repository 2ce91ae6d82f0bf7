#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

TEST(IdentityElimination, RemovesPassThroughsAndKeepsOutputNames) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 6});
  add_initializer_i64(g, "same", {2}, {2, 6});
  add_node(g, "Identity", {"X"}, {"a"});
  add_node(g, "Relu", {"a"}, {"b"});
  add_node(g, "Dropout", {"b"}, {"c"});
  attr_int(add_node(g, "Cast", {"c"}, {"d"}), "to", onnx::TensorProto::FLOAT);
  add_node(g, "Reshape", {"d", "same"}, {"e"});
  add_node(g, "Identity", {"e"}, {"Y"});
  float_output(m, "Y");
  auto r = optimize_and_compare(m, only_passes({"identity-elimination"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(r.before.graph->nodes().size(), 6u);
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"Relu"}));
  EXPECT_EQ(r.after.graph->outputs()[0]->name(), "Y");
  EXPECT_EQ(r.after.graph->nodes()[0]->output(0)->name(), "Y");
}

TEST(IdentityElimination, KeepsRealCastsReshapesAndInputToOutputCopies) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 6});
  add_initializer_i64(g, "other", {2}, {3, 4});
  attr_int(add_node(g, "Cast", {"X"}, {"d"}), "to", onnx::TensorProto::DOUBLE);
  attr_int(add_node(g, "Cast", {"d"}, {"f"}), "to", onnx::TensorProto::FLOAT);
  add_node(g, "Reshape", {"f", "other"}, {"Y"});
  add_node(g, "Identity", {"X"}, {"Z"});  // input straight to output: nothing to rename
  float_output(m, "Y");
  float_output(m, "Z");
  auto r = optimize_and_compare(m, only_passes({"identity-elimination"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(r.after.graph->nodes().size(), 4u);
}

}  // namespace
}  // namespace kiln::testing
