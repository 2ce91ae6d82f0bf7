// RNN/LSTM/GRU, DFT and windows, NonMaxSuppression, RoiAlign, Det: error handling and cases
// the node tests do not cover (sequence_lens of zero, round trips, bad indices).
#include <gtest/gtest.h>

#include <cmath>

#include "unit/ops/attention_rnn_signal_util.h"

namespace kiln::ops::testing {
namespace {

TEST(Recurrent, ZeroSequenceLengthKeepsInitialState) {
  Tensor x = f32({2, 1, 1}, {1, 2});
  Tensor w = f32({1, 1, 1}, {1});
  Tensor r = f32({1, 1, 1}, {1});
  Tensor lens(DataType::kInt32, {1});  // 0
  Tensor h0 = f32({1, 1, 1}, {0.5f});
  auto out = run_op("RNN", 14, {x, w, r, std::nullopt, lens, h0}, 2);
  EXPECT_EQ(out[0].tensor().data<float>()[0], 0.0f);
  EXPECT_EQ(out[1].tensor().data<float>()[0], 0.5f);
}

TEST(Recurrent, RejectsBadInputs) {
  Tensor x = f32({2, 1, 1}, {1, 2});
  Tensor w = f32({1, 1, 1}, {1});
  Tensor lens(DataType::kInt32, {1});
  lens.data<int32_t>()[0] = 5;  // > seq_length
  EXPECT_THROW(run_op("RNN", 14, {x, w, w, std::nullopt, lens}, 1), Error);
  ir::Attributes bad;
  bad.set("direction", std::string("sideways"));
  EXPECT_THROW(run_op("RNN", 14, {x, w, w}, 1, bad), Error);
  ir::Attributes act;
  act.set("activations", std::vector<std::string>{"Nope"});
  EXPECT_THROW(run_op("RNN", 14, {x, w, w}, 1, act), Error);
  Tensor w_lstm = f32({1, 3, 1}, {});  // 3 is not a multiple of 4 gates
  EXPECT_THROW(run_op("LSTM", 14, {x, w_lstm, w_lstm}, 1), Error);
}

TEST(Recurrent, InfersLayoutOneShapes) {
  ir::Attributes a;
  a.set("layout", int64_t{1});
  a.set("direction", std::string("bidirectional"));
  auto out = infer_op("GRU", 14, {tt(DataType::kFloat32, {4, 7, 3}), tt(DataType::kFloat32, {2, 15, 3}), tt(DataType::kFloat32, {2, 15, 5})}, 2, a);
  EXPECT_EQ(out[0].shape->to_string(), "[4,7,2,5]");
  EXPECT_EQ(out[1].shape->to_string(), "[4,2,5]");
}

TEST(Dft, ForwardThenInverseRoundTrips) {
  Tensor x = f32({1, 5, 1}, {1, -2, 3, 0.5f, 4});
  auto f = run_op("DFT", 17, {x}, 1);
  ir::Attributes inv;
  inv.set("inverse", int64_t{1});
  auto back = run_op("DFT", 17, {f[0].tensor()}, 1, inv);
  const Tensor& y = back[0].tensor();
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{1, 5, 2}));
  for (int i = 0; i < 5; ++i) {
    EXPECT_NEAR(y.data<float>()[2 * i], x.data<float>()[i], 1e-5);
    EXPECT_NEAR(y.data<float>()[2 * i + 1], 0.0f, 1e-5);
  }
}

TEST(Dft, RejectsBadAxisAndLength) {
  Tensor x = f32({1, 4, 1}, {});
  ir::Attributes a;
  a.set("axis", int64_t{2});  // the complex axis
  EXPECT_THROW(run_op("DFT", 17, {x}, 1, a), Error);
  Tensor len = Tensor::scalar_i64(0);
  EXPECT_THROW(run_op("DFT", 17, {x, len}, 1), Error);
}

TEST(Windows, HannOfSizeZeroIsEmpty) {
  auto out = run_op("HannWindow", 17, {Tensor::scalar_i64(0)}, 1);
  EXPECT_EQ(out[0].tensor().numel(), 0);
  EXPECT_THROW(run_op("HannWindow", 17, {Tensor::scalar_i64(-3)}, 1), Error);
}

TEST(Detection, RejectsBadShapesAndIndices) {
  Tensor boxes = f32({1, 2, 3}, {});
  Tensor scores = f32({1, 1, 2}, {});
  EXPECT_THROW(run_op("NonMaxSuppression", 11, {boxes, scores}, 1), Error);
  Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor rois = f32({1, 4}, {0, 0, 1, 1});
  Tensor idx(DataType::kInt64, {1});
  idx.data<int64_t>()[0] = 3;
  EXPECT_THROW(run_op("RoiAlign", 16, {x, rois, idx}, 1), Error);
}

TEST(Det, ComputesAndRejectsNonSquare) {
  auto out = run_op("Det", 11, {f32({2, 2}, {1, 2, 3, 4})}, 1);
  EXPECT_NEAR(out[0].tensor().data<float>()[0], -2.0f, 1e-6);
  EXPECT_THROW(run_op("Det", 11, {f32({2, 3}, {})}, 1), Error);
}

}  // namespace
}  // namespace kiln::ops::testing

namespace kiln::ops::testing {
namespace {

TEST(Detection, RoiAlignRefusesNonFiniteRois) {
  Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor rois = f32({1, 4}, {0, NAN, 1, 1});
  Tensor idx(DataType::kInt64, {1});
  ir::Attributes a;
  a.set("sampling_ratio", int64_t{2});
  EXPECT_THROW(run_op("RoiAlign", 16, {x, rois, idx}, 1, a), Error);
}

TEST(Windows, MelWeightMatrixRefusesEdgesOutsideTheSpectrum) {
  Tensor lo = f32({}, {0}), hi = f32({}, {1e9f});
  EXPECT_THROW(run_op("MelWeightMatrix", 17, {Tensor::scalar_i64(4), Tensor::scalar_i64(16), Tensor::scalar_i64(8000), lo, hi}, 1), Error);
}

}  // namespace
}  // namespace kiln::ops::testing
