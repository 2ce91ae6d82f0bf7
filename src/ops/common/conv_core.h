// Convolution as im2col + GEMM, shared by Conv, ConvInteger, QLinearConv and (through its
// column buffer) DeformConv.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "ops/common/window.h"
#include "ops/infer_context.h"
#include "ops/kernel_context.h"

namespace kiln::ops {

struct ConvGeometry {
  int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1;
  std::vector<int64_t> in, out;  // spatial sizes
  WindowParams window;           // pads resolved
  int64_t in_size() const;       // product of in
  int64_t out_size() const;
  int64_t kernel_size() const;   // product of the kernel
};

// Validates x [N, C, in...] and w [M, C/group, k...] against the node's attributes.
ConvGeometry conv_geometry(const KernelContext& ctx, const std::vector<int64_t>& x_dims,
                           const std::vector<int64_t>& w_dims);

// y[N, M, out...] = sum over c, k of x * w (no bias). T: float, double or int64_t.
template <typename T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, T* y);

// y[M, cols] = w[M, K] * col[K, cols] for the non-float32 types (plain loops).
template <typename T>
void gemm_plain(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
                int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    T* crow = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) crow[j] = T(0);
    for (int64_t p = 0; p < k; ++p) {
      T av = a[i * lda + p];
      const T* brow = b + p * ldb;
      for (int64_t j = 0; j < n; ++j) crow[j] += av * brow[j];
    }
  }
}

// Shape inference of x [N, C, in...] convolved with w [M, C/group, k...] into dtype `out`.
void infer_conv_output(InferenceContext& ctx, size_t x_index, size_t w_index, DataType out);

}  // namespace kiln::ops
