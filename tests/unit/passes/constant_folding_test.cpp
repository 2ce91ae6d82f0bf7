#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

// X[2,3,4] -> Reshape(X, Concat(Unsqueeze(Gather(Shape(X), 0)), [-1])) : the exporter's way of
// writing "flatten all but the batch dim", plus a Constant + Add on constants.
onnx::ModelProto shape_chain_model() {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 3, 4});
  add_initializer_i64(g, "zero", {}, {0});
  add_initializer_i64(g, "axes0", {1}, {0});
  add_initializer_i64(g, "minus1", {1}, {-1});
  add_node(g, "Shape", {"X"}, {"shape"});
  attr_int(add_node(g, "Gather", {"shape", "zero"}, {"batch"}), "axis", 0);
  add_node(g, "Unsqueeze", {"batch", "axes0"}, {"batch1"});
  attr_int(add_node(g, "Concat", {"batch1", "minus1"}, {"target"}), "axis", 0);
  add_node(g, "Reshape", {"X", "target"}, {"flat"});
  add_initializer(g, "a", {12});
  add_initializer(g, "b", {12});
  add_node(g, "Add", {"a", "b"}, {"ab"});
  add_node(g, "Add", {"flat", "ab"}, {"Y"});
  float_output(m, "Y");
  return m;
}

TEST(ConstantFolding, FoldsShapeChainsAndConstantArithmetic) {
  auto r = optimize_and_compare(shape_chain_model(), only_passes({"constant-folding", "dead-node-elimination"}));
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(r.before.graph->nodes().size(), 7u);
  // Shape, Gather, Unsqueeze, Concat and the constant Add are gone; Reshape now has a constant shape.
  EXPECT_EQ(op_types(*r.after.graph), (std::vector<std::string>{"Reshape", "Add"}));
  EXPECT_TRUE(r.after.graph->nodes()[0]->input(1)->is_constant());
  EXPECT_TRUE(r.after.graph->find_value("flat")->type().has_static_shape());
}

TEST(ConstantFolding, LeavesRandomOpsAndDynamicShapes) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  tensor_info(g->mutable_input(), "X", onnx::TensorProto::FLOAT, {}, false);  // rank unknown
  add_node(g, "Shape", {"X"}, {"s"});
  add_node(g, "Cast", {"s"}, {"sf"})->add_attribute()->CopyFrom([] {
    onnx::AttributeProto a;
    a.set_name("to");
    a.set_type(onnx::AttributeProto::INT);
    a.set_i(onnx::TensorProto::FLOAT);
    return a;
  }());
  auto* rn = add_node(g, "RandomNormal", {}, {"noise"});
  attr_ints(rn, "shape", {2});
  add_node(g, "Mul", {"noise", "sf"}, {"Y"});
  float_output(m, "Y");
  auto model = import(m);
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  auto st = passes::optimize(*model->graph, only_passes({"constant-folding"}));
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_EQ(count_op(*model->graph, "RandomNormal"), 1);
  EXPECT_EQ(count_op(*model->graph, "Shape"), 1);
}

}  // namespace
}  // namespace kiln::testing
