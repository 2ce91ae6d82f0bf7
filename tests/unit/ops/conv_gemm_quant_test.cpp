// Shape inference with symbolic dims and error handling of Conv, pools, MatMul, Gemm, Einsum
// and the quantize ops; numerics not covered by the node tests (groups, 1-D/3-D, dilations).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backends/cpu/interpreter.h"
#include "ops/shape_inference.h"

namespace kiln {
namespace {

using ir::ValueType;

struct Builder {
  std::shared_ptr<ir::Graph> g = std::make_shared<ir::Graph>();
  Builder() { g->set_opset("", 22); }
  ir::Value* input(const std::string& name, DataType dt, std::optional<Shape> s) {
    ir::Value* v = g->add_value(name, ValueType::tensor(dt, std::move(s)));
    g->inputs().push_back(v);
    return v;
  }
  ir::Node* node(const std::string& op, std::vector<ir::Value*> ins, size_t outs = 1) {
    std::vector<ir::Value*> o;
    for (size_t i = 0; i < outs; ++i) o.push_back(g->add_value(op + "_out" + std::to_string(i)));
    ir::Node* n = g->add_node(op, ins, o, op);
    for (auto* v : o) g->outputs().push_back(v);
    return n;
  }
};

Tensor random_tensor(std::vector<int64_t> dims, unsigned seed) {
  Tensor t(DataType::kFloat32, std::move(dims));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

TEST(ConvInference, SymbolicBatchAndSpatial) {
  Builder b;
  auto* x = b.input("x", DataType::kFloat32, Shape({Dim::symbol("N"), Dim(3), Dim::symbol("H"), Dim(224)}));
  auto* w = b.g->add_constant("w", Tensor(DataType::kFloat32, {64, 3, 7, 7}));
  auto* n = b.node("Conv", {x, w});
  n->attrs().set("strides", std::vector<int64_t>{2, 2});
  n->attrs().set("pads", std::vector<int64_t>{3, 3, 3, 3});
  ASSERT_TRUE(ops::infer_shapes(*b.g).is_ok());
  EXPECT_EQ(n->output(0)->type().shape->to_string(), "[N,64,?,112]");
}

TEST(ConvInference, SameKeepsSymbolAndChannelMismatchFails) {
  Builder b;
  auto* x = b.input("x", DataType::kFloat32, Shape({Dim(1), Dim(8), Dim::symbol("H"), Dim::symbol("W")}));
  auto* w = b.g->add_constant("w", Tensor(DataType::kFloat32, {16, 4, 3, 3}));
  auto* n = b.node("Conv", {x, w});
  n->attrs().set("auto_pad", std::string("SAME_UPPER"));
  n->attrs().set("group", int64_t{2});
  ASSERT_TRUE(ops::infer_shapes(*b.g).is_ok());
  EXPECT_EQ(n->output(0)->type().shape->to_string(), "[1,16,H,W]");

  Builder bad;
  auto* x2 = bad.input("x", DataType::kFloat32, Shape({1, 3, 8, 8}));
  auto* w2 = bad.g->add_constant("w", Tensor(DataType::kFloat32, {4, 3}));
  bad.node("Conv", {x2, w2});
  EXPECT_FALSE(ops::infer_shapes(*bad.g).is_ok());
}

TEST(PoolInference, UnknownRankStaysUnknownAndCeilMode) {
  Builder b;
  auto* x = b.input("x", DataType::kFloat32, std::nullopt);
  auto* n = b.node("MaxPool", {x}, 2);
  n->attrs().set("kernel_shape", std::vector<int64_t>{2, 2});
  auto* y = b.input("y", DataType::kFloat32, Shape({Dim::symbol("B"), Dim(3), Dim(5), Dim(5)}));
  auto* m = b.node("AveragePool", {y});
  m->attrs().set("kernel_shape", std::vector<int64_t>{2, 2});
  m->attrs().set("strides", std::vector<int64_t>{2, 2});
  m->attrs().set("ceil_mode", int64_t{1});
  ASSERT_TRUE(ops::infer_shapes(*b.g).is_ok());
  EXPECT_FALSE(n->output(0)->type().shape.has_value());
  EXPECT_EQ(m->output(0)->type().shape->to_string(), "[B,3,3,3]");
}

TEST(MatMulInference, BroadcastAndMismatch) {
  Builder b;
  auto* a = b.input("a", DataType::kFloat32, Shape({Dim::symbol("B"), Dim::symbol("S"), Dim(768)}));
  auto* w = b.input("w", DataType::kFloat32, Shape({768, 3072}));
  auto* n = b.node("MatMul", {a, w});
  ASSERT_TRUE(ops::infer_shapes(*b.g).is_ok());
  EXPECT_EQ(n->output(0)->type().shape->to_string(), "[B,S,3072]");

  Builder bad;
  auto* a2 = bad.input("a", DataType::kFloat32, Shape({2, 3}));
  auto* b2 = bad.input("b", DataType::kFloat32, Shape({4, 5}));
  bad.node("MatMul", {a2, b2});
  EXPECT_FALSE(ops::infer_shapes(*bad.g).is_ok());
}

TEST(EinsumInference, ImplicitOutputWithEllipsis) {
  Builder b;
  auto* a = b.input("a", DataType::kFloat32, Shape({Dim::symbol("B"), Dim(2), Dim(3)}));
  auto* c = b.input("c", DataType::kFloat32, Shape({Dim::symbol("B"), Dim(3), Dim(4)}));
  auto* n = b.node("Einsum", {a, c});
  n->attrs().set("equation", std::string("...ij,...jk"));
  ASSERT_TRUE(ops::infer_shapes(*b.g).is_ok());
  EXPECT_EQ(n->output(0)->type().shape->to_string(), "[B,2,4]");
}

// Runs a one-node graph on the interpreter.
Result<std::vector<RuntimeValue>> run(Builder& b, const std::vector<RuntimeValue>& inputs) {
  KILN_RETURN_IF_ERROR(ops::infer_shapes(*b.g));
  KILN_ASSIGN_OR_RETURN(auto interp, cpu::Interpreter::create(b.g));
  return interp->run(inputs);
}

// Naive direct convolution for a 3-D grouped, dilated, strided, padded case.
TEST(ConvKernel, Grouped3dMatchesDirectLoop) {
  const int64_t n = 1, c = 4, m = 6, grp = 2, d = 5, h = 6, w = 7, k = 2, s = 2, dil = 2, p = 1;
  Tensor x = random_tensor({n, c, d, h, w}, 1), wt = random_tensor({m, c / grp, k, k, k}, 2);
  Builder b;
  auto* xv = b.input("x", DataType::kFloat32, Shape::from_dims(x.dims()));
  auto* wv = b.input("w", DataType::kFloat32, Shape::from_dims(wt.dims()));
  auto* node = b.node("Conv", {xv, wv});
  node->attrs().set("group", grp);
  node->attrs().set("strides", std::vector<int64_t>{s, s, s});
  node->attrs().set("dilations", std::vector<int64_t>{dil, dil, dil});
  node->attrs().set("pads", std::vector<int64_t>{p, p, p, 0, 0, 0});
  auto out = run(b, {x, wt});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  const Tensor& y = out.value()[0].tensor();
  auto od = [&](int64_t in, int64_t pe) { return (in + p + pe - (dil * (k - 1) + 1)) / s + 1; };
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{n, m, od(d, 0), od(h, 0), od(w, 0)}));
  int64_t cg = c / grp, mg = m / grp;
  for (int64_t mo = 0; mo < m; ++mo)
    for (int64_t z = 0; z < y.dim(2); ++z)
      for (int64_t yy = 0; yy < y.dim(3); ++yy)
        for (int64_t xx = 0; xx < y.dim(4); ++xx) {
          double acc = 0;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t a = 0; a < k; ++a)
              for (int64_t bb = 0; bb < k; ++bb)
                for (int64_t cc = 0; cc < k; ++cc) {
                  int64_t iz = z * s - p + a * dil, iy = yy * s - p + bb * dil, ix = xx * s - p + cc * dil;
                  if (iz < 0 || iz >= d || iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                  int64_t ch = mo / mg * cg + ci;
                  acc += x.data<float>()[(((ch)*d + iz) * h + iy) * w + ix] *
                         wt.data<float>()[(((mo * cg + ci) * k + a) * k + bb) * k + cc];
                }
          float got = y.data<float>()[((mo * y.dim(2) + z) * y.dim(3) + yy) * y.dim(4) + xx];
          ASSERT_NEAR(got, acc, 1e-4);
        }
}

TEST(ConvKernel, DepthwiseAndErrors) {
  Tensor x = random_tensor({2, 3, 5, 5}, 3), wt = random_tensor({3, 1, 3, 3}, 4);
  Builder b;
  auto* xv = b.input("x", DataType::kFloat32, Shape::from_dims(x.dims()));
  auto* wv = b.input("w", DataType::kFloat32, Shape::from_dims(wt.dims()));
  auto* node = b.node("Conv", {xv, wv});
  node->attrs().set("group", int64_t{3});
  auto out = run(b, {x, wt});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  const Tensor& y = out.value()[0].tensor();
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{2, 3, 3, 3}));
  double acc = 0;  // n=1, c=2, (1,2)
  for (int a = 0; a < 3; ++a)
    for (int c = 0; c < 3; ++c) acc += x.data<float>()[((1 * 3 + 2) * 5 + 1 + a) * 5 + 2 + c] * wt.data<float>()[(2 * 3 + a) * 3 + c];
  EXPECT_NEAR(y.data<float>()[((1 * 3 + 2) * 3 + 1) * 3 + 2], acc, 1e-5);

  Builder small;  // kernel larger than the input: a clean error
  auto* xs = small.input("x", DataType::kFloat32, std::nullopt);
  auto* ws = small.input("w", DataType::kFloat32, std::nullopt);
  small.node("Conv", {xs, ws});
  auto bad = run(small, {random_tensor({1, 1, 2, 2}, 5), random_tensor({1, 1, 3, 3}, 6)});
  EXPECT_FALSE(bad.is_ok());
}

// Float32 two-operand einsums take the GEMM path; float64 the generic walk: they must agree.
TEST(EinsumKernel, GemmPathMatchesGenericWalk) {
  struct Case { const char* eq; std::vector<int64_t> a, b; };
  for (const Case& c : {Case{"ibj,kjb->bki", {3, 2, 4}, {5, 4, 2}}, Case{"bij,bjk", {2, 3, 4}, {2, 4, 5}},
                        Case{"ij,kl->ijkl", {2, 3}, {4, 5}}, Case{"...ij,jk->...ik", {2, 1, 3, 4}, {4, 2}},
                        Case{"ij,ij->", {3, 4}, {3, 4}}}) {
    Tensor a32 = random_tensor(c.a, 7), b32 = random_tensor(c.b, 8);
    Tensor a64(DataType::kFloat64, c.a), b64(DataType::kFloat64, c.b);
    for (int64_t i = 0; i < a32.numel(); ++i) a64.data<double>()[i] = a32.data<float>()[i];
    for (int64_t i = 0; i < b32.numel(); ++i) b64.data<double>()[i] = b32.data<float>()[i];
    std::vector<Tensor> results;
    for (DataType dt : {DataType::kFloat32, DataType::kFloat64}) {
      Builder b;
      auto* av = b.input("a", dt, Shape::from_dims(c.a));
      auto* bv = b.input("b", dt, Shape::from_dims(c.b));
      b.node("Einsum", {av, bv})->attrs().set("equation", std::string(c.eq));
      auto out = dt == DataType::kFloat32 ? run(b, {a32, b32}) : run(b, {a64, b64});
      ASSERT_TRUE(out.is_ok()) << c.eq << ": " << out.status().to_string();
      results.push_back(out.value()[0].tensor());
    }
    ASSERT_EQ(results[0].dims(), results[1].dims()) << c.eq;
    for (int64_t i = 0; i < results[0].numel(); ++i)
      ASSERT_NEAR(results[0].data<float>()[i], results[1].data<double>()[i], 1e-5) << c.eq << " at " << i;
  }
}

TEST(QuantizeKernel, BlockedRoundTripAndBadScale) {
  Builder b;
  auto* x = b.input("x", DataType::kFloat32, Shape({2, 4}));
  auto* s = b.input("s", DataType::kFloat32, Shape({2, 2}));
  auto* q = b.node("QuantizeLinear", {x, s});
  q->attrs().set("axis", int64_t{1});
  q->attrs().set("block_size", int64_t{2});
  q->attrs().set("output_dtype", int64_t{3});  // int8
  Tensor xt(DataType::kFloat32, {2, 4}), st(DataType::kFloat32, {2, 2});
  float xs[] = {1, 2, 300, -4, 0.5f, 1.5f, 2.5f, -2.5f}, ss[] = {1, 2, 0.5f, 1};
  std::copy(xs, xs + 8, xt.data<float>());
  std::copy(ss, ss + 4, st.data<float>());
  auto out = run(b, {xt, st});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  const Tensor& y = out.value()[0].tensor();
  ASSERT_EQ(y.dtype(), DataType::kInt8);
  std::vector<int> got(y.data<int8_t>(), y.data<int8_t>() + 8);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 127, -2, 1, 3, 2, -2}));

  auto bad = run(b, {xt, Tensor(DataType::kFloat32, {3})});
  EXPECT_FALSE(bad.is_ok());
}

}  // namespace
}  // namespace kiln
