// Shape inference with symbolic dims, string tensors, and error handling of the shape and
// data-movement ops (what the ONNX node tests do not cover).
#include <gtest/gtest.h>

#include <limits>

#include "unit/ops/shape_ops_harness.h"

namespace kiln::testing {
namespace {

Shape sym(std::initializer_list<Dim> dims) { return Shape(std::vector<Dim>(dims)); }

TEST(ReshapeInfer, ZeroAndMinusOneKeepSymbols) {
  OneNodeGraph g("Reshape", 21,
                 {OpInput::typed(DataType::kFloat32, sym({Dim::symbol("batch"), 3, 4})),
                  OpInput::value(Tensor::from_i64({0, -1}))},
                 1);
  ASSERT_TRUE(g.infer().is_ok());
  EXPECT_EQ(*g.output_type(0).shape, sym({Dim::symbol("batch"), 12}));

  OneNodeGraph h("Reshape", 21,
                 {OpInput::typed(DataType::kFloat32, sym({Dim::symbol("batch"), 3, 4})),
                  OpInput::value(Tensor::from_i64({-1, 12}))},
                 1);
  ASSERT_TRUE(h.infer().is_ok());
  EXPECT_EQ(*h.output_type(0).shape, sym({Dim::symbol("batch"), 12}));
}

TEST(ReshapeInfer, UnknownShapeGivesRankOnly) {
  OneNodeGraph g("Reshape", 21,
                 {OpInput::typed(DataType::kFloat32, sym({2, 3})), OpInput::typed(DataType::kInt64, Shape({3}))}, 1);
  ASSERT_TRUE(g.infer().is_ok());
  ASSERT_TRUE(g.output_type(0).shape.has_value());
  EXPECT_EQ(g.output_type(0).shape->rank(), 3u);
  EXPECT_TRUE((*g.output_type(0).shape)[0].is_unknown());
}

TEST(ReshapeInfer, RejectsTwoMinusOnes) {
  OneNodeGraph g("Reshape", 21,
                 {OpInput::typed(DataType::kFloat32, sym({Dim::symbol("n"), 4})), OpInput::value(Tensor::from_i64({-1, -1}))}, 1);
  EXPECT_FALSE(g.infer().is_ok());
}

// The optimizer fuzzer's first find: a target whose known dims overflow int64 when multiplied.
TEST(ReshapeInfer, RejectsATargetWithTooManyElements) {
  OneNodeGraph g("Reshape", 21,
                 {OpInput::typed(DataType::kFloat32, sym({4})),
                  OpInput::value(Tensor::from_i64({4, 4611686018427387906, -1}))},
                 1);
  EXPECT_FALSE(g.infer().is_ok());
}

// The optimizer fuzzer's second find: declared dims whose product overflows int64.
TEST(FlattenInfer, ADimProductBeyondInt64IsUnknown) {
  ir::Attributes axis;
  axis.set("axis", int64_t{2});
  OneNodeGraph g("Flatten", 21, {OpInput::typed(DataType::kFloat32, sym({279275953455108, 4611686018427387906, 3}))}, 1,
                 axis);
  ASSERT_TRUE(g.infer().is_ok());
  ASSERT_TRUE(g.output_type(0).shape.has_value());
  EXPECT_TRUE((*g.output_type(0).shape)[0].is_unknown());
}

TEST(Reshape, AllowZeroMakesAnEmptyTensor) {
  ir::Attributes a;
  a.set("allowzero", int64_t{1});
  OneNodeGraph g("Reshape", 21,
                 {OpInput::runtime(Tensor(DataType::kFloat32, {0, 3})), OpInput::value(Tensor::from_i64({3, 0}))}, 1, a);
  auto out = g.run();
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out.value()[0].tensor().dims(), (std::vector<int64_t>{3, 0}));
}

TEST(UnsqueezeInfer, SymbolicDimsMove) {
  OneNodeGraph g("Unsqueeze", 13,
                 {OpInput::typed(DataType::kFloat32, sym({Dim::symbol("n"), 5})), OpInput::value(Tensor::from_i64({0, -1}))}, 1);
  ASSERT_TRUE(g.infer().is_ok());
  EXPECT_EQ(*g.output_type(0).shape, sym({1, Dim::symbol("n"), 5, 1}));
}

TEST(SliceInfer, WholeAxisKeepsSymbol) {
  OneNodeGraph g("Slice", 13,
                 {OpInput::typed(DataType::kFloat32, sym({Dim::symbol("n"), 10})), OpInput::value(Tensor::from_i64({0, 2})),
                  OpInput::value(Tensor::from_i64({std::numeric_limits<int64_t>::max(), -1}))},
                 1);
  ASSERT_TRUE(g.infer().is_ok());
  EXPECT_EQ(*g.output_type(0).shape, sym({Dim::symbol("n"), 7}));
}

TEST(Slice, NegativeStepFromBeyondTheEnd) {
  std::vector<int64_t> v(10);
  for (int i = 0; i < 10; ++i) v[i] = i;
  OneNodeGraph g("Slice", 13,
                 {OpInput::runtime(Tensor::from_i64(v)), OpInput::value(Tensor::from_i64({100})),
                  OpInput::value(Tensor::from_i64({std::numeric_limits<int64_t>::min()})), OpInput::value(Tensor::from_i64({0})),
                  OpInput::value(Tensor::from_i64({-3}))},
                 1);
  auto out = g.run();
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out.value()[0].tensor().to_i64(), (std::vector<int64_t>{9, 6, 3, 0}));
}

TEST(Strings, ConcatTransposeGatherSlice) {
  Tensor a = make_strings({2, 2}, {"a", "b", "c", "d"});
  Tensor b = make_strings({2, 1}, {"e", "f"});
  ir::Attributes axis1;
  axis1.set("axis", int64_t{1});
  OneNodeGraph c("Concat", 13, {OpInput::runtime(a), OpInput::runtime(b)}, 1, axis1);
  auto out = c.run();
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out.value()[0].tensor().strings(), (std::vector<std::string>{"a", "b", "e", "c", "d", "f"}));

  OneNodeGraph t("Transpose", 21, {OpInput::runtime(a)}, 1);
  out = t.run();
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out.value()[0].tensor().strings(), (std::vector<std::string>{"a", "c", "b", "d"}));

  OneNodeGraph gt("Gather", 13, {OpInput::runtime(a), OpInput::value(Tensor::from_i64({-1, 0}))}, 1);
  out = gt.run();
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out.value()[0].tensor().strings(), (std::vector<std::string>{"c", "d", "a", "b"}));

  OneNodeGraph s("Slice", 13,
                 {OpInput::runtime(a), OpInput::value(Tensor::from_i64({1})), OpInput::value(Tensor::from_i64({2})),
                  OpInput::value(Tensor::from_i64({1}))},
                 1);
  out = s.run();
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out.value()[0].tensor().strings(), (std::vector<std::string>{"b", "d"}));
}

TEST(Gather, OutOfRangeIndexIsAnError) {
  OneNodeGraph g("Gather", 13, {OpInput::runtime(Tensor::from_i64({1, 2, 3})), OpInput::runtime(Tensor::from_i64({3}))}, 1);
  auto out = g.run();
  EXPECT_FALSE(out.is_ok());
}

TEST(ScatterND, OutOfRangeIndexIsAnError) {
  Tensor idx(DataType::kInt64, {1, 1});
  idx.data<int64_t>()[0] = 5;
  OneNodeGraph g("ScatterND", 18,
                 {OpInput::runtime(Tensor::from_i64({1, 2, 3})), OpInput::runtime(idx), OpInput::runtime(Tensor::from_i64({9}))}, 1);
  EXPECT_FALSE(g.run().is_ok());
}

TEST(Pad, NegativePadsCropThenReflect) {
  // [0 1 2 3 4] cropped by 1 at the start, reflected by 2 at the end: [1 2 3 4 3 2].
  ir::Attributes a;
  a.set("mode", std::string("reflect"));
  OneNodeGraph g("Pad", 21, {OpInput::runtime(Tensor::from_i64({0, 1, 2, 3, 4})), OpInput::value(Tensor::from_i64({-1, 2}))}, 1, a);
  auto out = g.run();
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out.value()[0].tensor().to_i64(), (std::vector<int64_t>{1, 2, 3, 4, 3, 2}));
  EXPECT_EQ(*g.output_type(0).shape, Shape({6}));
}

TEST(Split, Opset18UnevenLastChunk) {
  ir::Attributes a;
  a.set("num_outputs", int64_t{3});
  OneNodeGraph g("Split", 18, {OpInput::runtime(Tensor::from_i64({1, 2, 3, 4, 5, 6, 7}))}, 3, a);
  auto out = g.run();
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out.value()[2].tensor().to_i64(), (std::vector<int64_t>{7}));
  EXPECT_EQ(*g.output_type(0).shape, Shape({3}));
  EXPECT_EQ(*g.output_type(2).shape, Shape({1}));
}

TEST(ExpandInfer, BroadcastsWithSymbols) {
  OneNodeGraph g("Expand", 13,
                 {OpInput::typed(DataType::kFloat32, sym({Dim::symbol("n"), 1})), OpInput::value(Tensor::from_i64({2, 1, 5}))}, 1);
  ASSERT_TRUE(g.infer().is_ok());
  EXPECT_EQ(*g.output_type(0).shape, sym({2, Dim::symbol("n"), 5}));
}

TEST(NonZeroInfer, DataDependentDimIsASymbol) {
  OneNodeGraph g("NonZero", 13, {OpInput::typed(DataType::kFloat32, sym({2, 3}))}, 1);
  ASSERT_TRUE(g.infer().is_ok());
  const Shape& s = *g.output_type(0).shape;
  EXPECT_EQ(s[0], Dim(2));
  EXPECT_TRUE(s[1].is_symbolic());
}

TEST(Squeeze, NonUnitAxisIsAnError) {
  OneNodeGraph g("Squeeze", 13, {OpInput::runtime(Tensor(DataType::kFloat32, {2, 3})), OpInput::value(Tensor::from_i64({0}))}, 1);
  EXPECT_FALSE(g.run().is_ok());
}

TEST(ConstantOfShape, NegativeDimIsAnError) {
  OneNodeGraph g("ConstantOfShape", 21, {OpInput::runtime(Tensor::from_i64({2, -1}))}, 1);
  EXPECT_FALSE(g.run().is_ok());
}

TEST(Unique, StringsSortedWithCounts) {
  OneNodeGraph g("Unique", 11, {OpInput::runtime(make_strings({4}, {"b", "a", "b", "c"}))}, 4);
  auto out = g.run();
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out.value()[0].tensor().strings(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(out.value()[1].tensor().to_i64(), (std::vector<int64_t>{1, 0, 3}));
  EXPECT_EQ(out.value()[2].tensor().to_i64(), (std::vector<int64_t>{1, 0, 1, 2}));
  EXPECT_EQ(out.value()[3].tensor().to_i64(), (std::vector<int64_t>{1, 2, 1}));
}

TEST(FlattenInfer, SymbolicOuterDim) {
  OneNodeGraph g("Flatten", 21, {OpInput::typed(DataType::kFloat32, sym({Dim::symbol("n"), 3, 4}))}, 1);
  ASSERT_TRUE(g.infer().is_ok());
  EXPECT_EQ(*g.output_type(0).shape, sym({Dim::symbol("n"), 12}));
}

TEST(ConcatInfer, SymbolicAxisBecomesUnknown) {
  ir::Attributes a;
  a.set("axis", int64_t{0});
  OneNodeGraph g("Concat", 13,
                 {OpInput::typed(DataType::kFloat32, sym({Dim::symbol("n"), 3})), OpInput::typed(DataType::kFloat32, sym({2, 3}))}, 1, a);
  ASSERT_TRUE(g.infer().is_ok());
  const Shape& s = *g.output_type(0).shape;
  EXPECT_TRUE(s[0].is_unknown());
  EXPECT_EQ(s[1], Dim(3));
}

TEST(TransposeInfer, BadPermIsAnError) {
  ir::Attributes a;
  a.set("perm", std::vector<int64_t>{0, 0});
  OneNodeGraph g("Transpose", 21, {OpInput::typed(DataType::kFloat32, sym({2, 3}))}, 1, a);
  EXPECT_FALSE(g.infer().is_ok());
}

TEST(Dropout, SeededTrainingIsDeterministicAndScales) {
  ir::Attributes a;
  a.set("seed", int64_t{0});
  Tensor x(DataType::kFloat32, {64});
  for (int i = 0; i < 64; ++i) x.data<float>()[i] = 1.0f;
  Tensor ratio = Tensor::scalar_f32(0.5f);
  Tensor training(DataType::kBool, {});
  training.data<bool>()[0] = true;
  OneNodeGraph g("Dropout", 22, {OpInput::runtime(x), OpInput::value(ratio), OpInput::value(training)}, 2, a);
  auto out = g.run();
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  const Tensor& y = out.value()[0].tensor();
  const Tensor& mask = out.value()[1].tensor();
  int kept = 0;
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(y.data<float>()[i], mask.data<bool>()[i] ? 2.0f : 0.0f);
    kept += mask.data<bool>()[i];
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 64);
}

}  // namespace
}  // namespace kiln::testing
