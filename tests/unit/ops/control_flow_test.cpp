// If, Loop, Scan and SequenceMap with bodies made of Add and Identity; bodies read outer-scope
// values, carry sequences, and shape inference derives outputs from the bodies.
#include <gtest/gtest.h>

#include "unit/onnx/model_builder.h"

namespace kiln::testing {
namespace {

constexpr int kFloat = onnx::TensorProto::FLOAT;
constexpr int kInt64 = onnx::TensorProto::INT64;
constexpr int kBool = onnx::TensorProto::BOOL;

Tensor scalar_bool(bool v) {
  Tensor t(DataType::kBool, {});
  t.data<bool>()[0] = v;
  return t;
}

// Loop M times: y += x (x read from the outer scope); scan output: y after each step; a
// sequence carried along collects y.
onnx::ModelProto loop_model() {
  onnx::ModelProto m = new_model(17);
  auto* g = m.mutable_graph();
  tensor_info(g->mutable_input(), "M", kInt64, {});
  tensor_info(g->mutable_input(), "x", kFloat, {2});
  tensor_info(g->mutable_input(), "y0", kFloat, {2});
  tensor_info(g->mutable_output(), "y", kFloat, {2});
  sequence_info(g->mutable_output(), "s", kFloat);
  tensor_info(g->mutable_output(), "ys", kFloat, {}, false);
  add_node(g, "SequenceEmpty", {}, {"s0"});
  auto* loop = add_node(g, "Loop", {"M", "", "y0", "s0"}, {"y", "s", "ys"});
  auto* body = attr_graph(loop, "body");
  tensor_info(body->mutable_input(), "i", kInt64, {});
  tensor_info(body->mutable_input(), "c", kBool, {});
  tensor_info(body->mutable_input(), "y_in", kFloat, {2});
  sequence_info(body->mutable_input(), "s_in", kFloat);
  tensor_info(body->mutable_output(), "c_out", kBool, {});
  tensor_info(body->mutable_output(), "y_out", kFloat, {2});
  sequence_info(body->mutable_output(), "s_out", kFloat);
  tensor_info(body->mutable_output(), "scan", kFloat, {2});
  add_node(body, "Identity", {"c"}, {"c_out"});
  add_node(body, "Add", {"y_in", "x"}, {"y_out"});
  add_node(body, "SequenceInsert", {"s_in", "y_out"}, {"s_out"});
  add_node(body, "Identity", {"y_out"}, {"scan"});
  return m;
}

TEST(Loop, CarriesTensorsAndSequencesAndStacksScanOutputs) {
  auto out = import_and_run(loop_model(), {Tensor::scalar_i64(3), floats({1, 2}), floats({0, 0})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(values(out->at(0).tensor()), (std::vector<float>{3, 6}));
  ASSERT_EQ(out->at(1).sequence().items.size(), 3u);
  EXPECT_EQ(values(out->at(1).sequence().items[1]), (std::vector<float>{2, 4}));
  EXPECT_EQ(out->at(2).tensor().dims(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(values(out->at(2).tensor()), (std::vector<float>{1, 2, 2, 4, 3, 6}));
}

TEST(Loop, ZeroTripsGiveInitialValuesAndEmptyScans) {
  auto out = import_and_run(loop_model(), {Tensor::scalar_i64(0), floats({1, 2}), floats({5, 5})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(values(out->at(0).tensor()), (std::vector<float>{5, 5}));
  EXPECT_EQ(out->at(2).tensor().dims(), (std::vector<int64_t>{0, 2}));
}

TEST(Loop, ShapeInferenceUsesTheBody) {
  auto model = import(loop_model());
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  const auto& outs = model->graph->outputs();
  EXPECT_EQ(outs[1]->type().kind, ir::ValueKind::kSequence);
  ASSERT_TRUE(outs[2]->type().shape.has_value());
  EXPECT_EQ(outs[2]->type().shape->rank(), 2u);
  EXPECT_EQ((*outs[2]->type().shape)[1], Dim(2));
}

TEST(Loop, StopsOnCondition) {
  // cond_out = Identity(false) after the first step: one iteration despite M = 10.
  onnx::ModelProto m = loop_model();
  auto* body = m.mutable_graph()->mutable_node(1)->mutable_attribute(0)->mutable_g();
  body->mutable_node(0)->set_input(0, "stop");
  auto* c = add_node(body, "Constant", {}, {"stop"});
  auto* a = add_attr(c, "value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(kBool);
  a->mutable_t()->add_int32_data(0);
  auto out = import_and_run(m, {Tensor::scalar_i64(10), floats({1, 2}), floats({0, 0})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out->at(2).tensor().dims(), (std::vector<int64_t>{1, 2}));
}

TEST(Loop, UnboundedLoopStopsAtTheMemoryLimit) {
  onnx::ModelProto m = loop_model();
  auto* g = m.mutable_graph();
  g->mutable_node(1)->set_input(0, "");     // no trip count
  g->mutable_node(1)->set_input(1, "go");   // cond stays true
  tensor_info(g->mutable_input(), "go", kBool, {});
  int64_t saved = max_tensor_bytes();
  set_max_tensor_bytes(1024);
  auto out = import_and_run(m, {Tensor::scalar_i64(0), floats({1, 2}), floats({0, 0}), scalar_bool(true)});
  set_max_tensor_bytes(saved);
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("scan outputs grew"), std::string::npos) << out.status().to_string();
}

TEST(If, RunsTheChosenBranchAndMergesBranchShapes) {
  onnx::ModelProto m = new_model(17);
  auto* g = m.mutable_graph();
  tensor_info(g->mutable_input(), "c", kBool, {});
  tensor_info(g->mutable_input(), "a", kFloat, {2});
  tensor_info(g->mutable_input(), "b", kFloat, {3});
  tensor_info(g->mutable_output(), "r", kFloat, {}, false);
  auto* n = add_node(g, "If", {"c"}, {"r"});
  auto* t = attr_graph(n, "then_branch");
  tensor_info(t->mutable_output(), "ta", kFloat, {2});
  add_node(t, "Add", {"a", "a"}, {"ta"});
  auto* e = attr_graph(n, "else_branch");
  tensor_info(e->mutable_output(), "eb", kFloat, {3});
  add_node(e, "Identity", {"b"}, {"eb"});
  auto model = import(m);
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  const auto& type = model->graph->outputs()[0]->type();
  EXPECT_EQ(type.dtype, DataType::kFloat32);
  ASSERT_TRUE(type.shape.has_value());
  EXPECT_TRUE((*type.shape)[0].is_unknown());
  auto yes = import_and_run(m, {scalar_bool(true), floats({1, 2}), floats({7, 8, 9})});
  ASSERT_TRUE(yes.is_ok()) << yes.status().to_string();
  EXPECT_EQ(values(yes->at(0).tensor()), (std::vector<float>{2, 4}));
  auto no = import_and_run(m, {scalar_bool(false), floats({1, 2}), floats({7, 8, 9})});
  ASSERT_TRUE(no.is_ok()) << no.status().to_string();
  EXPECT_EQ(values(no->at(0).tensor()), (std::vector<float>{7, 8, 9}));
}

TEST(If, ABranchReturningAnOptionalMakesTheOutputOptional) {
  onnx::ModelProto m = new_model(18);
  auto* g = m.mutable_graph();
  tensor_info(g->mutable_input(), "c", kBool, {});
  tensor_info(g->mutable_input(), "a", kFloat, {2});
  auto* out = g->add_output();
  out->set_name("r");
  set_tensor_type(out->mutable_type()->mutable_optional_type()->mutable_elem_type(), kFloat, {2});
  auto* n = add_node(g, "If", {"c"}, {"r"});
  auto* t = attr_graph(n, "then_branch");
  auto* tout = t->add_output();
  tout->set_name("none");
  set_tensor_type(tout->mutable_type()->mutable_optional_type()->mutable_elem_type(), kFloat, {2});
  auto* opt = add_node(t, "Optional", {}, {"none"});
  auto* ta = add_attr(opt, "type");
  ta->set_type(onnx::AttributeProto::TYPE_PROTO);
  set_tensor_type(ta->mutable_tp(), kFloat, {2});
  auto* e = attr_graph(n, "else_branch");
  tensor_info(e->mutable_output(), "same", kFloat, {2});
  add_node(e, "Identity", {"a"}, {"same"});
  auto model = import(m);
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  EXPECT_EQ(model->graph->outputs()[0]->type().kind, ir::ValueKind::kOptionalTensor);
  auto yes = import_and_run(m, {scalar_bool(true), floats({1, 2})});
  ASSERT_TRUE(yes.is_ok()) << yes.status().to_string();
  EXPECT_TRUE(yes->at(0).is_none());
  auto no = import_and_run(m, {scalar_bool(false), floats({1, 2})});
  ASSERT_TRUE(no.is_ok()) << no.status().to_string();
  EXPECT_EQ(values(no->at(0).tensor()), (std::vector<float>{1, 2}));
}

// Scan-9 running sum over axis 1 in reverse, scan output stacked along axis 1.
TEST(Scan, AxesAndDirections) {
  onnx::ModelProto m = new_model(17);
  auto* g = m.mutable_graph();
  tensor_info(g->mutable_input(), "init", kFloat, {2});
  tensor_info(g->mutable_input(), "x", kFloat, {2, 3});
  tensor_info(g->mutable_output(), "sum", kFloat, {2});
  tensor_info(g->mutable_output(), "partial", kFloat, {}, false);
  auto* n = add_node(g, "Scan", {"init", "x"}, {"sum", "partial"});
  attr_int(n, "num_scan_inputs", 1);
  attr_ints(n, "scan_input_axes", {1});
  attr_ints(n, "scan_input_directions", {1});
  attr_ints(n, "scan_output_axes", {-1});
  auto* body = attr_graph(n, "body");
  tensor_info(body->mutable_input(), "s_in", kFloat, {2});
  tensor_info(body->mutable_input(), "col", kFloat, {2});
  tensor_info(body->mutable_output(), "s_out", kFloat, {2});
  tensor_info(body->mutable_output(), "p", kFloat, {2});
  add_node(body, "Add", {"s_in", "col"}, {"s_out"});
  add_node(body, "Identity", {"s_out"}, {"p"});
  auto model = import(m);
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  const auto& pt = model->graph->outputs()[1]->type();
  ASSERT_TRUE(pt.shape.has_value());
  EXPECT_EQ(*pt.shape, Shape({2, 3}));
  // x = [[1,2,3],[4,5,6]], columns visited 3,2,1: partial sums [[3,5,6],[6,11,15]]
  auto out = import_and_run(m, {floats({0, 0}), floats({1, 2, 3, 4, 5, 6}, {2, 3})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(values(out->at(0).tensor()), (std::vector<float>{6, 15}));
  EXPECT_EQ(out->at(1).tensor().dims(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(values(out->at(1).tensor()), (std::vector<float>{3, 5, 6, 6, 11, 15}));
}

TEST(SequenceMap, MapsSequencesWithATensorArgument) {
  onnx::ModelProto m = new_model(17);
  auto* g = m.mutable_graph();
  tensor_info(g->mutable_input(), "a", kFloat, {2});
  tensor_info(g->mutable_input(), "b", kFloat, {2});
  sequence_info(g->mutable_output(), "out", kFloat);
  add_node(g, "SequenceConstruct", {"a", "b"}, {"s"});
  auto* n = add_node(g, "SequenceMap", {"s", "b"}, {"out"});
  auto* body = attr_graph(n, "body");
  tensor_info(body->mutable_input(), "item", kFloat, {2});
  tensor_info(body->mutable_input(), "t", kFloat, {2});
  tensor_info(body->mutable_output(), "r", kFloat, {2});
  add_node(body, "Add", {"item", "t"}, {"r"});
  auto out = import_and_run(m, {floats({1, 2}), floats({10, 20})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  const auto& items = out->at(0).sequence().items;
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(values(items[0]), (std::vector<float>{11, 22}));
  EXPECT_EQ(values(items[1]), (std::vector<float>{20, 40}));
}

TEST(Sequence, SplitConcatAndErrors) {
  onnx::ModelProto m = new_model(17);
  auto* g = m.mutable_graph();
  tensor_info(g->mutable_input(), "x", kFloat, {3, 2});
  tensor_info(g->mutable_input(), "pos", kInt64, {});
  tensor_info(g->mutable_input(), "at", kInt64, {});
  tensor_info(g->mutable_output(), "stacked", kFloat, {}, false);
  tensor_info(g->mutable_output(), "item", kFloat, {}, false);
  tensor_info(g->mutable_output(), "n", kInt64, {});
  attr_int(add_node(g, "SplitToSequence", {"x"}, {"s"}), "keepdims", 0);
  add_node(g, "SequenceErase", {"s", "pos"}, {"s2"});
  auto* c = add_node(g, "ConcatFromSequence", {"s2"}, {"stacked"});
  attr_int(c, "axis", -1);
  attr_int(c, "new_axis", 1);
  add_node(g, "SequenceAt", {"s2", "at"}, {"item"});
  add_node(g, "SequenceLength", {"s2"}, {"n"});
  auto out = import_and_run(m, {floats({1, 2, 3, 4, 5, 6}, {3, 2}), Tensor::scalar_i64(-3), Tensor::scalar_i64(-2)});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  // Erase item 0 ([1,2]); stack [3,4] and [5,6] along a new last axis: [[3,5],[4,6]].
  EXPECT_EQ(out->at(0).tensor().dims(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(values(out->at(0).tensor()), (std::vector<float>{3, 5, 4, 6}));
  EXPECT_EQ(out->at(2).tensor().to_i64(), (std::vector<int64_t>{2}));
  EXPECT_EQ(values(out->at(1).tensor()), (std::vector<float>{3, 4}));
  // Position -3 is out of range for the two items left: a clean error, not a crash.
  auto bad = import_and_run(m, {floats({1, 2, 3, 4, 5, 6}, {3, 2}), Tensor::scalar_i64(0), Tensor::scalar_i64(-3)});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("out of range"), std::string::npos) << bad.status().to_string();
}

}  // namespace
}  // namespace kiln::testing
