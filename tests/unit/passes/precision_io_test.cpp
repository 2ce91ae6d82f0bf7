// lower_precision(..., low_precision_io = true) (kiln build --io-dtype): the float32 inputs and
// outputs take the target type with no Cast at the boundary; float32 islands and fixed-float
// inputs still read float32 through a Cast up; integer inputs are untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "backends/cpu/interpreter.h"
#include "passes/precision.h"

namespace kiln {
namespace {

ir::ValueType f32(Shape s) { return ir::ValueType::tensor(DataType::kFloat32, std::move(s)); }

Tensor filled(DataType dt, std::vector<int64_t> dims, float value) {
  Tensor t(dt, dims);
  for (int64_t i = 0; i < t.numel(); ++i) {
    float v = value * (1.0f + 0.1f * static_cast<float>(i));
    if (dt == DataType::kFloat16) t.data<Float16>()[i] = Float16(v);
    else t.data<float>()[i] = v;
  }
  return t;
}

int count_casts(const ir::Graph& g) {
  int n = 0;
  for (const auto& node : g.nodes()) n += node->op_type() == "Cast";
  return n;
}

const ir::Node* node_named(const ir::Graph& g, const std::string& name) {
  for (const auto& n : g.nodes())
    if (n->name() == name) return n.get();
  return nullptr;
}

bool is_cast_to(const ir::Node* n, DataType to) {
  return n && n->op_type() == "Cast" && n->attrs().get_int("to", 0) == static_cast<int64_t>(to);
}

TEST(PrecisionIo, NoCastAtTheBoundary) {
  ir::Graph g;
  g.set_opset("", 17);
  ir::Value* x = g.add_value("x", f32(Shape{2, 3}));
  ir::Value* y = g.add_value("y", f32(Shape{2, 3}));
  ir::Value* w = g.add_constant("w", filled(DataType::kFloat32, {2, 3}, 0.5f));
  ir::Value* r = g.add_value("r", f32(Shape{2, 3}));
  g.inputs().push_back(x);
  g.add_node("Mul", {x, w}, {r}, "mul");
  g.add_node("Relu", {r}, {y}, "relu");
  g.outputs() = {y, x};  // x passes through as a second output
  ASSERT_TRUE(passes::lower_precision(g, DataType::kFloat16, {}, {}, true).is_ok());
  EXPECT_EQ(count_casts(g), 0);
  EXPECT_EQ(x->type().dtype, DataType::kFloat16);
  EXPECT_EQ(g.outputs()[0], y);
  EXPECT_EQ(y->type().dtype, DataType::kFloat16);
  EXPECT_EQ(node_named(g, "mul")->input(0), x);
  EXPECT_EQ(g.outputs()[1], x);

  // bfloat16 too; and without the option the Casts stay (today's float32 bindings).
  ir::Graph h;
  h.set_opset("", 17);
  ir::Value* a = h.add_value("a", f32(Shape{4}));
  ir::Value* b = h.add_value("b", f32(Shape{4}));
  h.inputs().push_back(a);
  h.add_node("Neg", {a}, {b}, "neg");
  h.outputs() = {b};
  ASSERT_TRUE(passes::lower_precision(h, DataType::kBFloat16, {}, {}, true).is_ok());
  EXPECT_EQ(count_casts(h), 0);
  EXPECT_EQ(a->type().dtype, DataType::kBFloat16);
  EXPECT_EQ(b->type().dtype, DataType::kBFloat16);
}

TEST(PrecisionIo, DefaultKeepsFloat32Bindings) {
  ir::Graph g;
  g.set_opset("", 17);
  ir::Value* x = g.add_value("x", f32(Shape{4}));
  ir::Value* y = g.add_value("y", f32(Shape{4}));
  g.inputs().push_back(x);
  g.add_node("Neg", {x}, {y}, "neg");
  g.outputs() = {y};
  ASSERT_TRUE(passes::lower_precision(g, DataType::kFloat16).is_ok());
  EXPECT_EQ(count_casts(g), 2);
  EXPECT_EQ(x->type().dtype, DataType::kFloat32);
  EXPECT_EQ(y->type().dtype, DataType::kFloat32);
}

// a = x*c (lowered), b = a*c (kept), d = b+x (kept), e = -b (lowered); outputs d and e.
std::shared_ptr<ir::Graph> island_graph() {
  auto g = std::make_shared<ir::Graph>();
  g->set_opset("", 17);
  ir::Value* x = g->add_value("x", f32(Shape{2, 4}));
  g->inputs().push_back(x);
  ir::Value* c = g->add_constant("c", filled(DataType::kFloat32, {4}, 3.0f));
  ir::Value* a = g->add_value("a", f32(Shape{2, 4}));
  ir::Value* b = g->add_value("b", f32(Shape{2, 4}));
  ir::Value* d = g->add_value("d", f32(Shape{2, 4}));
  ir::Value* e = g->add_value("e", f32(Shape{2, 4}));
  g->add_node("Mul", {x, c}, {a}, "a");
  g->add_node("Mul", {a, c}, {b}, "b");
  g->add_node("Add", {b, x}, {d}, "d");
  g->add_node("Neg", {b}, {e}, "e");
  g->outputs() = {d, e};
  return g;
}

TEST(PrecisionIo, KeptNodesReadAndWriteFloat32ThroughCasts) {
  auto ref = island_graph();
  auto g = island_graph();
  std::set<const ir::Node*> keep = {node_named(*g, "b"), node_named(*g, "d")};
  ASSERT_TRUE(passes::lower_precision(*g, DataType::kFloat16, {}, keep, true).is_ok());

  ir::Value* x = g->find_value("x");
  EXPECT_EQ(x->type().dtype, DataType::kFloat16);
  EXPECT_EQ(node_named(*g, "a")->input(0), x);  // the lowered reader reads the binding itself
  // The kept Add reads x through one Cast up.
  const ir::Node* up = node_named(*g, "d")->input(1)->producer();
  ASSERT_TRUE(is_cast_to(up, DataType::kFloat32));
  EXPECT_EQ(up->input(0), x);
  // Its float32 result reaches the float16 output 'd' through a Cast down.
  ASSERT_EQ(g->outputs()[0]->name(), "d");
  EXPECT_EQ(g->outputs()[0]->type().dtype, DataType::kFloat16);
  const ir::Node* down = g->outputs()[0]->producer();
  ASSERT_TRUE(is_cast_to(down, DataType::kFloat16));
  EXPECT_EQ(down->input(0)->producer(), node_named(*g, "d"));
  EXPECT_EQ(down->input(0)->type().dtype, DataType::kFloat32);
  // The lowered output 'e' is written directly.
  EXPECT_EQ(g->outputs()[1]->type().dtype, DataType::kFloat16);
  EXPECT_EQ(g->outputs()[1]->producer(), node_named(*g, "e"));

  // Same values as float32 (the input rounded to float16 on both sides).
  Tensor x16 = filled(DataType::kFloat16, {2, 4}, 0.25f);
  Tensor x32(DataType::kFloat32, {2, 4});
  for (int64_t i = 0; i < 8; ++i) x32.data<float>()[i] = static_cast<float>(x16.data<Float16>()[i]);
  auto want = cpu::Interpreter::create(ref).value()->run(std::map<std::string, RuntimeValue>{{"x", RuntimeValue(x32)}});
  auto got = cpu::Interpreter::create(g).value()->run(std::map<std::string, RuntimeValue>{{"x", RuntimeValue(x16)}});
  ASSERT_TRUE(want.is_ok() && got.is_ok()) << got.status().to_string();
  for (size_t o = 0; o < 2; ++o) {
    ASSERT_EQ(got.value()[o].tensor().dtype(), DataType::kFloat16);
    for (int64_t i = 0; i < 8; ++i) {
      float w = want.value()[o].tensor().data<float>()[i];
      float v = static_cast<float>(got.value()[o].tensor().data<Float16>()[i]);
      EXPECT_NEAR(v, w, 1e-2 * std::abs(w) + 1e-3) << "output " << o << " element " << i;
    }
  }
}

TEST(PrecisionIo, FixedFloatInputReadsThroughACastUp) {
  // Resize's scales must be float32 whatever the data's type; here they are a graph input.
  ir::Graph g;
  g.set_opset("", 13);
  ir::Value* x = g.add_value("x", f32(Shape{1, 1, 2, 2}));
  ir::Value* s = g.add_value("scales", f32(Shape{4}));
  ir::Value* y = g.add_value("y", ir::ValueType::tensor(DataType::kFloat32));
  g.inputs() = {x, s};
  ir::Node* resize = g.add_node("Resize", {x, nullptr, s}, {y}, "resize");
  resize->attrs().set("mode", std::string("nearest"));
  g.outputs() = {y};
  ASSERT_TRUE(passes::lower_precision(g, DataType::kFloat16, {}, {}, true).is_ok());
  EXPECT_EQ(x->type().dtype, DataType::kFloat16);
  EXPECT_EQ(s->type().dtype, DataType::kFloat16);
  EXPECT_EQ(resize->input(0), x);
  const ir::Node* up = resize->input(2)->producer();
  ASSERT_TRUE(is_cast_to(up, DataType::kFloat32));
  EXPECT_EQ(up->input(0), s);
  EXPECT_EQ(resize->input(2)->type().dtype, DataType::kFloat32);
  EXPECT_EQ(y->type().dtype, DataType::kFloat16);
}

TEST(PrecisionIo, IntegerInputsAreUntouched) {
  ir::Graph g;
  g.set_opset("", 17);
  ir::Value* ids = g.add_value("ids", ir::ValueType::tensor(DataType::kInt64, Shape{2}));
  ir::Value* emb = g.add_constant("emb", filled(DataType::kFloat32, {5, 3}, 1.0f));
  ir::Value* y = g.add_value("y", f32(Shape{2, 3}));
  g.inputs() = {ids};
  g.add_node("Gather", {emb, ids}, {y}, "gather");
  g.outputs() = {y};
  ASSERT_TRUE(passes::lower_precision(g, DataType::kFloat16, {}, {}, true).is_ok());
  EXPECT_EQ(count_casts(g), 0);
  EXPECT_EQ(ids->type().dtype, DataType::kInt64);
  EXPECT_EQ(y->type().dtype, DataType::kFloat16);
  EXPECT_EQ(emb->type().dtype, DataType::kFloat16);
}

}  // namespace
}  // namespace kiln
