// Add, Sub, Mul, Div with multidirectional broadcasting.
#include <type_traits>

#include "ops/common/broadcast.h"
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
  auto dims = broadcast_dims(a.dims(), b.dims());
  Tensor& out = ctx.allocate_output(0, a.dtype(), dims);
  dispatch_numeric(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    BroadcastWalker w(dims, {a.dims(), b.dims()});
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

void add_cpu(KernelContext& ctx) { binary_kernel(ctx, [](auto x, auto y) { return x + y; }); }
void sub_cpu(KernelContext& ctx) { binary_kernel(ctx, [](auto x, auto y) { return x - y; }); }
void mul_cpu(KernelContext& ctx) { binary_kernel(ctx, [](auto x, auto y) { return x * y; }); }
void div_cpu(KernelContext& ctx) {
  binary_kernel(ctx, [&ctx](auto x, auto y) {
    if constexpr (std::is_integral_v<decltype(y)>) {
      if (y == 0) ctx.fail("integer division by zero");
    }
    return x / y;
  });
}

}  // namespace

KILN_REGISTER_OP(Add, {"", "Add", {1, 6, 7, 13, 14}, infer_broadcast, add_cpu});
KILN_REGISTER_OP(Sub, {"", "Sub", {1, 6, 7, 13, 14}, infer_broadcast, sub_cpu});
KILN_REGISTER_OP(Mul, {"", "Mul", {1, 6, 7, 13, 14}, infer_broadcast, mul_cpu});
KILN_REGISTER_OP(Div, {"", "Div", {1, 6, 7, 13, 14}, infer_broadcast, div_cpu});

}  // namespace kiln::ops
