// Attention, RotaryEmbedding, LinearAttention: error handling and shape inference the node
// tests do not reach.
#include <gtest/gtest.h>

#include "unit/ops/attention_rnn_signal_util.h"

namespace kiln::ops::testing {
namespace {

ir::Attributes attrs_of(std::initializer_list<std::pair<std::string, ir::Attribute>> kv) {
  ir::Attributes a;
  for (const auto& [k, v] : kv) a.set(k, v);
  return a;
}

TEST(Attention, SingleKeyReturnsItsValue) {
  Tensor q = f32({1, 1, 1, 2}, {0.3f, -1.0f});
  Tensor k = f32({1, 1, 1, 2}, {2.0f, 5.0f});
  Tensor v = f32({1, 1, 1, 3}, {1.0f, 2.0f, 3.0f});
  auto out = run_op("Attention", 24, {q, k, v}, 1);
  const Tensor& y = out[0].tensor();
  EXPECT_EQ(y.dims(), (std::vector<int64_t>{1, 1, 1, 3}));
  EXPECT_FLOAT_EQ(y.data<float>()[2], 3.0f);
}

TEST(Attention, FullyMaskedRowIsZero) {
  Tensor q = f32({1, 1, 1, 2}, {1, 1});
  Tensor k = f32({1, 1, 2, 2}, {1, 1, 1, 1});
  Tensor v = f32({1, 1, 2, 1}, {4, 5});
  Tensor mask(DataType::kBool, {1, 2});  // all false
  auto out = run_op("Attention", 23, {q, k, v, mask}, 1);
  EXPECT_EQ(out[0].tensor().data<float>()[0], 0.0f);
}

TEST(Attention, RejectsBadHeadsAndRanks) {
  Tensor q3 = f32({1, 2, 4}, {});
  EXPECT_THROW(run_op("Attention", 23, {q3, q3, q3}, 1), Error);  // 3-D without head counts
  auto bad = attrs_of({{"q_num_heads", int64_t{3}}, {"kv_num_heads", int64_t{2}}});
  Tensor q6 = f32({1, 2, 6}, {});
  EXPECT_THROW(run_op("Attention", 23, {q6, q6, q6}, 1, bad), Error);  // 3 % 2 != 0
  Tensor q4 = f32({1, 1, 2, 4}, {});
  EXPECT_THROW(run_op("Attention", 23, {q4, q3, q3}, 1), Error);  // mixed ranks
  Tensor mask5 = f32({1, 1, 1, 2, 2}, {});
  EXPECT_THROW(run_op("Attention", 23, {q4, q4, q4, mask5}, 1), Error);
  EXPECT_THROW(run_op("Attention", 25, {q4, q4, q4}, 1, attrs_of({{"q_num_heads", int64_t{1}}})), Error);
}

TEST(Attention, RejectsPastWithoutPastValue) {
  Tensor q = f32({1, 1, 1, 2}, {});
  Tensor past = f32({1, 1, 3, 2}, {});
  EXPECT_THROW(run_op("Attention", 23, {q, q, q, std::nullopt, past}, 3), Error);
}

TEST(Attention, InfersSymbolicShapesWithCache) {
  ir::ValueType q = ir::ValueType::tensor(DataType::kFloat32, Shape({Dim::symbol("b"), Dim(8), Dim::symbol("s"), Dim(16)}));
  ir::ValueType k = ir::ValueType::tensor(DataType::kFloat32, Shape({Dim::symbol("b"), Dim(2), Dim::symbol("s"), Dim(16)}));
  ir::ValueType v = ir::ValueType::tensor(DataType::kFloat32, Shape({Dim::symbol("b"), Dim(2), Dim::symbol("s"), Dim(32)}));
  ir::ValueType past = ir::ValueType::tensor(DataType::kFloat32, Shape({Dim::symbol("b"), Dim(2), Dim(5), Dim(16)}));
  auto out = infer_op("Attention", 23, {q, k, v, std::nullopt, past, past}, 4);
  EXPECT_EQ(out[0].shape->to_string(), "[b,8,s,32]");
  EXPECT_EQ((*out[1].shape)[0].symbol_name(), "b");
  EXPECT_TRUE((*out[1].shape)[2].is_symbolic());  // 5 + s
  EXPECT_EQ((*out[3].shape)[3], (*out[1].shape)[2]);
  auto unknown = infer_op("Attention", 23, {ir::ValueType::tensor(DataType::kFloat32), k, v}, 1);
  EXPECT_FALSE(unknown[0].shape.has_value());
  EXPECT_THROW(infer_op("Attention", 23, {tt(DataType::kInt32, {1, 1, 1, 1}), k, v}, 1), Error);
}

TEST(RotaryEmbedding, RejectsOutOfRangePositionIds) {
  Tensor x = f32({1, 1, 1, 4}, {1, 2, 3, 4});
  Tensor cache = f32({2, 2}, {1, 1, 1, 1});
  Tensor pos = Tensor(DataType::kInt64, {1, 1});
  pos.data<int64_t>()[0] = 7;
  EXPECT_THROW(run_op("RotaryEmbedding", 23, {x, cache, cache, pos}, 1), Error);
}

TEST(LinearAttention, GatedRuleNeedsDecay) {
  Tensor q = f32({1, 2, 4}, {});
  auto a = attrs_of({{"q_num_heads", int64_t{1}}, {"kv_num_heads", int64_t{1}}, {"update_rule", std::string("gated")}});
  EXPECT_THROW(run_op("LinearAttention", 27, {q, q, q}, 2, a), Error);
  a.set("update_rule", std::string("linear"));
  auto out = run_op("LinearAttention", 27, {q, q, q}, 2, a);
  EXPECT_EQ(out[1].tensor().dims(), (std::vector<int64_t>{1, 1, 4, 4}));
}

}  // namespace
}  // namespace kiln::ops::testing
