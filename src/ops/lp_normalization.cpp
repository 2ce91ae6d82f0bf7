// LpNormalization (x / ||x||_p along one axis, p = 1 or 2; a zero norm gives 0) and
// MeanVarianceNormalization ((x - mean) / (std + 1e-9) over `axes`, default [0, 2, 3]).
#include <cmath>

#include "ops/common/infer.h"
#include "ops/common/as_double.h"
#include "ops/common/reduction.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

void infer_lp_norm(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("input must be a float tensor, got " + std::string(dtype_name(dt)));
  int64_t p = ctx.attrs().get_int("p", 2);
  if (p != 1 && p != 2) ctx.fail("p must be 1 or 2, got " + std::to_string(p));
  if (const Shape* s = ctx.input_shape(0)) {
    try {
      normalize_axis(ctx.attrs().get_int("axis", -1), static_cast<int64_t>(s->rank()));
    } catch (const Error& e) {
      ctx.fail(e.what());
    }
  }
  ctx.set_output(0, ctx.input_type(0));
}

void lp_norm_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const size_t axis = static_cast<size_t>(normalize_axis(ctx.attrs().get_int("axis", -1), static_cast<int64_t>(x.rank())));
  const int64_t p = ctx.attrs().get_int("p", 2);
  if (p != 1 && p != 2) ctx.fail("p must be 1 or 2, got " + std::to_string(p));
  Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
  if (y.numel() == 0) return;
  const int64_t n = x.dim(axis);
  const int64_t outer = dims_product(x.dims(), 0, axis), inner = dims_product(x.dims(), axis + 1, x.rank());
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t base = o * n * inner + i;
        double norm = 0;
        for (int64_t k = 0; k < n; ++k) {
          double v = to_double(px[base + k * inner]);
          norm += p == 1 ? std::fabs(v) : v * v;
        }
        if (p == 2) norm = std::sqrt(norm);
        for (int64_t k = 0; k < n; ++k)
          py[base + k * inner] = from_double<T>(norm == 0 ? 0.0 : to_double(px[base + k * inner]) / norm);
      }
  });
}

std::vector<int64_t> mvn_axes(const ir::Attributes& attrs) { return attrs.get_ints("axes", {0, 2, 3}); }

void infer_mvn(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("input must be a float tensor, got " + std::string(dtype_name(dt)));
  if (const Shape* s = ctx.input_shape(0)) {
    try {
      reduction_mask(mvn_axes(ctx.attrs()), static_cast<int64_t>(s->rank()));
    } catch (const Error& e) {
      ctx.fail(e.what());
    }
  }
  ctx.set_output(0, ctx.input_type(0));
}

void mvn_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::vector<bool> mask = reduction_mask(mvn_axes(ctx.attrs()), static_cast<int64_t>(x.rank()));
  Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
  if (y.numel() == 0) return;
  ReductionLayout L(x.dims(), mask);
  const int64_t n = L.inner.count();
  const std::vector<double> xd = x.to_f64();
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* py = y.data<T>();
    for (int64_t o = 0; o < L.outer.count(); ++o, L.outer.next()) {
      const int64_t base = L.outer.offset();
      double m = 0, v = 0;
      L.inner.reset();
      for (int64_t i = 0; i < n; ++i, L.inner.next()) m += xd[base + L.inner.offset()];
      m /= static_cast<double>(n);
      L.inner.reset();
      for (int64_t i = 0; i < n; ++i, L.inner.next()) {
        double d = xd[base + L.inner.offset()] - m;
        v += d * d;
      }
      const double denom = std::sqrt(v / static_cast<double>(n)) + 1e-9;
      L.inner.reset();
      for (int64_t i = 0; i < n; ++i, L.inner.next()) {
        const int64_t at = base + L.inner.offset();
        py[at] = from_double<T>((xd[at] - m) / denom);
      }
    }
  });
}

}  // namespace

KILN_REGISTER_OP(LpNormalization, {"", "LpNormalization", {1, 22}, infer_lp_norm, lp_norm_cpu});
KILN_REGISTER_OP(MeanVarianceNormalization, {"", "MeanVarianceNormalization", {9, 13}, infer_mvn, mvn_cpu});

}  // namespace kiln::ops
