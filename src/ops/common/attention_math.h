// Small numeric helpers shared by the attention-style reference kernels (Attention,
// RotaryEmbedding, LinearAttention, ...): element loads/stores in double and the rounding
// that mimics computing a stage in the tensor's own dtype (as the ONNX reference does).
#pragma once
#include <cmath>
#include <type_traits>
#include <vector>

#include "core/tensor.h"
#include "ops/infer_context.h"

namespace kiln::ops {

template <typename T>
inline double load_d(T v) {
  if constexpr (std::is_same_v<T, double>) return v;
  else return static_cast<double>(static_cast<float>(v));
}

template <typename T>
inline T store_d(double v) {
  if constexpr (std::is_same_v<T, double>) return v;
  else if constexpr (std::is_same_v<T, float>) return static_cast<float>(v);
  else return T(static_cast<float>(v));
}

// The value v takes once stored in T (double: unchanged).
template <typename T>
inline double round_to(double v) {
  return load_d<T>(store_d<T>(v));
}

// Throws Error unless a scratch buffer of `dims` doubles stays within max_tensor_bytes(): the
// kernels size their buffers from model inputs, which are untrusted.
void check_scratch(const std::vector<int64_t>& dims, const char* what);

using RoundFn = double (*)(double);
// The rounding of a float dtype (float32, float64, float16, bfloat16); nullptr otherwise.
RoundFn round_fn_for(DataType dt);

// Dim arithmetic for shape inference: constant when both are constant, else a fresh symbol
// (or the other operand when one side is a known zero / one).
Dim dim_add(InferenceContext& ctx, const Dim& a, const Dim& b);
Dim dim_mul(InferenceContext& ctx, const Dim& a, const Dim& b);
// a / b; fails when both are constant and b does not divide a.
Dim dim_div(InferenceContext& ctx, const Dim& a, const Dim& b, const char* what);

}  // namespace kiln::ops
