// kiln::SampledConcat (docs/FUSED_OPS.md): strided samples of its inputs, concatenated.
#include <gtest/gtest.h>

#include "unit/ops/attention_rnn_signal_util.h"

namespace kiln::ops::testing {
namespace {

Tensor iota(std::vector<int64_t> dims, float start) {
  Tensor t(DataType::kFloat32, std::move(dims));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = start + static_cast<float>(i);
  return t;
}

ir::Attributes attrs(int64_t axis, std::vector<int64_t> steps) {
  ir::Attributes a;
  a.set("axis", axis);
  a.set("steps", std::move(steps));
  return a;
}

TEST(KilnSampledConcat, SamplesThenConcatenates) {
  // A [1, 2, 2, 2] as is, B [1, 1, 3, 4] at rows 0, 2 and columns 0, 2: [1, 1, 2, 2].
  Tensor a = iota({1, 2, 2, 2}, 0.f), b = iota({1, 1, 3, 4}, 100.f);
  Tensor y = run_op("SampledConcat", 1, {a, b}, 1, attrs(1, {1, 1, 1, 1, 1, 1, 2, 2}), "kiln")[0].tensor();
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{1, 3, 2, 2}));
  const std::vector<float> want = {0, 1, 2, 3, 4, 5, 6, 7, 100, 102, 108, 110};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(y.data<float>()[i], want[i]) << i;
}

std::vector<ir::ValueType> infer(const std::vector<ir::ValueType>& in, const ir::Attributes& a) {
  std::vector<std::optional<ir::ValueType>> opt(in.begin(), in.end());
  OneNode g("SampledConcat", opt, 1, "kiln");
  g.node->attrs() = a;
  std::vector<const ir::ValueType*> types;
  for (size_t i = 0; i < in.size(); ++i) types.push_back(&g.node->input(i)->type());
  int counter = 0;
  InferenceContext ctx(*g.node, 1, types, std::vector<const Tensor*>(in.size(), nullptr), &counter);
  OpRegistry::global().find("kiln", "SampledConcat")->infer(ctx);
  return ctx.outputs();
}

TEST(KilnSampledConcat, InfersTheSampledShape) {
  auto t = infer({tt(DataType::kFloat32, {2, 64, 28, 28}), tt(DataType::kFloat32, {2, 256, 56, 56})},
                 attrs(-3, {1, 1, 1, 1, 1, 1, 2, 2}));
  ASSERT_TRUE(t[0].shape);
  EXPECT_EQ(t[0].shape->static_dims(), (std::vector<int64_t>{2, 320, 28, 28}));
}

TEST(KilnSampledConcat, MalformedAttributesAreErrors) {
  Tensor a = iota({1, 2, 2, 2}, 0.f), b = iota({1, 1, 3, 4}, 100.f);
  EXPECT_THROW(run_op("SampledConcat", 1, {a, b}, 1, attrs(1, {1, 1, 2, 2}), "kiln"), Error);  // too few steps
  EXPECT_THROW(run_op("SampledConcat", 1, {a, b}, 1, attrs(1, {1, 1, 1, 1, 1, 1, 0, 2}), "kiln"), Error);
  EXPECT_THROW(run_op("SampledConcat", 1, {a, b}, 1, attrs(1, {1, 1, 1, 1, 1, 1, 1, 1}), "kiln"), Error);  // 2x2 vs 3x4
}

}  // namespace
}  // namespace kiln::ops::testing
