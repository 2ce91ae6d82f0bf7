// FP16 overflow protection: the range scan, the choice of float32 layers, float32 islands in
// precision lowering, and whole --fp16 builds on the CPU backend (which honors float16 values).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "backends/cpu/interpreter.h"
#include "io/random_inputs.h"
#include "passes/fp16_overflow.h"
#include "passes/precision.h"
#include "runtime/builder.h"
#include "runtime/execution_context.h"

namespace kiln {
namespace {

ir::ValueType f32(Shape s) { return ir::ValueType::tensor(DataType::kFloat32, std::move(s)); }

Tensor filled(std::vector<int64_t> dims, float value) {
  Tensor t(DataType::kFloat32, dims);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = value * (1.0f + 0.01f * static_cast<float>(i));
  return t;
}

// y = Softmax(MatMul(MatMul(x, 1e6), 1e-6) + x): the intermediate 'h' reaches ~1e6, far beyond
// float16's 65504, though input and output are small. `batch` may be symbolic. (The optimizer
// fuses the Add into the second MatMul; the Softmax stays a layer of its own.)
ir::Model overflow_model(Dim batch = Dim(2)) {
  ir::Model m;
  ir::Graph& g = *m.graph;
  g.set_opset("", 17);
  ir::Value* x = g.add_value("x", f32(Shape(std::vector<Dim>{batch, Dim(4)})));
  g.inputs().push_back(x);
  ir::Value* w1 = g.add_constant("w1", filled({4, 4}, 1e6f));
  ir::Value* w2 = g.add_constant("w2", filled({4, 4}, 1e-6f));
  ir::Value* h = g.add_value("h", f32(Shape(std::vector<Dim>{batch, Dim(4)})));
  ir::Value* o = g.add_value("o", f32(Shape(std::vector<Dim>{batch, Dim(4)})));
  ir::Value* out = g.add_value("out", f32(Shape(std::vector<Dim>{batch, Dim(4)})));
  g.add_node("MatMul", {x, w1}, {h}, "big");
  g.add_node("MatMul", {h, w2}, {o}, "small");
  ir::Value* y = g.add_value("y", f32(Shape(std::vector<Dim>{batch, Dim(4)})));
  g.add_node("Add", {o, x}, {out}, "add");
  g.add_node("Softmax", {out}, {y}, "softmax");
  g.outputs() = {y};
  return m;
}

// Same structure with harmless weights: nothing leaves float16's range.
ir::Model tame_model() {
  ir::Model m = overflow_model();
  ir::Graph& g = *m.graph;
  g.find_value("w1")->set_constant(std::make_shared<const Tensor>(filled({4, 4}, 0.5f)));
  g.find_value("w2")->set_constant(std::make_shared<const Tensor>(filled({4, 4}, 0.25f)));
  return m;
}

Tensor input_x(int64_t batch = 2) {
  Tensor x(DataType::kFloat32, {batch, 4});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
  return x;
}

struct Built {
  std::shared_ptr<runtime::Engine> engine;
  runtime::BuildReport report;
  std::vector<std::string> warnings;
};

Built build(ir::Model m, runtime::BuilderConfig config) {
  Built b;
  config.report = &b.report;
  config.warn = [&b](const std::string& w) { b.warnings.push_back(w); };
  auto engine = runtime::Builder::build(m, config);
  EXPECT_TRUE(engine.is_ok()) << engine.status().to_string();
  if (engine.is_ok()) b.engine = engine.value();
  return b;
}

Tensor run_engine(runtime::Engine& engine, const Tensor& x) {
  auto ctx = engine.create_context();
  EXPECT_TRUE(ctx.is_ok()) << ctx.status().to_string();
  auto out = ctx.value()->run({{"x", x}});
  EXPECT_TRUE(out.is_ok()) << out.status().to_string();
  return out.value().at(0);
}

runtime::BuilderConfig fp16_config() {
  runtime::BuilderConfig c;
  c.fp16 = true;
  return c;
}

// Op type and dtype of every node's first output, in order: the shape of a built graph.
std::vector<std::string> signature(const ir::Graph& g) {
  std::vector<std::string> s;
  for (const auto& n : g.nodes())
    s.push_back(n->op_type() + ":" + (n->output(0) ? n->output(0)->type().to_string() : "-"));
  return s;
}

TEST(Fp16Overflow, ScanRecordsRangesAndNamesTheLayers) {
  ir::Model m = overflow_model();
  auto scan = passes::scan_value_ranges(*m.graph, {{"x", RuntimeValue(input_x())}}, 60);
  ASSERT_TRUE(scan.is_ok()) << scan.status().to_string();
  EXPECT_TRUE(scan.value().complete);
  EXPECT_EQ(scan.value().nodes_run, 4u);
  EXPECT_GT(scan.value().ranges.at("h").max_abs, 1e5);
  EXPECT_LT(scan.value().ranges.at("out").max_abs, 10);
  EXPECT_LE(scan.value().ranges.at("y").max_abs, 1);
  EXPECT_NEAR(scan.value().ranges.at("x").max_abs, 0.3, 1e-6);
  auto hot = passes::out_of_range_nodes(*m.graph, scan.value());
  ASSERT_EQ(hot.size(), 2u);  // 'big' writes h, 'small' reads it
  EXPECT_EQ(hot[0].node->name(), "big");
  EXPECT_NE(hot[0].message.find("layer 'big' (MatMul) keeps float32: max |value|"), std::string::npos) << hot[0].message;
  EXPECT_NE(hot[0].message.find("exceeds float16's range"), std::string::npos);
  EXPECT_EQ(hot[1].node->name(), "small");
  EXPECT_NE(hot[1].message.find("reads 'h'"), std::string::npos) << hot[1].message;
}

TEST(Fp16Overflow, ScanNotesInfAndNan) {
  ir::Model m = overflow_model();
  m.graph->find_value("w1")->set_constant(std::make_shared<const Tensor>(filled({4, 4}, 1e38f)));
  auto scan = passes::scan_value_ranges(*m.graph, {{"x", RuntimeValue(filled({2, 4}, 10.0f))}}, 60);
  ASSERT_TRUE(scan.is_ok());
  EXPECT_TRUE(scan.value().ranges.at("h").nonfinite);
  auto hot = passes::out_of_range_nodes(*m.graph, scan.value());
  ASSERT_FALSE(hot.empty());
  EXPECT_NE(hot[0].message.find("inf/nan"), std::string::npos) << hot[0].message;
}

TEST(Fp16Overflow, ScanStopsAtTheTimeBudget) {
  ir::Model m = overflow_model();
  auto scan = passes::scan_value_ranges(*m.graph, {{"x", RuntimeValue(input_x())}}, -1);
  ASSERT_TRUE(scan.is_ok());
  EXPECT_FALSE(scan.value().complete);
  EXPECT_EQ(scan.value().nodes_run, 0u);
}

TEST(Fp16Overflow, EstimatesWork) {
  ir::Model m = overflow_model();
  // Two [2,4]x[4,4] products (2*8*4 FLOP each), an Add over 3x8 elements, a Softmax over 2x8.
  EXPECT_NEAR(passes::estimate_gflop(*m.graph) * 1e9, 64 + 64 + 24 + 16, 1e-6);
}

TEST(Fp16Overflow, CloneIsIndependent) {
  ir::Model m = overflow_model();
  auto copy = passes::clone_graph(*m.graph);
  ASSERT_EQ(copy->nodes().size(), 4u);
  EXPECT_EQ(copy->inputs().at(0)->name(), "x");
  EXPECT_EQ(copy->outputs().at(0)->name(), "y");
  EXPECT_NE(copy->inputs().at(0), m.graph->inputs().at(0));
  auto ref = cpu::Interpreter::create(m.graph);
  auto cpy = cpu::Interpreter::create(std::shared_ptr<const ir::Graph>(std::move(copy)));
  ASSERT_TRUE(ref.is_ok() && cpy.is_ok());
  auto a = (*ref)->run({RuntimeValue(input_x())});
  auto b = (*cpy)->run({RuntimeValue(input_x())});
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  for (int64_t i = 0; i < 8; ++i)
    EXPECT_EQ(a.value()[0].tensor().data<float>()[i], b.value()[0].tensor().data<float>()[i]);
}

// Islands in lower_precision, by hand: a = x*c (lowered), b = a*c (kept), d = b+x (kept),
// e = -b (lowered); outputs d and e. c is shared by kept and lowered nodes.
TEST(Fp16Overflow, LowerPrecisionKeepsFloat32Islands) {
  auto make = [] {
    auto g = std::make_shared<ir::Graph>();
    g->set_opset("", 17);
    ir::Value* x = g->add_value("x", f32(Shape{2, 4}));
    g->inputs().push_back(x);
    ir::Value* c = g->add_constant("c", filled({4}, 3.0f));
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
  };
  auto ref = make();
  auto g = make();
  std::set<const ir::Node*> keep;
  for (const auto& n : g->nodes())
    if (n->name() == "b" || n->name() == "d") keep.insert(n.get());
  ASSERT_TRUE(passes::lower_precision(*g, DataType::kFloat16, {}, keep).is_ok());

  auto dtype = [&](const std::string& v) { return g->find_value(v)->type().dtype; };
  EXPECT_EQ(dtype("x"), DataType::kFloat32);
  EXPECT_EQ(dtype("a"), DataType::kFloat16);
  EXPECT_EQ(dtype("b"), DataType::kFloat32);
  EXPECT_EQ(dtype("d"), DataType::kFloat32);
  EXPECT_EQ(dtype("e"), DataType::kFloat32);  // graph output, restored by a Cast
  EXPECT_EQ(dtype("c"), DataType::kFloat16);  // for 'a'; 'b' has a float32 copy
  std::map<std::string, const ir::Node*> by_name;
  for (const auto& n : g->nodes()) by_name[n->name()] = n.get();
  const ir::Node* b = by_name.at("b");
  EXPECT_EQ(b->input(1)->type().dtype, DataType::kFloat32);
  ASSERT_TRUE(b->input(1)->is_constant());
  EXPECT_EQ(b->input(1)->constant().dtype(), DataType::kFloat32);
  ASSERT_NE(b->input(0)->producer(), nullptr);
  EXPECT_EQ(b->input(0)->producer()->op_type(), "Cast");  // a up to float32
  EXPECT_EQ(by_name.at("d")->input(1), g->find_value("x"));  // the float32 graph input itself
  const ir::Node* e = g->find_value("e")->producer();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->op_type(), "Cast");
  const ir::Node* neg = by_name.at("e");
  EXPECT_EQ(neg->input(0)->type().dtype, DataType::kFloat16);  // b down to float16
  EXPECT_EQ(neg->input(0)->producer()->op_type(), "Cast");
  int casts = 0;
  for (const auto& n : g->nodes()) casts += n->op_type() == "Cast";
  EXPECT_EQ(casts, 4);  // x down, a up, b down, e's output up

  auto ri = cpu::Interpreter::create(ref);
  auto li = cpu::Interpreter::create(g);
  ASSERT_TRUE(ri.is_ok() && li.is_ok()) << li.status().to_string();
  auto want = (*ri)->run({RuntimeValue(input_x())});
  auto got = (*li)->run({RuntimeValue(input_x())});
  ASSERT_TRUE(want.is_ok() && got.is_ok()) << got.status().to_string();
  for (size_t k = 0; k < 2; ++k)
    for (int64_t i = 0; i < 8; ++i) {
      float w = want.value()[k].tensor().data<float>()[i], v = got.value()[k].tensor().data<float>()[i];
      EXPECT_NEAR(v, w, 1e-2 * (1 + std::fabs(w)));
    }
}

TEST(Fp16Overflow, Fp16BuildKeepsOverflowingLayersInFloat32) {
  Tensor x = input_x();
  Built ref = build(overflow_model(), runtime::BuilderConfig{});
  Built protected_ = build(overflow_model(), fp16_config());
  runtime::BuilderConfig off = fp16_config();
  off.overflow_check = false;
  Built unprotected = build(overflow_model(), off);
  ASSERT_TRUE(ref.engine && protected_.engine && unprotected.engine);

  EXPECT_GE(protected_.report.float32_layers, 1);
  EXPECT_NE(protected_.report.overflow_check.find("layers keep float32"), std::string::npos)
      << protected_.report.overflow_check;
  ASSERT_FALSE(protected_.warnings.empty());
  bool named = false;
  for (const auto& w : protected_.warnings)
    named |= w.find("layer 'big'") != std::string::npos && w.find("exceeds float16's range") != std::string::npos;
  EXPECT_TRUE(named) << protected_.warnings[0];
  EXPECT_TRUE(unprotected.report.overflow_check.empty());
  EXPECT_TRUE(unprotected.warnings.empty());

  // The layer that writes h runs in float32 in the engine's graph.
  const ir::Graph& g = *protected_.engine->desc().graph;
  ir::Value* h = g.find_value("h");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->type().dtype, DataType::kFloat32);
  ir::Value* sm_in = g.find_value("y")->producer()->input(0);  // the Cast back to float32
  ASSERT_NE(sm_in->producer(), nullptr);
  EXPECT_EQ(sm_in->producer()->op_type(), "Softmax");
  EXPECT_EQ(sm_in->producer()->input(0)->type().dtype, DataType::kFloat16) << "the Softmax is still lowered";

  Tensor want = run_engine(*ref.engine, x);
  Tensor got = run_engine(*protected_.engine, x);
  for (int64_t i = 0; i < want.numel(); ++i) {
    float w = want.data<float>()[i];
    EXPECT_NEAR(got.data<float>()[i], w, 1e-2 * (1 + std::fabs(w))) << i;
  }
  // Without the check 'h' is float16 (its values then overflow; constants saturate at 65504, so
  // how wrong the output gets depends on the data: this model's uniform weights hide it).
  EXPECT_EQ(unprotected.engine->desc().graph->find_value("h")->type().dtype, DataType::kFloat16);
}

TEST(Fp16Overflow, GraphWithoutOverflowIsUnchanged) {
  Built checked = build(tame_model(), fp16_config());
  runtime::BuilderConfig off = fp16_config();
  off.overflow_check = false;
  Built unchecked = build(tame_model(), off);
  ASSERT_TRUE(checked.engine && unchecked.engine);
  EXPECT_EQ(checked.report.float32_layers, 0);
  EXPECT_NE(checked.report.overflow_check.find("0 layers keep float32"), std::string::npos)
      << checked.report.overflow_check;
  EXPECT_TRUE(checked.warnings.empty());
  EXPECT_EQ(signature(*checked.engine->desc().graph), signature(*unchecked.engine->desc().graph));
}

TEST(Fp16Overflow, Bf16BuildsAreNotChecked) {
  runtime::BuilderConfig c;
  c.bf16 = true;
  Built b = build(overflow_model(), c);
  EXPECT_TRUE(b.report.overflow_check.empty());
  EXPECT_TRUE(b.warnings.empty());
}

TEST(Fp16Overflow, TooLargeGraphsAreSkipped) {
  runtime::BuilderConfig c = fp16_config();
  c.overflow_check_max_gflop = 1e-9;
  Built b = build(overflow_model(), c);
  ASSERT_TRUE(b.engine);
  EXPECT_EQ(b.report.float32_layers, 0);
  EXPECT_NE(b.report.overflow_check.find("skipped"), std::string::npos) << b.report.overflow_check;
}

TEST(Fp16Overflow, ShapeDimsAreCheckedAtTheirSmallestValue) {
  runtime::BuilderConfig c = fp16_config();
  c.dims = {{"N", 64}};
  // The bound graph (N=64) is over this limit, the probe (N=1) is not.
  c.overflow_check_max_gflop = 2e-7;
  Built b = build(overflow_model(Dim::symbol("N")), c);
  ASSERT_TRUE(b.engine);
  EXPECT_NE(b.report.overflow_check.find("smallest --shape dims"), std::string::npos) << b.report.overflow_check;
  EXPECT_GE(b.report.float32_layers, 1);
  EXPECT_EQ(b.engine->desc().graph->find_value("h")->type().dtype, DataType::kFloat32);
  Built ref = build(overflow_model(Dim::symbol("N")), [] {
    runtime::BuilderConfig r;
    r.dims = {{"N", 64}};
    return r;
  }());
  Tensor x = input_x(64);
  Tensor want = run_engine(*ref.engine, x), got = run_engine(*b.engine, x);
  for (int64_t i = 0; i < want.numel(); ++i)
    EXPECT_NEAR(got.data<float>()[i], want.data<float>()[i], 1e-2 * (1 + std::fabs(want.data<float>()[i])));
}

TEST(Fp16Overflow, SampleInputsDriveTheCheck) {
  // Tame weights, but a sample input large enough to overflow float16 after the first product.
  runtime::BuilderConfig c = fp16_config();
  Tensor x = filled({2, 4}, 3e4f);
  c.sample_inputs = {{"x", RuntimeValue(x)}};
  Built b = build(tame_model(), c);
  ASSERT_TRUE(b.engine);
  EXPECT_GE(b.report.float32_layers, 1) << b.report.overflow_check;
  // A sample of the wrong shape is reported, not fatal.
  c.sample_inputs = {{"x", RuntimeValue(filled({3, 4}, 1.0f))}};
  Built wrong = build(tame_model(), c);
  ASSERT_TRUE(wrong.engine);
  ASSERT_EQ(wrong.warnings.size(), 1u);
  EXPECT_NE(wrong.warnings[0].find("skipped"), std::string::npos) << wrong.warnings[0];
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

// "Minus infinity" written as float32's lowest value saturates at float16's: a mask computed at
// run time as (1 - m) * c then stays 0 where m is 1 instead of 0 * -inf = NaN.
TEST(Precision, Float16ConstantsSaturateInsteadOfOverflowing) {
  auto g = std::make_shared<ir::Graph>();
  g->set_opset("", 17);
  ir::Value* m = g->add_value("m", f32(Shape{4}));
  g->inputs().push_back(m);
  Tensor lowest(DataType::kFloat32, {1});
  lowest.data<float>()[0] = std::numeric_limits<float>::lowest();
  ir::Value* c = g->add_constant("c", lowest);
  ir::Value* y = g->add_value("y", f32(Shape{4}));
  g->add_node("Mul", {m, c}, {y}, "scale");
  g->outputs() = {y};
  ASSERT_TRUE(passes::lower_precision(*g, DataType::kFloat16, {}, {}).is_ok());
  const ir::Value* lowered = g->find_value("c");
  ASSERT_TRUE(lowered->is_constant());
  ASSERT_EQ(lowered->constant().dtype(), DataType::kFloat16);
  EXPECT_EQ(static_cast<float>(lowered->constant().data<Float16>()[0]), -65504.f);
}

TEST(Fp16Overflow, WarningsAreCappedAndTheRestLogged) {
  // x * 1e6, then 12 Negs of the large value: 13 layers keep float32.
  ir::Model m;
  ir::Graph& g = *m.graph;
  g.set_opset("", 17);
  auto f32 = [](Shape s) { return ir::ValueType::tensor(DataType::kFloat32, std::move(s)); };
  ir::Value* v = g.add_value("x", f32(Shape{2, 4}));
  g.inputs().push_back(v);
  ir::Value* k = g.add_constant("k", filled({1}, 1e6f));
  ir::Value* big = g.add_value("big", f32(Shape{2, 4}));
  g.add_node("Mul", {v, k}, {big}, "scale");
  v = big;
  for (int i = 0; i < 12; ++i) {
    ir::Value* next = g.add_value("n" + std::to_string(i), f32(Shape{2, 4}));
    g.add_node("Neg", {v}, {next}, "neg" + std::to_string(i));
    v = next;
  }
  g.outputs() = {v};
  runtime::BuilderConfig c = fp16_config();
  c.disabled_passes = {"elementwise-chain-fusion"};
  c.verbose = true;
  std::vector<std::string> logged;
  c.log = [&](const std::string& l) { logged.push_back(l); };
  Built b = build(std::move(m), c);
  ASSERT_TRUE(b.engine);
  EXPECT_EQ(b.report.float32_layers, 13);
  ASSERT_EQ(b.warnings.size(), 11u);
  EXPECT_NE(b.warnings.back().find("3 more layers keep float32"), std::string::npos) << b.warnings.back();
  size_t listed = 0;
  for (const auto& l : logged) listed += l.find("keeps float32") != std::string::npos;
  EXPECT_EQ(listed, 3u);
}

}  // namespace
}  // namespace kiln
