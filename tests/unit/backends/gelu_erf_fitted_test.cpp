// gelu_erf_fitted (the CUTLASS GELU epilogue's math, host-callable) against the erf GELU in
// double precision.
#include "backends/cuda/gelu_erf_fitted.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace kiln::cuda {
namespace {

double gelu_reference(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }

TEST(GeluErfFitted, RelativeErrorOverTheFittedRange) {
  double worst = 0, worst_x = 0;
  for (int i = 0; i <= 400000; ++i) {
    const float x = -7.2f + 19.2f * static_cast<float>(i) / 400000.f;  // [-7.2, 12]
    const double ref = gelu_reference(x);
    const double got = gelu_erf_fitted(x);
    if (ref == 0) {
      EXPECT_EQ(got, 0.0);
      continue;
    }
    const double rel = std::fabs(got - ref) / std::fabs(ref);
    if (rel > worst) worst = rel, worst_x = x;
  }
  EXPECT_LT(worst, 2e-5) << "at x = " << worst_x;
}

TEST(GeluErfFitted, BeyondTheFittedRangeTheErrorIsTiny) {
  const float inf = std::numeric_limits<float>::infinity();
  for (float x : {-7.3f, -8.f, -20.f, -1000.f, -65504.f, -inf}) {
    const float got = gelu_erf_fitted(x);
    EXPECT_LE(got, 0.f) << x;
    EXPECT_GE(got, -2.5e-12f) << x;
  }
  for (float x : {7.3f, 8.f, 20.f, 1000.f}) EXPECT_NEAR(gelu_erf_fitted(x), x, 2.5e-12 + 1e-7 * x) << x;
}

TEST(GeluErfFitted, SpecialValues) {
  EXPECT_EQ(gelu_erf_fitted(0.f), 0.f);
  EXPECT_LT(gelu_erf_fitted(-1e-30f), 0.f);  // x * Phi(x): the sign survives
  EXPECT_FLOAT_EQ(gelu_erf_fitted(65504.f), 65504.f);
  EXPECT_EQ(gelu_erf_fitted(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(gelu_erf_fitted(std::numeric_limits<float>::quiet_NaN())));
}

}  // namespace
}  // namespace kiln::cuda
