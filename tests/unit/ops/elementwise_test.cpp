// Elementwise kernels: what the ONNX node tests do not cover (string casts, integer wrap,
// error handling).
#include <gtest/gtest.h>

#include <cmath>

#include "ir/graph.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

// Runs one node of `op` on the given inputs with the given attributes at `version`.
std::vector<RuntimeValue> run_op(const std::string& op, std::vector<Tensor> inputs, ir::Attributes attrs = {},
                                 int version = 25, size_t num_outputs = 1) {
  ir::Graph g;
  std::vector<ir::Value*> ins, outs;
  for (size_t i = 0; i < inputs.size(); ++i) ins.push_back(g.add_value("x" + std::to_string(i)));
  for (size_t i = 0; i < num_outputs; ++i) outs.push_back(g.add_value("y" + std::to_string(i)));
  ir::Node* node = g.add_node(op, ins, outs, "n");
  node->attrs() = std::move(attrs);
  const OpSchema* schema = OpRegistry::global().find("", op);
  if (!schema) throw_error(StatusCode::kUnsupported, op + " is not registered");
  std::vector<RuntimeValue> values(inputs.begin(), inputs.end());
  std::vector<const RuntimeValue*> ptrs;
  for (auto& v : values) ptrs.push_back(&v);
  KernelContext ctx(*node, version, ptrs, nullptr);
  schema->cpu(ctx);
  return ctx.outputs();
}

// Runs `op`'s shape inference on the given input types.
std::vector<ir::ValueType> infer_op(const std::string& op, std::vector<ir::ValueType> types, ir::Attributes attrs = {},
                                    int version = 25) {
  ir::Graph g;
  std::vector<ir::Value*> ins;
  for (size_t i = 0; i < types.size(); ++i) ins.push_back(g.add_value("x" + std::to_string(i)));
  ir::Node* node = g.add_node(op, ins, {g.add_value("y")}, "n");
  node->attrs() = std::move(attrs);
  std::vector<const ir::ValueType*> ptrs;
  for (auto& t : types) ptrs.push_back(&t);
  int counter = 0;
  InferenceContext ctx(*node, version, ptrs, std::vector<const Tensor*>(types.size(), nullptr), &counter);
  OpRegistry::global().find("", op)->infer(ctx);
  return ctx.outputs();
}

Tensor f32(std::vector<float> v) {
  Tensor t(DataType::kFloat32, {static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

Tensor strings(std::vector<std::string> v) {
  Tensor t(DataType::kString, {static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.strings().begin());
  return t;
}

ir::Attributes to(DataType dt) {
  ir::Attributes a;
  a.set("to", static_cast<int64_t>(dt));
  return a;
}

TEST(Cast, FloatToStringLikeNumpy) {
  auto out = run_op("Cast", {f32({1.0f, 0.1f, 1e-5f, 1e-4f, 123456789.0f, -0.0f, NAN, -INFINITY, 123456.0f, 1e6f})},
                    to(DataType::kString));
  const auto& s = out[0].tensor().strings();
  std::vector<std::string> want = {"1.0", "0.1", "1e-05", "1e-04", "1.2345679e+08", "-0.0", "nan", "-inf", "123456.0", "1e+06"};
  EXPECT_EQ(s, want);
}

TEST(Cast, StringToFloatAndInt) {
  auto out = run_op("Cast", {strings({"1.5", "INF", "-inf", "NaN", "+INF", "1e5"})}, to(DataType::kFloat32));
  const float* p = out[0].tensor().data<float>();
  EXPECT_EQ(p[0], 1.5f);
  EXPECT_TRUE(std::isinf(p[1]) && p[1] > 0);
  EXPECT_TRUE(std::isinf(p[2]) && p[2] < 0);
  EXPECT_TRUE(std::isnan(p[3]));
  EXPECT_TRUE(std::isinf(p[4]) && p[4] > 0);
  EXPECT_EQ(p[5], 1e5f);
  auto ints = run_op("Cast", {strings({"1", "-7", "100"})}, to(DataType::kInt8));
  const int8_t* q = ints[0].tensor().data<int8_t>();
  EXPECT_EQ(q[0], 1);
  EXPECT_EQ(q[1], -7);
  EXPECT_EQ(q[2], 100);
  EXPECT_THROW(run_op("Cast", {strings({"hello"})}, to(DataType::kFloat32)), Error);
}

TEST(Cast, IntegersWrapAndFloatsTruncate) {
  auto out = run_op("Cast", {f32({300.0f, -300.0f, 2.7f, -2.7f})}, to(DataType::kInt8));
  const int8_t* p = out[0].tensor().data<int8_t>();
  EXPECT_EQ(p[0], 44);
  EXPECT_EQ(p[1], -44);
  EXPECT_EQ(p[2], 2);
  EXPECT_EQ(p[3], -2);
  auto i4 = run_op("Cast", {f32({-9.0f, 8.0f, 15.0f})}, to(DataType::kInt4));
  const Int4* q = i4[0].tensor().data<Int4>();
  EXPECT_EQ(q[0].v, 7);
  EXPECT_EQ(q[1].v, -8);
  EXPECT_EQ(q[2].v, -1);
}

TEST(Cast, DoubleToHalfRoundsOnce) {
  // 1 + 2^-11 + 2^-40 lies just above a half-way point: correct rounding goes up, while a
  // double -> float -> half path would round to even (down).
  Tensor t(DataType::kFloat64, {1});
  t.data<double>()[0] = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  auto out = run_op("Cast", {t}, to(DataType::kFloat16));
  EXPECT_EQ(out[0].tensor().data<Float16>()[0].bits, 0x3C01);
}

TEST(Cast, BoolAndString) {
  Tensor b(DataType::kBool, {2});
  b.data<bool>()[0] = true;
  auto out = run_op("Cast", {b}, to(DataType::kString));
  EXPECT_EQ(out[0].tensor().strings()[0], "True");
  EXPECT_EQ(out[0].tensor().strings()[1], "False");
}

TEST(BitCast, RefusesWidthMismatch) {
  EXPECT_THROW(run_op("BitCast", {f32({1.0f})}, to(DataType::kInt64), 26), Error);
  auto out = run_op("BitCast", {f32({1.0f})}, to(DataType::kInt32), 26);
  EXPECT_EQ(out[0].tensor().data<int32_t>()[0], 0x3F800000);
}

TEST(Elementwise, DtypeMismatchFails) {
  Tensor i(DataType::kInt32, {1});
  EXPECT_THROW(run_op("Less", {f32({1.0f}), i}), Error);
  EXPECT_THROW(run_op("Sqrt", {i}), Error);
  EXPECT_THROW(run_op("Add", {f32({1.0f, 2.0f}), f32({1.0f, 2.0f, 3.0f})}), Error);
}

TEST(Mod, IntegerPythonStyleAndZero) {
  Tensor a(DataType::kInt32, {2}), b(DataType::kInt32, {2});
  a.data<int32_t>()[0] = -7; a.data<int32_t>()[1] = 7;
  b.data<int32_t>()[0] = 3; b.data<int32_t>()[1] = -3;
  auto out = run_op("Mod", {a, b});
  EXPECT_EQ(out[0].tensor().data<int32_t>()[0], 2);
  EXPECT_EQ(out[0].tensor().data<int32_t>()[1], -2);
  b.data<int32_t>()[0] = 0;
  EXPECT_THROW(run_op("Mod", {a, b}), Error);
}

TEST(BitShift, OutOfRangeShifts) {
  Tensor a(DataType::kInt8, {2}), b(DataType::kInt8, {2});
  a.data<int8_t>()[0] = -5; a.data<int8_t>()[1] = 5;
  b.data<int8_t>()[0] = 9; b.data<int8_t>()[1] = -1;
  ir::Attributes right;
  right.set("direction", std::string("RIGHT"));
  auto out = run_op("BitShift", {a, b}, right, 28);
  EXPECT_EQ(out[0].tensor().data<int8_t>()[0], -1);
  EXPECT_EQ(out[0].tensor().data<int8_t>()[1], 0);
}

TEST(Where, Strings) {
  Tensor c(DataType::kBool, {2});
  c.data<bool>()[0] = true;
  auto out = run_op("Where", {c, strings({"a", "b"}), strings({"c"})});
  EXPECT_EQ(out[0].tensor().strings()[0], "a");
  EXPECT_EQ(out[0].tensor().strings()[1], "c");
}

TEST(Add, LegacyAxisBroadcastAndIntegerWrap) {
  Tensor a(DataType::kFloat32, {2, 3, 2}), b = f32({10.0f, 20.0f, 30.0f});
  ir::Attributes attrs;
  attrs.set("broadcast", int64_t{1});
  attrs.set("axis", int64_t{1});
  auto out = run_op("Add", {a, b}, attrs, 6);
  const Tensor& y = out[0].tensor();
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{2, 3, 2}));
  EXPECT_EQ(y.data<float>()[0], 10.0f);
  EXPECT_EQ(y.data<float>()[2], 20.0f);
  EXPECT_EQ(y.data<float>()[11], 30.0f);
  Tensor i(DataType::kInt32, {1}), j(DataType::kInt32, {1});
  i.data<int32_t>()[0] = 2147483647;
  j.data<int32_t>()[0] = 1;
  EXPECT_EQ(run_op("Add", {i, j}, {}, 14)[0].tensor().data<int32_t>()[0], -2147483647 - 1);
}

TEST(Less, LegacyAxisBroadcast) {
  Tensor a(DataType::kFloat32, {2, 3}), b = f32({1.0f, 2.0f});
  ir::Attributes attrs;
  attrs.set("broadcast", int64_t{1});
  attrs.set("axis", int64_t{0});
  auto out = run_op("Less", {a, b}, attrs, 1);
  ASSERT_EQ(out[0].tensor().dims(), (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(out[0].tensor().data<bool>()[5]);
  attrs.set("axis", int64_t{1});  // B of 2 does not fit A's dim 1 (3)
  EXPECT_THROW(run_op("Less", {a, b}, attrs, 1), Error);
}

TEST(Clip, AttributeAndInputForms) {
  ir::Attributes attrs;
  attrs.set("min", -1.0f);
  attrs.set("max", 1.0f);
  auto old = run_op("Clip", {f32({-5.0f, 0.5f, 5.0f, NAN})}, attrs, 6);
  const float* p = old[0].tensor().data<float>();
  EXPECT_EQ(p[0], -1.0f);
  EXPECT_EQ(p[1], 0.5f);
  EXPECT_EQ(p[2], 1.0f);
  EXPECT_TRUE(std::isnan(p[3]));
  Tensor x(DataType::kInt32, {3}), lo(DataType::kInt32, {}), hi(DataType::kInt32, {});
  x.data<int32_t>()[0] = -7; x.data<int32_t>()[1] = 2; x.data<int32_t>()[2] = 9;
  lo.data<int32_t>()[0] = 5;
  hi.data<int32_t>()[0] = 3;  // min > max: everything becomes max
  auto out = run_op("Clip", {x, lo, hi}, {}, 13);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(out[0].tensor().data<int32_t>()[k], 3);
  EXPECT_THROW(run_op("Clip", {x, f32({1.0f})}, {}, 13), Error);
}

TEST(Inference, SymbolicBroadcastAndUnknownRank) {
  Shape a({Dim::symbol("batch"), Dim(1), Dim(4)});
  Shape b({Dim(3), Dim(1)});
  auto out = infer_op("Add", {ir::ValueType::tensor(DataType::kFloat32, a), ir::ValueType::tensor(DataType::kFloat32, b)});
  ASSERT_TRUE(out[0].shape);
  EXPECT_EQ(*out[0].shape, Shape({Dim::symbol("batch"), Dim(3), Dim(4)}));
  auto cmp = infer_op("Less", {ir::ValueType::tensor(DataType::kInt64, a), ir::ValueType::tensor(DataType::kInt64)});
  EXPECT_EQ(cmp[0].dtype, DataType::kBool);
  EXPECT_FALSE(cmp[0].shape);
  auto where = infer_op("Where", {ir::ValueType::tensor(DataType::kBool, b), ir::ValueType::tensor(DataType::kString, a),
                                  ir::ValueType::tensor(DataType::kString, Shape({Dim(4)}))});
  EXPECT_EQ(where[0].dtype, DataType::kString);
  EXPECT_EQ(where[0].shape->rank(), 3u);
}

TEST(Inference, RejectsInvalidTypes) {
  auto f = ir::ValueType::tensor(DataType::kFloat32, Shape({2}));
  auto i = ir::ValueType::tensor(DataType::kInt32, Shape({2}));
  EXPECT_THROW(infer_op("Add", {f, i}), Error);
  EXPECT_THROW(infer_op("Sqrt", {i}), Error);
  EXPECT_THROW(infer_op("BitwiseAnd", {f, f}), Error);
  EXPECT_THROW(infer_op("And", {i, i}), Error);
  EXPECT_THROW(infer_op("Where", {f, f, f}), Error);
  EXPECT_THROW(infer_op("Mul", {f, ir::ValueType::tensor(DataType::kFloat32, Shape({3}))}), Error);
  auto cast = infer_op("Cast", {f}, to(DataType::kFloat8E4M3FN));
  EXPECT_EQ(cast[0].dtype, DataType::kFloat8E4M3FN);
  EXPECT_EQ(*cast[0].shape, Shape({2}));
  EXPECT_THROW(infer_op("Cast", {f}, to(DataType::kComplex64)), Error);
}

}  // namespace
}  // namespace kiln::ops
