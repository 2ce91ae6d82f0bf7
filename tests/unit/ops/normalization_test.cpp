// Normalization ops and losses: version-specific semantics and errors the node tests miss.
#include <gtest/gtest.h>

#include <cmath>

#include "unit/ops/reduce_norm_harness.h"

namespace kiln::testing {
namespace {

TEST(GroupNormalization, Opset18ScalesPerGroupOpset21PerChannel) {
  // x: N=1, C=4, 1 position; 2 groups of 2 channels, each normalizes to [-1, 1] (eps 0).
  Tensor x = f32({1, 4, 1}, {0, 2, 10, 14});
  SingleNode g18("GroupNormalization", 18, {{"x", tensor_type(DataType::kFloat32, Shape{1, 4, 1})},
                                              {"s", tensor_type(DataType::kFloat32, Shape{2})},
                                              {"b", tensor_type(DataType::kFloat32, Shape{2})}});
  g18.attrs().set("num_groups", int64_t{2});
  g18.attrs().set("epsilon", 0.0f);
  auto r18 = g18.run({x, f32({2}, {1, 10}), f32({2}, {0, 100})});
  ASSERT_TRUE(r18.is_ok()) << r18.status().to_string();
  const float* y18 = r18.value()[0].tensor().data<float>();
  EXPECT_FLOAT_EQ(y18[0], -1);
  EXPECT_FLOAT_EQ(y18[3], 110);

  SingleNode g21("GroupNormalization", 21, {{"x", tensor_type(DataType::kFloat32, Shape{1, 4, 1})},
                                              {"s", tensor_type(DataType::kFloat32, Shape{4})},
                                              {"b", tensor_type(DataType::kFloat32, Shape{4})}});
  g21.attrs().set("num_groups", int64_t{2});
  g21.attrs().set("epsilon", 0.0f);
  auto r21 = g21.run({x, f32({4}, {1, 2, 3, 4}), f32({4}, {0, 0, 0, 1})});
  ASSERT_TRUE(r21.is_ok()) << r21.status().to_string();
  const float* y21 = r21.value()[0].tensor().data<float>();
  EXPECT_FLOAT_EQ(y21[1], 2);
  EXPECT_FLOAT_EQ(y21[3], 5);
  // Per-group parameters are refused by opset 21.
  EXPECT_FALSE(g21.run({x, f32({2}, {1, 1}), f32({2}, {0, 0})}).is_ok());
}

TEST(GroupNormalization, ChannelsMustDivide) {
  SingleNode n("GroupNormalization", 21, {{"x", tensor_type(DataType::kFloat32, Shape{1, 3, 2})},
                                           {"s", tensor_type(DataType::kFloat32, Shape{3})},
                                           {"b", tensor_type(DataType::kFloat32, Shape{3})}});
  n.attrs().set("num_groups", int64_t{2});
  EXPECT_FALSE(n.infer().is_ok());
}

TEST(LayerNormalization, StatisticsOutputsTakeStashType) {
  SingleNode n("LayerNormalization", 17, {{"x", tensor_type(DataType::kFloat16, Shape({Dim::symbol("b"), Dim(4)}))},
                                           {"w", tensor_type(DataType::kFloat16, Shape{4})}}, 3);
  ASSERT_TRUE(n.infer().is_ok());
  EXPECT_EQ(n.output_type(0).dtype, DataType::kFloat16);
  EXPECT_EQ(n.output_type(1).dtype, DataType::kFloat32);
  EXPECT_EQ(*n.output_type(2).shape, Shape({Dim::symbol("b"), Dim(1)}));
}

TEST(LayerNormalization, ScaleMustBroadcast) {
  SingleNode n("LayerNormalization", 17, {{"x", tensor_type(DataType::kFloat32, Shape{2, 4})},
                                           {"w", tensor_type(DataType::kFloat32, Shape{3})}});
  EXPECT_FALSE(n.run({f32({2, 4}, {}), f32({3}, {})}).is_ok());
}

TEST(BatchNormalization, SpatialZeroOfOpset7TakesPerPositionParameters) {
  SingleNode n("BatchNormalization", 7, {{"x", tensor_type(DataType::kFloat32, Shape{1, 1, 2})},
                                          {"s", tensor_type(DataType::kFloat32, Shape{1, 2})},
                                          {"b", tensor_type(DataType::kFloat32, Shape{1, 2})},
                                          {"m", tensor_type(DataType::kFloat32, Shape{1, 2})},
                                          {"v", tensor_type(DataType::kFloat32, Shape{1, 2})}});
  n.attrs().set("spatial", int64_t{0});
  n.attrs().set("epsilon", 0.0f);
  auto r = n.run({f32({1, 1, 2}, {3, 5}), f32({1, 2}, {1, 2}), f32({1, 2}, {0, 1}), f32({1, 2}, {1, 1}), f32({1, 2}, {4, 16})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const float* y = r.value()[0].tensor().data<float>();
  EXPECT_FLOAT_EQ(y[0], 1);    // (3 - 1) / 2
  EXPECT_FLOAT_EQ(y[1], 3);    // 2 * (5 - 1) / 4 + 1
}

TEST(BatchNormalization, TrainingOutputsBeforeOpset14AreRefused) {
  SingleNode n("BatchNormalization", 9, {{"x", tensor_type(DataType::kFloat32, Shape{1, 1, 2})},
                                          {"s", tensor_type(DataType::kFloat32, Shape{1})},
                                          {"b", tensor_type(DataType::kFloat32, Shape{1})},
                                          {"m", tensor_type(DataType::kFloat32, Shape{1})},
                                          {"v", tensor_type(DataType::kFloat32, Shape{1})}}, 3);
  auto r = n.run({f32({1, 1, 2}, {3, 5}), f32({1}, {1}), f32({1}, {0}), f32({1}, {0}), f32({1}, {1})});
  EXPECT_FALSE(r.is_ok());
}

TEST(BatchNormalization, WrongParameterSizeFails) {
  SingleNode n("BatchNormalization", 15, {{"x", tensor_type(DataType::kFloat32, Shape{1, 2, 2})},
                                           {"s", tensor_type(DataType::kFloat32, Shape{1})},
                                           {"b", tensor_type(DataType::kFloat32, Shape{2})},
                                           {"m", tensor_type(DataType::kFloat32, Shape{2})},
                                           {"v", tensor_type(DataType::kFloat32, Shape{2})}});
  EXPECT_FALSE(n.run({f32({1, 2, 2}, {}), f32({1}, {}), f32({2}, {}), f32({2}, {}), f32({2}, {1, 1})}).is_ok());
}

TEST(LpNormalization, ZeroNormGivesZeroAndBadPFails) {
  SingleNode n("LpNormalization", 22, {{"x", tensor_type(DataType::kFloat32, Shape{2, 2})}});
  n.attrs().set("p", int64_t{1});
  auto r = n.run({f32({2, 2}, {0, 0, -1, 3})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const float* y = r.value()[0].tensor().data<float>();
  EXPECT_EQ(y[0], 0);
  EXPECT_FLOAT_EQ(y[2], -0.25f);
  SingleNode bad("LpNormalization", 22, {{"x", tensor_type(DataType::kFloat32, Shape{2})}});
  bad.attrs().set("p", int64_t{3});
  EXPECT_FALSE(bad.infer().is_ok());
}

TEST(Loss, TargetOutOfRangeFails) {
  SingleNode n("NegativeLogLikelihoodLoss", 22, {{"x", tensor_type(DataType::kFloat32, Shape{2, 3})},
                                                  {"t", tensor_type(DataType::kInt64, Shape{2})}});
  EXPECT_FALSE(n.run({f32({2, 3}, {}), i64({2}, {0, 3})}).is_ok());
  n.attrs().set("ignore_index", int64_t{3});  // ignored targets may be anything
  EXPECT_TRUE(n.run({f32({2, 3}, {}), i64({2}, {0, 3})}).is_ok());
}

TEST(Loss, ShapesAndReductions) {
  SingleNode none("SoftmaxCrossEntropyLoss", 13, {{"x", tensor_type(DataType::kFloat32, Shape{2, 3, 4})},
                                                   {"t", tensor_type(DataType::kInt64, Shape{2, 4})}}, 2);
  none.attrs().set("reduction", std::string("none"));
  ASSERT_TRUE(none.infer().is_ok());
  EXPECT_EQ(*none.output_type(0).shape, (Shape{2, 4}));
  EXPECT_EQ(*none.output_type(1).shape, (Shape{2, 3, 4}));

  SingleNode bad("NegativeLogLikelihoodLoss", 13, {{"x", tensor_type(DataType::kFloat32, Shape{2, 3, 4})},
                                                    {"t", tensor_type(DataType::kInt64, Shape{2})}});
  EXPECT_FALSE(bad.infer().is_ok());

  SingleNode mean("NegativeLogLikelihoodLoss", 13, {{"x", tensor_type(DataType::kFloat32, Shape{2, 2})},
                                                     {"t", tensor_type(DataType::kInt64, Shape{2})},
                                                     {"w", tensor_type(DataType::kFloat32, Shape{2})}});
  auto r = mean.run({f32({2, 2}, {-1, -2, -3, -4}), i64({2}, {0, 1}), f32({2}, {1, 3})});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_FLOAT_EQ(r.value()[0].tensor().data<float>()[0], (1 * 1 + 4 * 3) / 4.0f);
}

}  // namespace
}  // namespace kiln::testing
