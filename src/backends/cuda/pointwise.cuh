// Device-side pieces shared by our elementwise kernels: loading/storing float16/bfloat16 as
// float, broadcast index math, and the pointwise op table.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace kiln::cuda {

constexpr int kMaxRank = 8;

// Dims and strides passed by value to kernels.
struct IndexMap {
  int rank = 0;
  int64_t dims[kMaxRank];
  int64_t strides[3][kMaxRank];  // per input (up to 3), in elements; 0 where broadcast
};

__device__ inline float to_float(float x) { return x; }
__device__ inline float to_float(__half x) { return __half2float(x); }
__device__ inline float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T> __device__ inline T from_float(float x);
template <> __device__ inline float from_float<float>(float x) { return x; }
template <> __device__ inline __half from_float<__half>(float x) { return __float2half_rn(x); }
template <> __device__ inline __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

// Offsets of output element i into each input; I is int32 for tensors under 2^31 elements
// (32-bit division is several times cheaper, and index math bounds these kernels).
template <typename I>
__device__ inline void broadcast_offsets(const IndexMap& m, I i, int inputs, I* off) {
  for (int k = 0; k < inputs; ++k) off[k] = 0;
  for (int d = m.rank - 1; d >= 0; --d) {
    I dim = static_cast<I>(m.dims[d]);
    I idx = i % dim;
    i /= dim;
    for (int k = 0; k < inputs; ++k) off[k] += idx * static_cast<I>(m.strides[k][d]);
  }
}

}  // namespace kiln::cuda
