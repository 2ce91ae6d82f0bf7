// Det (opset 11, 22): determinants of square matrices [*, M, M] -> [*], by LU with partial
// pivoting in double.
#include <cmath>
#include <utility>
#include <vector>

#include "ops/common/attention_math.h"
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

double determinant(std::vector<double> a, int64_t m) {
  double det = 1;
  for (int64_t c = 0; c < m; ++c) {
    int64_t piv = c;
    for (int64_t r = c + 1; r < m; ++r)
      if (std::fabs(a[r * m + c]) > std::fabs(a[piv * m + c])) piv = r;
    if (a[piv * m + c] == 0) return 0;
    if (piv != c) {
      for (int64_t k = 0; k < m; ++k) std::swap(a[c * m + k], a[piv * m + k]);
      det = -det;
    }
    det *= a[c * m + c];
    for (int64_t r = c + 1; r < m; ++r) {
      const double f = a[r * m + c] / a[c * m + c];
      for (int64_t k = c; k < m; ++k) a[r * m + k] -= f * a[c * m + k];
    }
  }
  return det;
}

void det_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!round_fn_for(x.dtype())) ctx.fail("Det input must be float, got " + x.describe());
  if (x.rank() < 2 || x.dim(x.rank() - 1) != x.dim(x.rank() - 2))
    ctx.fail("Det input must be [*, M, M], got " + x.describe());
  const int64_t m = x.dim(x.rank() - 1);
  std::vector<int64_t> odims(x.dims().begin(), x.dims().end() - 2);
  const std::vector<double> v = x.to_f64();
  Tensor& y = ctx.allocate_output(0, x.dtype(), odims);
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < y.numel(); ++i)
      y.data<T>()[i] = store_d<T>(determinant(std::vector<double>(v.begin() + i * m * m, v.begin() + (i + 1) * m * m), m));
  });
}

void infer_det(InferenceContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("Det input must be float");
  const Shape* s = ctx.input_shape(0);
  if (!s) return ctx.set_output(0, dt, std::nullopt);
  const size_t r = s->rank();
  if (r < 2) ctx.fail("Det input must have rank >= 2");
  const Dim& a = (*s)[r - 1];
  const Dim& b = (*s)[r - 2];
  if (a.is_constant() && b.is_constant() && a.value() != b.value()) ctx.fail("Det input must be square");
  ctx.set_output(0, dt, Shape(std::vector<Dim>(s->dims().begin(), s->dims().end() - 2)));
}

}  // namespace

KILN_REGISTER_OP(Det, {"", "Det", {11, 22}, infer_det, det_cpu});

}  // namespace kiln::ops
