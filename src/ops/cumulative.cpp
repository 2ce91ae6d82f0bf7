// CumSum, CumProd along the axis given by a 0-D (or one-element 1-D) input; `exclusive` shifts
// by one (the first output is 0 or 1), `reverse` runs from the end. Floats accumulate in
// double, integers wrap in their dtype.
#include <type_traits>

#include "ops/common/infer.h"
#include "ops/common/as_double.h"
#include "ops/common/reduction.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

void infer_cumulative(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (!(is_float(dt) || is_integer(dt)) || is_sub_byte(dt)) ctx.fail("unsupported input dtype " + std::string(dtype_name(dt)));
  DataType at = ctx.input_dtype(1);
  if (at != DataType::kInt32 && at != DataType::kInt64) ctx.fail("axis must be int32 or int64");
  const Shape* axis_shape = ctx.input_shape(1);
  if (axis_shape && axis_shape->rank() > 1) ctx.fail("axis must be a scalar");
  const Shape* in = ctx.input_shape(0);
  if (auto axis = constant_ints(ctx, 1); axis && in) {
    if (axis->size() != 1) ctx.fail("axis must hold one value");
    try {
      normalize_axis((*axis)[0], static_cast<int64_t>(in->rank()));
    } catch (const Error& e) {
      ctx.fail(e.what());
    }
  }
  ctx.set_output(0, ctx.input_type(0));
}

template <bool kProd>
void cumulative_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& axis_t = ctx.input(1);
  if (axis_t.dtype() != DataType::kInt32 && axis_t.dtype() != DataType::kInt64) ctx.fail("axis must be int32 or int64");
  if (axis_t.numel() != 1 || axis_t.rank() > 1) ctx.fail("axis must be a scalar, got " + axis_t.describe());
  const size_t axis = static_cast<size_t>(normalize_axis(axis_t.to_i64()[0], static_cast<int64_t>(x.rank())));
  const bool exclusive = ctx.attrs().get_int("exclusive", 0) != 0;
  const bool reverse = ctx.attrs().get_int("reverse", 0) != 0;
  Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
  if (y.numel() == 0) return;
  const int64_t n = x.dim(axis);
  const int64_t outer = dims_product(x.dims(), 0, axis), inner = dims_product(x.dims(), axis + 1, x.rank());
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    // Integers accumulate modulo 2^64 (truncation then equals wrapping in T).
    using Acc = std::conditional_t<std::is_integral_v<T>, uint64_t, double>;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        Acc acc = kProd ? 1 : 0;
        for (int64_t s = 0; s < n; ++s) {
          const int64_t k = reverse ? n - 1 - s : s;
          const int64_t at = (o * n + k) * inner + i;
          Acc v;
          if constexpr (std::is_integral_v<T>)
            v = static_cast<uint64_t>(static_cast<std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>(px[at]));
          else
            v = to_double(px[at]);
          if (!exclusive) acc = kProd ? acc * v : acc + v;
          if constexpr (std::is_integral_v<T>) py[at] = static_cast<T>(acc);
          else py[at] = from_double<T>(acc);
          if (exclusive) acc = kProd ? acc * v : acc + v;
        }
      }
  });
}

}  // namespace

KILN_REGISTER_OP(CumSum, {"", "CumSum", {11, 14}, infer_cumulative, cumulative_cpu<false>});
KILN_REGISTER_OP(CumProd, {"", "CumProd", {26}, infer_cumulative, cumulative_cpu<true>});

}  // namespace kiln::ops
