#include "core/float_types.h"

#include <gtest/gtest.h>

#include <cmath>

namespace kiln {

TEST(FloatTypes, HalfRoundTripsEveryFiniteValue) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float f = half_to_float(static_cast<uint16_t>(bits));
    if (std::isnan(f)) continue;
    EXPECT_EQ(float_to_half(f), bits) << bits;
  }
}

TEST(FloatTypes, HalfRoundsToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048), 0x3C00);        // halfway: stays even
  EXPECT_EQ(float_to_half(1.0f + 3.0f / 2048), 0x3C02);        // halfway: rounds up to even
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);                  // rounds to inf
  EXPECT_EQ(float_to_half(5.96046448e-08f), 0x0001);           // smallest subnormal
}

TEST(FloatTypes, BFloat16) {
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3F80);
  EXPECT_EQ(bfloat16_to_float(0x3F80), 1.0f);
  EXPECT_TRUE(std::isnan(bfloat16_to_float(float_to_bfloat16(NAN))));
}

TEST(FloatTypes, MiniFloatsRoundTripEveryCode) {
  for (auto kind : {MiniFloat::kE4M3FN, MiniFloat::kE4M3FNUZ, MiniFloat::kE5M2, MiniFloat::kE5M2FNUZ}) {
    for (int bits = 0; bits < 256; ++bits) {
      float f = minifloat_to_float(static_cast<uint8_t>(bits), kind);
      if (std::isnan(f) || std::isinf(f)) continue;
      uint8_t back = float_to_minifloat(f, kind, false);
      if (f == 0.0f && (kind == MiniFloat::kE4M3FNUZ || kind == MiniFloat::kE5M2FNUZ)) continue;
      EXPECT_EQ(back, bits) << "kind " << static_cast<int>(kind) << " bits " << bits;
    }
  }
}

TEST(FloatTypes, MiniFloatSaturation) {
  EXPECT_EQ(minifloat_to_float(float_to_minifloat(1000.0f, MiniFloat::kE4M3FN, true), MiniFloat::kE4M3FN), 448.0f);
  EXPECT_TRUE(std::isnan(minifloat_to_float(float_to_minifloat(1000.0f, MiniFloat::kE4M3FN, false), MiniFloat::kE4M3FN)));
  EXPECT_TRUE(std::isinf(minifloat_to_float(float_to_minifloat(INFINITY, MiniFloat::kE5M2, false), MiniFloat::kE5M2)));
  EXPECT_EQ(minifloat_to_float(float_to_minifloat(7.0f, MiniFloat::kE2M1), MiniFloat::kE2M1), 6.0f);
}

}  // namespace kiln

namespace kiln {

TEST(FloatTypes, Fp4NanIsNegativeZeroPattern) {  // as ml_dtypes, ONNX's reference
  EXPECT_EQ(float_to_minifloat(NAN, MiniFloat::kE2M1), 0x8);
  EXPECT_EQ(float_to_minifloat(INFINITY, MiniFloat::kE2M1, false), 0x7);
}

TEST(FloatTypes, E8M0FollowsReferenceBits) {
  EXPECT_EQ(float_to_e8m0(1.1f, E8M0Rounding::kUp), 128);      // 2^1
  EXPECT_EQ(float_to_e8m0(1.1f, E8M0Rounding::kDown), 127);    // 2^0
  EXPECT_EQ(float_to_e8m0(1.75f, E8M0Rounding::kNearest), 128);
  EXPECT_EQ(float_to_e8m0(-4.0f, E8M0Rounding::kUp), 129);     // sign ignored
  EXPECT_EQ(float_to_e8m0(INFINITY, E8M0Rounding::kUp), 0xFF);  // NaN even when saturating
  EXPECT_EQ(float_to_e8m0(3e38f, E8M0Rounding::kUp, true), 0xFE);
  EXPECT_EQ(float_to_e8m0(3e38f, E8M0Rounding::kUp, false), 0xFF);
  EXPECT_EQ(float_to_e8m0(0.0f, E8M0Rounding::kUp), 0);
}

}  // namespace kiln
