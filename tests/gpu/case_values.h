// Small helpers for GPU test inputs with chosen values.
#pragma once
#include <functional>
#include <vector>

#include "core/float_types.h"
#include "core/tensor.h"

namespace kiln::gpu_test {

// A float32/float16/bfloat16 tensor whose element i is f(i).
inline Tensor float_tensor(DataType dt, const std::vector<int64_t>& dims, const std::function<float(int64_t)>& f) {
  Tensor t(dt, dims);
  for (int64_t i = 0; i < t.numel(); ++i) {
    float v = f(i);
    if (dt == DataType::kFloat32) t.data<float>()[i] = v;
    else if (dt == DataType::kFloat16) t.data<Float16>()[i] = Float16(v);
    else t.data<BFloat16>()[i] = BFloat16(v);
  }
  return t;
}

// Deterministic pseudo-random values in [lo, hi) (a hash of i and seed).
inline float hashed(int64_t i, uint64_t seed, float lo, float hi) {
  uint64_t x = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull + seed * 0xBF58476D1CE4E5B9ull + 1;
  x ^= x >> 31;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 29;
  return lo + (hi - lo) * static_cast<float>(x % 1000003) / 1000003.f;
}

inline const char* short_name(DataType dt) {
  return dt == DataType::kFloat32 ? "f32" : dt == DataType::kFloat16 ? "f16" : "bf16";
}

}  // namespace kiln::gpu_test
