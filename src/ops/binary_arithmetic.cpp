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

// Same-dtype inputs with broadcasting; half types compute in float (map_binary).
template <typename Fn>
void binary_kernel(KernelContext& ctx, Fn fn) {
  map_binary<TypeSet::kNumeric>(ctx, fn);
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
