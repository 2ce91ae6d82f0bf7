// ArgMax, ArgMin: int64 index of the extreme along one axis (keepdims, select_last_index).
// A NaN counts as the extreme, as with numpy's argmax/argmin.
#include <cmath>
#include <type_traits>

#include "ops/common/infer.h"
#include "ops/common/as_double.h"
#include "ops/common/reduction.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

void infer_arg(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (!(is_float(dt) || is_integer(dt)) || is_sub_byte(dt)) ctx.fail("unsupported input dtype " + std::string(dtype_name(dt)));
  const Shape* in = ctx.input_shape(0);
  if (!in) return ctx.set_output(0, DataType::kInt64, std::nullopt);
  const int64_t rank = static_cast<int64_t>(in->rank());
  int64_t axis = ctx.attrs().get_int("axis", 0);
  if (axis < -rank || axis >= rank) ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  std::vector<bool> mask(rank, false);
  mask[axis < 0 ? axis + rank : axis] = true;
  ctx.set_output(0, DataType::kInt64, reduced_shape(*in, mask, ctx.attrs().get_int("keepdims", 1) != 0));
}

template <bool kMax>
void arg_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t rank = static_cast<int64_t>(x.rank());
  int64_t axis = ctx.attrs().get_int("axis", 0);
  if (axis < -rank || axis >= rank) ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  const bool last = ctx.attrs().get_int("select_last_index", 0) != 0;
  std::vector<bool> mask(rank, false);
  mask[axis] = true;
  Tensor& y = ctx.allocate_output(0, DataType::kInt64, reduced_dims(x.dims(), mask, ctx.attrs().get_int("keepdims", 1) != 0));
  const int64_t n = x.dim(axis);
  const int64_t outer = dims_product(x.dims(), 0, axis), inner = dims_product(x.dims(), axis + 1, x.rank());
  if (y.numel() == 0) return;
  if (n == 0) ctx.fail("cannot take the arg" + std::string(kMax ? "max" : "min") + " of an empty axis");
  int64_t* py = y.data<int64_t>();
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = std::conditional_t<std::is_integral_v<T>, T, double>;
    const T* px = x.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const T* p = px + o * n * inner + i;
        auto load = [&](int64_t k) -> C {
          if constexpr (std::is_integral_v<T>) return p[k * inner];
          else return to_double(p[k * inner]);
        };
        int64_t best = 0;
        C bv = load(0);
        for (int64_t k = 1; k < n; ++k) {
          C v = load(k);
          bool better;
          if constexpr (!std::is_integral_v<T>) {
            if (std::isnan(bv)) better = last && std::isnan(v);
            else if (std::isnan(v)) better = true;
            else better = kMax ? (last ? v >= bv : v > bv) : (last ? v <= bv : v < bv);
          } else {
            better = kMax ? (last ? v >= bv : v > bv) : (last ? v <= bv : v < bv);
          }
          if (better) {
            best = k;
            bv = v;
          }
        }
        py[o * inner + i] = best;
      }
  });
}

}  // namespace

KILN_REGISTER_OP(ArgMax, {"", "ArgMax", {1, 11, 12, 13}, infer_arg, arg_cpu<true>});
KILN_REGISTER_OP(ArgMin, {"", "ArgMin", {1, 11, 12, 13}, infer_arg, arg_cpu<false>});

}  // namespace kiln::ops
