// Model-local functions are inlined at import: formal-to-actual mapping, unique internal
// names, attribute references, nested calls, opset imports and the depth limit.
#include <gtest/gtest.h>

#include "unit/onnx/model_builder.h"

namespace kiln::testing {
namespace {

constexpr int kFloat = onnx::TensorProto::FLOAT;

// local.AddScaled(x, y) -> z = (x + y) + alpha, alpha from the caller (default 100). Its
// internal value is named "t" like a main-graph input, which inlining must not confuse.
onnx::FunctionProto* add_scaled(onnx::ModelProto& m) {
  auto* f = m.add_functions();
  f->set_name("AddScaled");
  f->set_domain("local");
  f->add_input("x");
  f->add_input("y");
  f->add_output("z");
  f->add_attribute_proto()->CopyFrom([] {
    onnx::AttributeProto a;
    a.set_name("alpha");
    a.set_type(onnx::AttributeProto::FLOAT);
    a.set_f(100.0f);
    return a;
  }());
  auto* op = f->add_opset_import();
  op->set_domain("");
  op->set_version(17);
  onnx::GraphProto scratch;  // add_node works on graphs: build there, move into the function
  add_node(&scratch, "Add", {"x", "y"}, {"t"});
  auto* k = add_node(&scratch, "Constant", {}, {"k"});
  auto* a = add_attr(k, "value_float");
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_ref_attr_name("alpha");
  add_node(&scratch, "Add", {"t", "k"}, {"z"});
  for (auto& n : scratch.node()) *f->add_node() = n;
  return f;
}

onnx::ModelProto two_calls() {
  onnx::ModelProto m = new_model(17);
  auto* local = m.add_opset_import();
  local->set_domain("local");
  local->set_version(1);
  add_scaled(m);
  auto* g = m.mutable_graph();
  tensor_info(g->mutable_input(), "a", kFloat, {2});
  tensor_info(g->mutable_input(), "t", kFloat, {2});
  tensor_info(g->mutable_output(), "w", kFloat, {2});
  attr_float(add_node(g, "AddScaled", {"a", "t"}, {"u"}, "local"), "alpha", 1.0f);
  add_node(g, "AddScaled", {"u", "t"}, {"w"}, "local");  // alpha from the default
  return m;
}

TEST(FunctionInliner, InlinesCallsWithAttributesAndUniqueNames) {
  auto out = import_and_run(two_calls(), {floats({1, 2}), floats({10, 20})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  // u = a + t + 1 = {12, 23}; w = u + t + 100 = {122, 143}
  EXPECT_EQ(values(out->at(0).tensor()), (std::vector<float>{122, 143}));
}

TEST(FunctionInliner, ImportedGraphHasNoFunctionCalls) {
  auto model = import(two_calls());
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  for (const auto& n : model->graph->nodes()) EXPECT_NE(n->domain(), "local") << n->describe();
  EXPECT_EQ(model->graph->nodes().size(), 6u);
}

TEST(FunctionInliner, NestedCallsAndMissingOpsetImport) {
  onnx::ModelProto m = new_model(17);
  m.mutable_opset_import()->Clear();  // the model imports only the local domain...
  auto* local = m.add_opset_import();
  local->set_domain("local");
  local->set_version(1);
  add_scaled(m);  // ...the function brings ai.onnx 17
  auto* outer = m.add_functions();
  outer->set_name("Twice");
  outer->set_domain("local");
  outer->add_input("p");
  outer->add_output("q");
  onnx::GraphProto scratch;
  attr_float(add_node(&scratch, "AddScaled", {"p", "p"}, {"r"}, "local"), "alpha", 0.5f);
  add_node(&scratch, "Identity", {"r"}, {"q"});
  for (auto& n : scratch.node()) *outer->add_node() = n;
  auto* op = outer->add_opset_import();
  op->set_domain("");
  op->set_version(17);
  auto* g = m.mutable_graph();
  tensor_info(g->mutable_input(), "a", kFloat, {2});
  tensor_info(g->mutable_output(), "b", kFloat, {2});
  add_node(g, "Twice", {"a"}, {"b"}, "local");
  auto out = import_and_run(m, {floats({1, 2})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(values(out->at(0).tensor()), (std::vector<float>{2.5f, 4.5f}));
}

TEST(FunctionInliner, InlinesCallsInsideSubgraphs) {
  onnx::ModelProto m = two_calls();
  auto* g = m.mutable_graph();
  g->clear_node();
  g->clear_output();
  tensor_info(g->mutable_input(), "c", onnx::TensorProto::BOOL, {});
  tensor_info(g->mutable_output(), "w", kFloat, {2});
  auto* n = add_node(g, "If", {"c"}, {"w"});
  auto* then_g = attr_graph(n, "then_branch");
  tensor_info(then_g->mutable_output(), "tw", kFloat, {2});
  add_node(then_g, "AddScaled", {"a", "t"}, {"tw"}, "local");
  auto* else_g = attr_graph(n, "else_branch");
  tensor_info(else_g->mutable_output(), "ew", kFloat, {2});
  add_node(else_g, "Identity", {"a"}, {"ew"});
  Tensor yes(DataType::kBool, {});
  yes.data<bool>()[0] = true;
  auto out = import_and_run(m, {floats({1, 2}), floats({10, 20}), yes});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(values(out->at(0).tensor()), (std::vector<float>{111, 122}));
}

// local.Pick(C, X) = If C then X + X else X + k: the branches read a formal input and a
// caller attribute. Matches onnx.reference: c=false, c2=true on {1,2,3} gives {12,14,16}.
TEST(FunctionInliner, ResolvesFormalsAndAttributesInsideFunctionSubgraphs) {
  onnx::ModelProto m = new_model(18);
  auto* local = m.add_opset_import();
  local->set_domain("local");
  local->set_version(1);
  auto* f = m.add_functions();
  f->set_name("Pick");
  f->set_domain("local");
  f->add_input("C");
  f->add_input("X");
  f->add_output("Y");
  f->add_attribute("k");
  auto* op = f->add_opset_import();
  op->set_domain("");
  op->set_version(18);
  onnx::GraphProto scratch;
  auto* n = add_node(&scratch, "If", {"C"}, {"tmp"});
  auto* then_g = attr_graph(n, "then_branch");
  tensor_info(then_g->mutable_output(), "tb", kFloat, {}, false);
  add_node(then_g, "Add", {"X", "X"}, {"tb"});
  auto* else_g = attr_graph(n, "else_branch");
  tensor_info(else_g->mutable_output(), "eb", kFloat, {}, false);
  auto* k = add_node(else_g, "Constant", {}, {"kk"});
  auto* a = add_attr(k, "value_float");
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_ref_attr_name("k");
  add_node(else_g, "Add", {"X", "kk"}, {"eb"});
  add_node(&scratch, "Identity", {"tmp"}, {"Y"});
  for (auto& node : scratch.node()) *f->add_node() = node;
  auto* g = m.mutable_graph();
  tensor_info(g->mutable_input(), "c", onnx::TensorProto::BOOL, {});
  tensor_info(g->mutable_input(), "c2", onnx::TensorProto::BOOL, {});
  tensor_info(g->mutable_input(), "x", kFloat, {3});
  tensor_info(g->mutable_output(), "y", kFloat, {3});
  attr_float(add_node(g, "Pick", {"c", "x"}, {"y1"}, "local"), "k", 5.0f);
  attr_float(add_node(g, "Pick", {"c2", "y1"}, {"y"}, "local"), "k", -1.0f);
  Tensor no(DataType::kBool, {}), yes(DataType::kBool, {});
  yes.data<bool>()[0] = true;
  auto out = import_and_run(m, {no, yes, floats({1, 2, 3})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(values(out->at(0).tensor()), (std::vector<float>{12, 14, 16}));
  out = import_and_run(m, {no, no, floats({1, 2, 3})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(values(out->at(0).tensor()), (std::vector<float>{5, 6, 7}));
}

TEST(FunctionInliner, RefusesConflictingOpsets) {
  onnx::ModelProto m = two_calls();
  m.mutable_functions(0)->mutable_opset_import(0)->set_version(13);
  auto model = import(m);
  ASSERT_FALSE(model.is_ok());
  EXPECT_EQ(model.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(model.status().message().find("AddScaled"), std::string::npos) << model.status().to_string();
}

TEST(FunctionInliner, RefusesRecursion) {
  onnx::ModelProto m = new_model(17);
  auto* local = m.add_opset_import();
  local->set_domain("local");
  local->set_version(1);
  auto* f = m.add_functions();
  f->set_name("Forever");
  f->set_domain("local");
  f->add_input("x");
  f->add_output("y");
  onnx::GraphProto scratch;
  add_node(&scratch, "Forever", {"x"}, {"y"}, "local");
  *f->add_node() = scratch.node(0);
  auto* g = m.mutable_graph();
  tensor_info(g->mutable_input(), "a", kFloat, {2});
  tensor_info(g->mutable_output(), "b", kFloat, {2});
  add_node(g, "Forever", {"a"}, {"b"}, "local");
  auto model = import(m);
  ASSERT_FALSE(model.is_ok());
  EXPECT_EQ(model.status().code(), StatusCode::kInvalidModel);
}

TEST(FunctionInliner, RefusesWrongArity) {
  onnx::ModelProto m = two_calls();
  m.mutable_graph()->mutable_node(0)->add_input("a");  // three inputs for two formals
  auto model = import(m);
  ASSERT_FALSE(model.is_ok());
  EXPECT_EQ(model.status().code(), StatusCode::kInvalidModel);
}

}  // namespace
}  // namespace kiln::testing
