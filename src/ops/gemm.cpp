// Gemm: Y = alpha * op(A) * op(B) + beta * C, C broadcast to [M, N]. Versions 1 and 6 (C
// required, a `broadcast` flag) compute the same for every model they accept.
#include <type_traits>

#include "ops/common/broadcast.h"
#include "ops/common/gemm.h"
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

void gemm_cpu(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.rank() != 2 || b.rank() != 2) ctx.fail("A and B must be 2-D: " + a.describe() + ", " + b.describe());
  if (a.dtype() != b.dtype()) ctx.fail("A and B have different dtypes");
  bool ta = ctx.attrs().get_int("transA", 0) != 0, tb = ctx.attrs().get_int("transB", 0) != 0;
  float alpha = ctx.attrs().get_float("alpha", 1.0f), beta = ctx.attrs().get_float("beta", 1.0f);
  int64_t m = ta ? a.dim(1) : a.dim(0), k = ta ? a.dim(0) : a.dim(1);
  int64_t kb = tb ? b.dim(1) : b.dim(0), n = tb ? b.dim(0) : b.dim(1);
  if (k != kb) ctx.fail("inner dims differ: " + a.describe() + " and " + b.describe());
  Tensor& y = ctx.allocate_output(0, a.dtype(), {m, n});
  bool has_c = ctx.has_input(2);
  std::vector<double> cv;
  std::vector<int64_t> cdims;
  if (has_c) {
    const Tensor& c = ctx.input(2);
    cdims = c.dims();
    if (c.rank() > 2 || broadcast_dims(c.dims(), {m, n}) != std::vector<int64_t>{m, n})
      ctx.fail("C " + c.describe() + " does not broadcast to [" + std::to_string(m) + "," + std::to_string(n) + "]");
    cv = c.to_f64();
  }
  auto c_at = [&](int64_t i, int64_t j) -> double {
    if (cdims.size() == 2) return cv[(cdims[0] == 1 ? 0 : i) * cdims[1] + (cdims[1] == 1 ? 0 : j)];
    if (cdims.size() == 1) return cv[cdims[0] == 1 ? 0 : j];
    return cv[0];
  };
  if (a.dtype() == DataType::kFloat32) {
    float* py = y.data<float>();
    if (has_c && beta != 0.0f)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) py[i * n + j] = beta * static_cast<float>(c_at(i, j));
    gemm_f32(ta, tb, m, n, k, alpha, a.data<float>(), a.dim(1), b.data<float>(), b.dim(1),
             has_c && beta != 0.0f ? 1.0f : 0.0f, py, n);
    return;
  }
  dispatch_numeric(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = std::conditional_t<std::is_same_v<T, double>, double,
                                 std::conditional_t<std::is_integral_v<T>, int64_t, float>>;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        C acc = 0;
        for (int64_t p = 0; p < k; ++p)
          acc += static_cast<C>(ta ? pa[p * a.dim(1) + i] : pa[i * a.dim(1) + p]) *
                 static_cast<C>(tb ? pb[j * b.dim(1) + p] : pb[p * b.dim(1) + j]);
        C r = static_cast<C>(alpha) * acc;
        if (has_c) r += static_cast<C>(beta) * static_cast<C>(c_at(i, j));
        py[i * n + j] = static_cast<T>(r);
      }
  });
}

void infer_gemm(InferenceContext& ctx) {
  const Shape* a = ctx.input_shape(0);
  const Shape* b = ctx.input_shape(1);
  DataType dt = common_dtype(ctx, {0, 1}, "A and B");
  if ((a && a->rank() != 2) || (b && b->rank() != 2)) ctx.fail("A and B must be 2-D");
  bool ta = ctx.attrs().get_int("transA", 0) != 0, tb = ctx.attrs().get_int("transB", 0) != 0;
  Dim m = a ? (*a)[ta ? 1 : 0] : Dim::unknown();
  Dim n = b ? (*b)[tb ? 0 : 1] : Dim::unknown();
  if (a && b) {
    const Dim& ka = (*a)[ta ? 0 : 1];
    const Dim& kb = (*b)[tb ? 1 : 0];
    if (ka.is_constant() && kb.is_constant() && ka.value() != kb.value()) ctx.fail("inner dims of A and B differ");
  }
  ctx.set_output(0, dt, Shape({m, n}));
}

}  // namespace

KILN_REGISTER_OP(Gemm, {"", "Gemm", {1, 6, 7, 9, 11, 13}, infer_gemm, gemm_cpu});

}  // namespace kiln::ops
