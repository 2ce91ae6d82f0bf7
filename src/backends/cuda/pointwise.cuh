// Device-side pieces shared by our elementwise kernels: loading/storing float16/bfloat16 as
// float, broadcast index math, and the pointwise op table.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <initializer_list>

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

// 16 bytes of T: the unit of the dense paths. One 2-byte access per thread keeps too few bytes
// in flight to reach HBM bandwidth (the scalar kernels ran at ~1/3 of it); 16-byte accesses
// keep 8x more.
template <typename T>
struct alignas(16) Vec16 {
  static constexpr int kWidth = 16 / sizeof(T);
  T v[kWidth];
};

// Whether n elements at every pointer given can be walked in Vec16 steps (null pointers pass).
template <typename T>
inline bool vec16_ok(int64_t n, std::initializer_list<const void*> ptrs) {
  if (n % Vec16<T>::kWidth != 0) return false;
  for (const void* p : ptrs)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  return true;
}

// Grid for a grid-stride loop over `units` (at most 32 blocks of 256 per SM of an H100).
inline int grid_for_units(int64_t units) {
  int64_t blocks = (units + 255) / 256;
  return static_cast<int>(blocks < 132 * 32 ? (blocks > 0 ? blocks : 1) : 132 * 32);
}

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
