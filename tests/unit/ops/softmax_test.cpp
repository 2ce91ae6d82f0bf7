// Softmax family (2-D coercion before opset 13), TopK, CumSum/CumProd.
#include <gtest/gtest.h>

#include <cmath>

#include "unit/ops/reduce_norm_harness.h"

namespace kiln::testing {
namespace {

TEST(Softmax, Opset11CoercesTo2D) {
  // axis=1 of [1, 2, 2]: one row of 4 values, not two softmaxes over dim 1.
  SingleNode n("Softmax", 11, {{"x", tensor_type(DataType::kFloat32, Shape{1, 2, 2})}});
  auto r = n.run({f32({1, 2, 2}, {0, 0, 0, 0})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(r.value()[0].tensor().data<float>()[i], 0.25f);
}

TEST(Softmax, Opset13UsesOneAxis) {
  SingleNode n("Softmax", 13, {{"x", tensor_type(DataType::kFloat32, Shape{1, 2, 2})}});
  n.attrs().set("axis", int64_t{1});
  auto r = n.run({f32({1, 2, 2}, {0, 0, 0, 0})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(r.value()[0].tensor().data<float>()[i], 0.5f);
}

TEST(Softmax, AxisOutOfRangeFailsInference) {
  SingleNode n("LogSoftmax", 13, {{"x", tensor_type(DataType::kFloat32, Shape{2, 2})}});
  n.attrs().set("axis", int64_t{2});
  EXPECT_FALSE(n.infer().is_ok());
}

TEST(Softmax, IntegerInputFailsInference) {
  SingleNode n("Softmax", 13, {{"x", tensor_type(DataType::kInt32, Shape{2})}});
  EXPECT_FALSE(n.infer().is_ok());
}

TEST(Hardmax, FirstMaximumWins) {
  SingleNode n("Hardmax", 13, {{"x", tensor_type(DataType::kFloat32, Shape{4})}});
  auto r = n.run({f32({4}, {1, 3, 3, 2})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const float* y = r.value()[0].tensor().data<float>();
  EXPECT_EQ(y[0], 0);
  EXPECT_EQ(y[1], 1);
  EXPECT_EQ(y[2], 0);
}

TEST(TopK, SymbolicKAndOpset1Attribute) {
  SingleNode dyn("TopK", 11, {{"x", tensor_type(DataType::kFloat32, Shape{3, 5})}, {"k", tensor_type(DataType::kInt64, Shape{1})}}, 2);
  ASSERT_TRUE(dyn.infer().is_ok());
  EXPECT_TRUE((*dyn.output_type(0).shape)[1].is_symbolic());
  EXPECT_EQ(dyn.output_type(1).dtype, DataType::kInt64);

  SingleNode old("TopK", 1, {{"x", tensor_type(DataType::kFloat32, Shape{5})}}, 2);
  old.attrs().set("k", int64_t{2});
  ASSERT_TRUE(old.infer().is_ok());
  EXPECT_EQ(*old.output_type(0).shape, (Shape{2}));
  auto r = old.run({f32({5}, {1, 5, 2, 5, 0})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const int64_t* idx = r.value()[1].tensor().data<int64_t>();
  EXPECT_EQ(idx[0], 1);  // ties: lower index first
  EXPECT_EQ(idx[1], 3);
}

TEST(TopK, KLargerThanAxisFails) {
  SingleNode n("TopK", 11, {{"x", tensor_type(DataType::kFloat32, Shape{3})}, {"k", tensor_type(DataType::kInt64, Shape{1})}}, 2);
  EXPECT_FALSE(n.run({f32({3}, {1, 2, 3}), i64({1}, {4})}).is_ok());
  EXPECT_FALSE(n.run({f32({3}, {1, 2, 3}), i64({1}, {-1})}).is_ok());
}

TEST(TopK, ConstantKLargerThanAxisFailsInference) {
  SingleNode n("TopK", 11, {{"x", tensor_type(DataType::kFloat32, Shape{3})}, {"k", tensor_type(DataType::kInt64, Shape{1})}}, 2);
  n.set_constant("k", i64({1}, {4}));
  EXPECT_FALSE(n.infer().is_ok());
}

TEST(TopK, SmallestPutsNaNLast) {
  SingleNode n("TopK", 11, {{"x", tensor_type(DataType::kFloat32, Shape{3})}, {"k", tensor_type(DataType::kInt64, Shape{1})}}, 2);
  n.attrs().set("largest", int64_t{0});
  auto r = n.run({f32({3}, {NAN, 2, 1}), i64({1}, {3})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const int64_t* idx = r.value()[1].tensor().data<int64_t>();
  EXPECT_EQ(idx[0], 2);
  EXPECT_EQ(idx[1], 1);
  EXPECT_EQ(idx[2], 0);
}

TEST(CumSum, ExclusiveReverse) {
  SingleNode n("CumSum", 14, {{"x", tensor_type(DataType::kInt32, Shape{4})}, {"axis", tensor_type(DataType::kInt64, Shape{})}});
  n.attrs().set("exclusive", int64_t{1});
  n.attrs().set("reverse", int64_t{1});
  auto r = n.run({i32({4}, {1, 2, 3, 4}), i64({}, {0})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const int32_t* y = r.value()[0].tensor().data<int32_t>();
  EXPECT_EQ(y[0], 9);
  EXPECT_EQ(y[1], 7);
  EXPECT_EQ(y[2], 4);
  EXPECT_EQ(y[3], 0);
}

TEST(CumProd, BadAxisFails) {
  SingleNode n("CumProd", 26, {{"x", tensor_type(DataType::kFloat32, Shape{4})}, {"axis", tensor_type(DataType::kInt64, Shape{})}});
  EXPECT_FALSE(n.run({f32({4}, {1, 2, 3, 4}), i64({}, {1})}).is_ok());
  SingleNode c("CumProd", 26, {{"x", tensor_type(DataType::kFloat32, Shape{4})}, {"axis", tensor_type(DataType::kInt64, Shape{})}});
  c.set_constant("axis", i64({}, {-2}));
  EXPECT_FALSE(c.infer().is_ok());
}

}  // namespace
}  // namespace kiln::testing
