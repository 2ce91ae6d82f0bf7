// Building blocks for elementwise kernels: the type a dtype computes in, unary and binary maps
// with broadcasting, and dtype checks for shape inference.
#pragma once
#include <string>
#include <type_traits>
#include <vector>

#include "core/tensor.h"
#include "ops/common/broadcast.h"
#include "ops/infer_context.h"
#include "ops/kernel_context.h"

namespace kiln::ops {

// Half types (float16, bfloat16, fp8) compute in float, float64 in double, integers natively.
template <typename T>
using ComputeT = std::conditional_t<
    std::is_same_v<T, double>, double,
    std::conditional_t<std::is_integral_v<T>, T, float>>;

template <typename T, typename C>
T from_compute(C v) {
  if constexpr (std::is_integral_v<T>) return static_cast<T>(v);
  else return T(static_cast<ComputeT<T>>(v));
}

// Which dtypes a kernel accepts.
// kSigned: floats and signed integers.
enum class TypeSet { kFloat, kNumeric, kInt, kSigned, kBool };

bool in_type_set(DataType dt, TypeSet set);
const char* type_set_name(TypeSet set);

// Calls fn(TypeTag<T>{}) for the C++ type of dt, instantiating fn only for the types of S.
template <TypeSet S, typename Fn> decltype(auto) dispatch_set(DataType dt, Fn&& fn) {
  if (!in_type_set(dt, S))
    throw_error(StatusCode::kUnsupported, "dtype " + std::string(dtype_name(dt)) + " is not " + type_set_name(S));
  if constexpr (S == TypeSet::kFloat) {
    return dispatch_float(dt, std::forward<Fn>(fn));
  } else if constexpr (S == TypeSet::kInt) {
    return dispatch_int(dt, std::forward<Fn>(fn));
  } else if constexpr (S == TypeSet::kBool) {
    return fn(TypeTag<bool>{});
  } else if constexpr (S == TypeSet::kSigned) {
    switch (dt) {
      case DataType::kInt8: return fn(TypeTag<int8_t>{});
      case DataType::kInt16: return fn(TypeTag<int16_t>{});
      case DataType::kInt32: return fn(TypeTag<int32_t>{});
      case DataType::kInt64: return fn(TypeTag<int64_t>{});
      default: return dispatch_float(dt, std::forward<Fn>(fn));
    }
  } else {
    return dispatch_numeric(dt, std::forward<Fn>(fn));
  }
}

// Output 0 = fn(input 0) elementwise, same dtype; fn takes and returns ComputeT<T>.
template <TypeSet S, typename Fn>
void map_unary(KernelContext& ctx, Fn fn) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
  dispatch_set<S>(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = ComputeT<T>;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) py[i] = from_compute<T>(fn(static_cast<C>(px[i])));
  });
}

// B's dims for broadcasting. Before opset 7, binary ops with the `broadcast` attribute align
// B with A starting at `axis` (trailing ones appended) and B must broadcast to A's shape.
std::vector<int64_t> legacy_b_dims(const KernelContext& ctx, const Tensor& a, const Tensor& b);

// Output 0 = fn(a, b) with broadcasting; a and b share a dtype in `set`. The output dtype is
// the input's (Out = void) or Out (bool for comparisons).
template <TypeSet S, typename Out = void, typename Fn>
void map_binary(KernelContext& ctx, Fn fn) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype() != b.dtype())
    ctx.fail("inputs have different dtypes: " + a.describe() + " and " + b.describe());
  std::vector<int64_t> b_dims = legacy_b_dims(ctx, a, b);
  auto dims = broadcast_dims(a.dims(), b_dims);
  DataType out_dt = std::is_same_v<Out, bool> ? DataType::kBool : a.dtype();
  Tensor& out = ctx.allocate_output(0, out_dt, dims);
  dispatch_set<S>(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = ComputeT<T>;
    using O = std::conditional_t<std::is_same_v<Out, bool>, bool, T>;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    O* po = out.data<O>();
    BroadcastWalker w(dims, {a.dims(), b_dims});
    for (int64_t i = 0; i < out.numel(); ++i, w.next()) {
      auto r = fn(static_cast<C>(pa[w.offset(0)]), static_cast<C>(pb[w.offset(1)]));
      if constexpr (std::is_same_v<O, bool>) po[i] = static_cast<bool>(r);
      else po[i] = from_compute<T>(r);
    }
  });
}

// Shape inference: input 0's dtype must be in `set`; output = input 0's type (or bool).
void infer_unary_checked(InferenceContext& ctx, TypeSet set, bool bool_output = false);
// All given inputs share one dtype in `set`; output broadcast, dtype of the inputs (or bool).
// Before opset 7 with the `broadcast` attribute, the output has A's shape.
void infer_broadcast_checked(InferenceContext& ctx, TypeSet set, bool bool_output = false);

}  // namespace kiln::ops
