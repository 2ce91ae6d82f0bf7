// LRN: local response normalization across channels (axis 1) of (N, C, D1, ...):
// y = x / (bias + alpha / size * sum of x^2 over channels [c - floor((size-1)/2), c + ceil((size-1)/2)])^beta.
#include <cmath>

#include "ops/common/infer.h"
#include "ops/common/as_double.h"
#include "ops/common/reduction.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

void infer_lrn(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("input must be a float tensor, got " + std::string(dtype_name(dt)));
  if (ctx.attrs().int_("size") <= 0) ctx.fail("size must be positive");
  const Shape* s = ctx.input_shape(0);
  if (s && s->rank() < 2) ctx.fail("input must have rank >= 2, got " + s->to_string());
  ctx.set_output(0, ctx.input_type(0));
}

void lrn_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.fail("input must have rank >= 2, got " + x.describe());
  const int64_t size = ctx.attrs().int_("size");
  if (size <= 0) ctx.fail("size must be positive");
  const double alpha = ctx.attrs().get_float("alpha", 1e-4f), beta = ctx.attrs().get_float("beta", 0.75f),
               bias = ctx.attrs().get_float("bias", 1.0f);
  Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
  if (y.numel() == 0) return;
  const int64_t n = x.dim(0), c = x.dim(1), spatial = dims_product(x.dims(), 2, x.rank());
  const int64_t before = (size - 1) / 2, after = size / 2;  // floor((size-1)/2), ceil((size-1)/2)
  const std::vector<double> xd = x.to_f64();
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* py = y.data<T>();
    for (int64_t b = 0; b < n; ++b)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t j = 0; j < spatial; ++j) {
          double sq = 0;
          for (int64_t k = std::max<int64_t>(0, ch - before); k <= std::min(c - 1, ch + after); ++k) {
            double v = xd[(b * c + k) * spatial + j];
            sq += v * v;
          }
          const int64_t at = (b * c + ch) * spatial + j;
          py[at] = from_double<T>(xd[at] / std::pow(bias + alpha / static_cast<double>(size) * sq, beta));
        }
  });
}

}  // namespace

KILN_REGISTER_OP(LRN, {"", "LRN", {1, 13}, infer_lrn, lrn_cpu});

}  // namespace kiln::ops
