// The one float matrix product of the CPU reference: row-major, optional transposes,
// C = alpha * op(A) * op(B) + beta * C. Cache-blocked and packed so the compiler vectorizes
// its inner kernel; large products are split over std::thread workers. No BLAS library.
#pragma once
#include <cstdint>

namespace kiln::ops {

// op(A) is M x K (A is K x M when trans_a), op(B) is K x N (B is N x K when trans_b); lda,
// ldb, ldc are the row strides of A, B and C as stored. beta == 0 ignores C's old contents
// (NaN included), as BLAS does.
void gemm_f32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
              int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// The same product as a plain triple loop in double: the oracle for tests, and the path for
// float64 (T = double) inputs.
template <typename T>
void gemm_naive(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p)
        acc += static_cast<double>(trans_a ? a[p * lda + i] : a[i * lda + p]) *
               static_cast<double>(trans_b ? b[j * ldb + p] : b[p * ldb + j]);
      T& out = c[i * ldc + j];
      out = static_cast<T>(alpha * acc + (beta == T(0) ? 0.0 : static_cast<double>(beta) * out));
    }
}

// Worker threads the blocked GEMM may use (at least 1). Tests may lower it.
int gemm_max_threads();
void set_gemm_max_threads(int n);

}  // namespace kiln::ops
