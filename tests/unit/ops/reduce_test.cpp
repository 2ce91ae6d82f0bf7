// Reduce* ops: the attribute form of old opsets, integer wrapping, empty sets, noop, shape
// inference with symbolic dims and unknown axes, and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "unit/ops/reduce_norm_harness.h"

namespace kiln::testing {
namespace {

TEST(Reduce, AxesAttributeOfOldOpsets) {
  SingleNode n("ReduceSum", 11, {{"x", tensor_type(DataType::kFloat32, Shape{2, 3})}});
  n.attrs().set("axes", std::vector<int64_t>{-1});
  n.attrs().set("keepdims", int64_t{0});
  ASSERT_TRUE(n.infer().is_ok());
  EXPECT_EQ(*n.output_type(0).shape, (Shape{2}));
  auto r = n.run({f32({2, 3}, {1, 2, 3, 4, 5, 6})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const Tensor& y = r.value()[0].tensor();
  EXPECT_EQ(y.dims(), (std::vector<int64_t>{2}));
  EXPECT_EQ(y.data<float>()[0], 6);
  EXPECT_EQ(y.data<float>()[1], 15);
}

TEST(Reduce, AxesInputConstantGivesStaticShape) {
  SingleNode n("ReduceMean", 18,
               {{"x", tensor_type(DataType::kFloat32, Shape({Dim::symbol("b"), Dim(3), Dim(4)}))},
                {"axes", tensor_type(DataType::kInt64, Shape{1})}});
  n.set_constant("axes", i64({1}, {1}));
  ASSERT_TRUE(n.infer().is_ok());
  EXPECT_EQ(*n.output_type(0).shape, Shape({Dim::symbol("b"), Dim(1), Dim(4)}));
}

TEST(Reduce, UnknownAxesKeepRankWithKeepdims) {
  SingleNode n("ReduceMax", 18,
               {{"x", tensor_type(DataType::kFloat32, Shape({Dim::symbol("b"), Dim(1), Dim(4)}))},
                {"axes", tensor_type(DataType::kInt64, Shape{2})}});
  ASSERT_TRUE(n.infer().is_ok());
  EXPECT_EQ(*n.output_type(0).shape, Shape({Dim(), Dim(1), Dim()}));
}

TEST(Reduce, UnknownAxesWithoutKeepdimsKnowTheRank) {
  SingleNode n("ReduceMax", 18,
               {{"x", tensor_type(DataType::kFloat32, Shape{2, 3, 4})}, {"axes", tensor_type(DataType::kInt64, Shape{2})}});
  n.attrs().set("keepdims", int64_t{0});
  ASSERT_TRUE(n.infer().is_ok());
  ASSERT_TRUE(n.output_type(0).shape.has_value());
  EXPECT_EQ(n.output_type(0).shape->rank(), 1u);
}

TEST(Reduce, UnknownRankStaysUnknown) {
  SingleNode n("ReduceSum", 13, {{"x", tensor_type(DataType::kFloat32, std::nullopt)}});
  ASSERT_TRUE(n.infer().is_ok());
  EXPECT_FALSE(n.output_type(0).shape.has_value());
  EXPECT_EQ(n.output_type(0).dtype, DataType::kFloat32);
}

TEST(Reduce, AxisOutOfRangeFailsInference) {
  SingleNode n("ReduceSum", 11, {{"x", tensor_type(DataType::kFloat32, Shape{2, 3})}});
  n.attrs().set("axes", std::vector<int64_t>{2});
  EXPECT_FALSE(n.infer().is_ok());
}

TEST(Reduce, RepeatedAxisFailsAtRunTime) {
  SingleNode n("ReduceSum", 13, {{"x", tensor_type(DataType::kFloat32, Shape{2, 3})}, {"axes", tensor_type(DataType::kInt64, Shape{2})}});
  auto r = n.run({f32({2, 3}, {}), i64({2}, {1, -1})});
  EXPECT_FALSE(r.is_ok());
}

TEST(Reduce, StringInputFailsInference) {
  SingleNode n("ReduceMax", 18, {{"x", tensor_type(DataType::kString, Shape{2})}});
  EXPECT_FALSE(n.infer().is_ok());
}

TEST(Reduce, IntegerSumWrapsLikeNumpy) {
  SingleNode n("ReduceSum", 13, {{"x", tensor_type(DataType::kInt8, Shape{3})}});
  n.attrs().set("keepdims", int64_t{0});
  auto r = n.run({make_tensor<int8_t>(DataType::kInt8, {3}, {100, 100, 1})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r.value()[0].tensor().data<int8_t>()[0], static_cast<int8_t>(-55));
}

TEST(Reduce, IntegerMeanTruncates) {
  SingleNode n("ReduceMean", 18, {{"x", tensor_type(DataType::kInt32, Shape{4})}});
  n.attrs().set("keepdims", int64_t{0});
  auto r = n.run({i32({4}, {-1, -2, -2, 0})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r.value()[0].tensor().data<int32_t>()[0], -1);
}

TEST(Reduce, EmptySetOfIntegersGivesTheIdentity) {
  SingleNode n("ReduceMin", 18, {{"x", tensor_type(DataType::kInt32, Shape{2, 0})}, {"axes", tensor_type(DataType::kInt64, Shape{1})}});
  auto r = n.run({i32({2, 0}, {}), i64({1}, {1})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const Tensor& y = r.value()[0].tensor();
  EXPECT_EQ(y.dims(), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(y.data<int32_t>()[0], std::numeric_limits<int32_t>::max());
}

TEST(Reduce, NoopAppliesTheElementwisePart) {
  SingleNode n("ReduceSumSquare", 18, {{"x", tensor_type(DataType::kFloat32, Shape{3})}, {"axes", tensor_type(DataType::kInt64, Shape{0})}});
  n.attrs().set("noop_with_empty_axes", int64_t{1});
  ASSERT_TRUE(n.infer().is_ok());
  EXPECT_EQ(*n.output_type(0).shape, (Shape{3}));
  auto r = n.run({f32({3}, {1, -2, 3}), i64({0}, {})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const float* y = r.value()[0].tensor().data<float>();
  EXPECT_EQ(y[0], 1);
  EXPECT_EQ(y[1], 4);
  EXPECT_EQ(y[2], 9);
}

TEST(Reduce, MaxPropagatesNaN) {
  SingleNode n("ReduceMax", 13, {{"x", tensor_type(DataType::kFloat32, Shape{3})}});
  auto r = n.run({f32({3}, {1, NAN, 3})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(std::isnan(r.value()[0].tensor().data<float>()[0]));
}

TEST(Reduce, LogSumExpIsStableForLargeValues) {
  SingleNode n("ReduceLogSumExp", 18, {{"x", tensor_type(DataType::kFloat32, Shape{2})}});
  auto r = n.run({f32({2}, {1000, 1000})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_NEAR(r.value()[0].tensor().data<float>()[0], 1000 + std::log(2.0), 1e-3);
}

TEST(Reduce, LogSumRefusesIntegersFromOpset28) {
  SingleNode n("ReduceLogSum", 28, {{"x", tensor_type(DataType::kInt32, Shape{2})}});
  EXPECT_FALSE(n.infer().is_ok());
}

TEST(Reduce, Float16ComputesInFloat) {
  SingleNode n("ReduceMean", 18, {{"x", tensor_type(DataType::kFloat16, Shape{4})}});
  Tensor x(DataType::kFloat16, {4});
  for (int i = 0; i < 4; ++i) x.data<Float16>()[i] = Float16(2048.0f + i);  // not exact as fp16 sums
  auto r = n.run({x});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(static_cast<float>(r.value()[0].tensor().data<Float16>()[0]), 2050.0f);
}

TEST(ArgMax, SelectLastIndexAndNaN) {
  SingleNode n("ArgMax", 13, {{"x", tensor_type(DataType::kFloat32, Shape{2, 3})}});
  n.attrs().set("axis", int64_t{1});
  n.attrs().set("select_last_index", int64_t{1});
  ASSERT_TRUE(n.infer().is_ok());
  EXPECT_EQ(n.output_type(0).dtype, DataType::kInt64);
  EXPECT_EQ(*n.output_type(0).shape, (Shape{2, 1}));
  auto r = n.run({f32({2, 3}, {5, 1, 5, 1, NAN, 2})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const int64_t* y = r.value()[0].tensor().data<int64_t>();
  EXPECT_EQ(y[0], 2);
  EXPECT_EQ(y[1], 1);
}

TEST(ArgMin, EmptyAxisFails) {
  SingleNode n("ArgMin", 13, {{"x", tensor_type(DataType::kFloat32, Shape{2, 0})}});
  n.attrs().set("axis", int64_t{1});
  EXPECT_FALSE(n.run({f32({2, 0}, {})}).is_ok());
}

}  // namespace
}  // namespace kiln::testing
