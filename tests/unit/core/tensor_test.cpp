#include "core/tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace kiln {
namespace {

TEST(Tensor, ToI64ConvertsFloatsTowardZero) {
  Tensor t(DataType::kFloat32, {3});
  t.data<float>()[0] = 2.9f;
  t.data<float>()[1] = -2.9f;
  t.data<float>()[2] = 1e6f;
  EXPECT_EQ(t.to_i64(), (std::vector<int64_t>{2, -2, 1000000}));
}

// A float tensor read as integers (pads, shapes, axes of a malformed model): NaN or a value
// beyond int64 is an error, not undefined behaviour (the engine fuzzer found the cast).
TEST(Tensor, ToI64RefusesNaNAndOutOfRangeFloats) {
  for (float bad : {std::nanf(""), 1e30f, -1e30f, std::numeric_limits<float>::infinity()}) {
    Tensor t(DataType::kFloat32, {2});
    t.data<float>()[0] = 1.f;
    t.data<float>()[1] = bad;
    try {
      (void)t.to_i64();
      ADD_FAILURE() << "no error for " << bad;
    } catch (const Error& e) {
      EXPECT_NE(e.to_status().message().find("does not fit in int64"), std::string::npos) << e.to_status().to_string();
    }
  }
}

}  // namespace
}  // namespace kiln
