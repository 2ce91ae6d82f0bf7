#include "ops/common/gemm.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <random>
#include <vector>

namespace kiln::ops {
namespace {

std::vector<float> random_values(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) {
    x = dist(rng);
    if (x == 0.0f) x = 0.5f;
  }
  return v;
}

void check_against_naive(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, float beta, int threads) {
  std::mt19937 rng(static_cast<unsigned>(m * 131 + n * 17 + k + ta * 2 + tb));
  int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;  // strides wider than the rows
  auto a = random_values(static_cast<size_t>((ta ? k : m) * lda), rng);
  auto b = random_values(static_cast<size_t>((tb ? n : k) * ldb), rng);
  auto c = random_values(static_cast<size_t>(m * ldc), rng);
  auto expected = c;
  set_gemm_max_threads(threads);
  gemm_f32(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  gemm_naive<float>(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, expected.data(), ldc);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      float want = expected[i * ldc + j], got = c[i * ldc + j];
      ASSERT_NEAR(got, want, 1e-4 * (1 + std::sqrt(static_cast<double>(k))))
          << "ta=" << ta << " tb=" << tb << " m=" << m << " n=" << n << " k=" << k << " at " << i << "," << j;
    }
}

TEST(Gemm, MatchesNaiveOnOddSizes) {
  int saved = gemm_max_threads();
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (auto [m, n, k] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {7, 5, 3}, {13, 31, 17}, {97, 35, 259},
                                                                 {5, 1041, 19}, {101, 17, 600}})
        check_against_naive(ta, tb, m, n, k, 1.0f, 0.0f, 1);
  set_gemm_max_threads(saved);
}

TEST(Gemm, AlphaBetaAndThreads) {
  int saved = gemm_max_threads();
  check_against_naive(false, false, 203, 157, 301, 0.75f, 0.5f, 4);  // split by rows
  check_against_naive(false, true, 37, 1201, 129, -1.5f, 1.0f, 3);    // split by columns
  check_against_naive(true, false, 150, 150, 513, 2.0f, -2.0f, 2);
  set_gemm_max_threads(saved);
}

TEST(Gemm, BetaZeroIgnoresNaN) {
  std::vector<float> a{1, 2}, b{3, 4}, c{NAN};
  gemm_f32(false, false, 1, 1, 2, 1.0f, a.data(), 2, b.data(), 1, 0.0f, c.data(), 1);
  EXPECT_FLOAT_EQ(c[0], 11.0f);
}

}  // namespace
}  // namespace kiln::ops
