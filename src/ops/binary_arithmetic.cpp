// Add, Sub, Mul, Div with multidirectional broadcasting (and the axis form of opsets 1 and 6).
#include <cstdint>
#include <type_traits>
#include <vector>

#include "ops/common/broadcast.h"
#include "ops/common/elementwise.h"
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

template <typename Fn>
void binary_kernel(KernelContext& ctx, Fn fn) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype() != b.dtype())
    ctx.fail("inputs have different dtypes: " + a.describe() + " and " + b.describe());
  std::vector<int64_t> b_dims = legacy_b_dims(ctx, a, b);
  auto dims = broadcast_dims(a.dims(), b_dims);
  Tensor& out = ctx.allocate_output(0, a.dtype(), dims);
  dispatch_numeric(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    BroadcastWalker w(dims, {a.dims(), b_dims});
    for (int64_t i = 0; i < out.numel(); ++i, w.next()) {
      if constexpr (std::is_integral_v<T>) {
        po[i] = static_cast<T>(fn(pa[w.offset(0)], pb[w.offset(1)]));
      } else {  // half types compute in float
        using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
        po[i] = T(static_cast<C>(fn(static_cast<C>(pa[w.offset(0)]), static_cast<C>(pb[w.offset(1)]))));
      }
    }
  });
}

// Integers wrap like numpy: compute in uint64 (no signed-overflow UB), keep the low bits.
template <typename Op>
auto wrapping(Op op) {
  return [op](auto x, auto y) {
    using T = decltype(x);
    if constexpr (std::is_integral_v<T>) return static_cast<T>(op(static_cast<uint64_t>(x), static_cast<uint64_t>(y)));
    else return op(x, y);
  };
}

void add_cpu(KernelContext& ctx) { binary_kernel(ctx, wrapping([](auto x, auto y) { return x + y; })); }
void sub_cpu(KernelContext& ctx) { binary_kernel(ctx, wrapping([](auto x, auto y) { return x - y; })); }
void mul_cpu(KernelContext& ctx) { binary_kernel(ctx, wrapping([](auto x, auto y) { return x * y; })); }
void div_cpu(KernelContext& ctx) {
  binary_kernel(ctx, [&ctx](auto x, auto y) {
    using T = decltype(x);
    if constexpr (std::is_integral_v<T>) {
      if (y == 0) ctx.fail("integer division by zero");
      if constexpr (std::is_signed_v<T>) {
        if (y == -1) return static_cast<T>(0 - static_cast<uint64_t>(x));  // MIN / -1 wraps
      }
      return static_cast<T>(x / y);  // truncates toward zero, as the reference
    } else {
      return x / y;
    }
  });
}

void arithmetic_infer(InferenceContext& ctx) { infer_broadcast_checked(ctx, TypeSet::kNumeric); }

}  // namespace

KILN_REGISTER_OP(Add, {"", "Add", {1, 6, 7, 13, 14}, arithmetic_infer, add_cpu});
KILN_REGISTER_OP(Sub, {"", "Sub", {1, 6, 7, 13, 14}, arithmetic_infer, sub_cpu});
KILN_REGISTER_OP(Mul, {"", "Mul", {1, 6, 7, 13, 14}, arithmetic_infer, mul_cpu});
KILN_REGISTER_OP(Div, {"", "Div", {1, 6, 7, 13, 14}, arithmetic_infer, div_cpu});

}  // namespace kiln::ops
