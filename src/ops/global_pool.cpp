// GlobalAveragePool, GlobalMaxPool, GlobalLpPool: one value per (n, c) over all spatial dims.
#include <cmath>
#include <type_traits>

#include "ops/registry.h"

namespace kiln::ops {
namespace {

enum class GlobalKind { kAverage, kMax, kLp };

template <GlobalKind K>
void global_pool_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.fail("X must have rank >= 2, has " + x.describe());
  if (!is_float(x.dtype())) ctx.fail("X must be a float tensor, got " + x.describe());
  std::vector<int64_t> dims(x.rank(), 1);
  dims[0] = x.dim(0);
  dims[1] = x.dim(1);
  Tensor& y = ctx.allocate_output(0, x.dtype(), dims);
  int64_t channels = x.dim(0) * x.dim(1), spatial = channels == 0 ? 0 : x.numel() / channels;
  // GlobalLpPool-1 took p as a float; later versions as an int.
  double p = K != GlobalKind::kLp ? 0
             : ctx.version() < 2 ? ctx.attrs().get_float("p", 2.0f)
                                 : static_cast<double>(ctx.attrs().get_int("p", 2));
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
    for (int64_t c = 0; c < channels; ++c) {
      const T* xc = x.data<T>() + c * spatial;
      double acc = K == GlobalKind::kMax ? -INFINITY : 0.0;
      for (int64_t i = 0; i < spatial; ++i) {
        double v = static_cast<C>(xc[i]);
        if constexpr (K == GlobalKind::kMax)
          acc = (v > acc || std::isnan(v)) ? v : acc;
        else if constexpr (K == GlobalKind::kLp)
          acc += std::pow(std::fabs(v), p);
        else
          acc += v;
      }
      if (K == GlobalKind::kAverage) acc /= static_cast<double>(spatial);
      if (K == GlobalKind::kLp) acc = std::pow(acc, 1.0 / p);
      y.data<T>()[c] = T(static_cast<C>(acc));
    }
  });
}

void infer_global_pool(InferenceContext& ctx) {
  const Shape* xs = ctx.input_shape(0);
  std::optional<Shape> out;
  if (xs) {
    if (xs->rank() < 2) ctx.fail("X must have rank >= 2, has " + xs->to_string());
    std::vector<Dim> dims(xs->rank(), Dim(1));
    dims[0] = (*xs)[0];
    dims[1] = (*xs)[1];
    out = Shape(dims);
  }
  ctx.set_output(0, ctx.input_dtype(0), out);
}

}  // namespace

KILN_REGISTER_OP(GlobalAveragePool, {"", "GlobalAveragePool", {1, 22}, infer_global_pool, global_pool_cpu<GlobalKind::kAverage>});
KILN_REGISTER_OP(GlobalMaxPool, {"", "GlobalMaxPool", {1, 22}, infer_global_pool, global_pool_cpu<GlobalKind::kMax>});
KILN_REGISTER_OP(GlobalLpPool, {"", "GlobalLpPool", {1, 2, 22}, infer_global_pool, global_pool_cpu<GlobalKind::kLp>});

}  // namespace kiln::ops
