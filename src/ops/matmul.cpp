// MatMul, MatMulInteger and QLinearMatMul over the shared batched product (common/matmul_core).
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "ops/common/infer.h"
#include "ops/common/matmul_core.h"
#include "ops/common/values_as.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

MatMulPlan plan_or_fail(const KernelContext& ctx, const Tensor& a, const Tensor& b) {
  try {
    return plan_matmul(a.dims(), b.dims());
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
}

void matmul_cpu(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype() != b.dtype()) ctx.fail("A and B have different dtypes: " + a.describe() + ", " + b.describe());
  MatMulPlan p = plan_or_fail(ctx, a, b);
  Tensor& y = ctx.allocate_output(0, a.dtype(), p.out_dims);
  DataType dt = a.dtype();
  if (dt == DataType::kFloat32) {
    matmul_run(p, a.data<float>(), b.data<float>(), y.data<float>());
  } else if (dt == DataType::kFloat64) {
    matmul_run(p, a.data<double>(), b.data<double>(), y.data<double>());
  } else if (dt == DataType::kFloat16 || dt == DataType::kBFloat16) {
    auto av = values_as<float>(a), bv = values_as<float>(b);
    std::vector<float> yv(static_cast<size_t>(y.numel()));
    matmul_run(p, av.data(), bv.data(), yv.data());
    dispatch_float(dt, [&](auto tag) {
      using T = typename decltype(tag)::type;
      for (int64_t i = 0; i < y.numel(); ++i) y.data<T>()[i] = T(yv[i]);
    });
  } else {
    auto av = values_as<int64_t>(a), bv = values_as<int64_t>(b);
    std::vector<int64_t> yv(static_cast<size_t>(y.numel()));
    matmul_run(p, av.data(), bv.data(), yv.data());
    dispatch_int(dt, [&](auto tag) {
      using T = typename decltype(tag)::type;
      for (int64_t i = 0; i < y.numel(); ++i) y.data<T>()[i] = static_cast<T>(yv[i]);
    });
  }
}

bool is_8bit(DataType dt) { return dt == DataType::kInt8 || dt == DataType::kUInt8; }

// Subtracts a zero point given as a scalar or, for a 2-D-or-more operand, per row (A: one per
// row m) or per column (B: one per column n).
void subtract_zero_point(const KernelContext& ctx, std::vector<int64_t>& v, const Tensor& x, const Tensor* zp,
                         bool per_row, const char* what) {
  if (!zp) return;
  if (zp->dtype() != x.dtype()) ctx.fail(std::string(what) + " must have the dtype of its operand");
  auto z = zp->to_i64();
  if (z.size() == 1) {
    for (auto& e : v) e -= z[0];
    return;
  }
  if (x.rank() < 2) ctx.fail(std::string(what) + " must be a scalar for a 1-D operand");
  int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  if (static_cast<int64_t>(z.size()) != (per_row ? rows : cols))
    ctx.fail(std::string(what) + " has " + std::to_string(z.size()) + " values, expected 1 or " +
             std::to_string(per_row ? rows : cols));
  for (size_t i = 0; i < v.size(); ++i) {
    int64_t idx = per_row ? static_cast<int64_t>(i) / cols % rows : static_cast<int64_t>(i) % cols;
    v[i] -= z[idx];
  }
}

// Integer product of A and B (int8/uint8) after their zero points: int64 values.
std::vector<int64_t> integer_product(const KernelContext& ctx, const Tensor& a, const Tensor* azp, const Tensor& b,
                                     const Tensor* bzp, MatMulPlan& p) {
  if (!is_8bit(a.dtype()) || !is_8bit(b.dtype())) ctx.fail("A and B must be int8 or uint8: " + a.describe() + ", " + b.describe());
  p = plan_or_fail(ctx, a, b);
  auto av = values_as<int64_t>(a), bv = values_as<int64_t>(b);
  subtract_zero_point(ctx, av, a, azp, true, "a_zero_point");
  subtract_zero_point(ctx, bv, b, bzp, false, "b_zero_point");
  std::vector<int64_t> yv;
  int64_t total = 1;
  for (int64_t d : p.out_dims) total *= d;
  yv.resize(static_cast<size_t>(total));
  matmul_run(p, av.data(), bv.data(), yv.data());
  return yv;
}

void matmul_integer_cpu(KernelContext& ctx) {
  MatMulPlan p;
  auto yv = integer_product(ctx, ctx.input(0), ctx.has_input(2) ? &ctx.input(2) : nullptr, ctx.input(1),
                            ctx.has_input(3) ? &ctx.input(3) : nullptr, p);
  Tensor& y = ctx.allocate_output(0, DataType::kInt32, p.out_dims);
  for (size_t i = 0; i < yv.size(); ++i) y.data<int32_t>()[i] = static_cast<int32_t>(yv[i]);
}

// a op b rounded to the scale's own dtype, as the reference computes scale products.
double scale_op(double a, double b, bool div, DataType dt) {
  double r = div ? a / b : a * b;
  switch (dt) {
    case DataType::kFloat32: return static_cast<float>(r);
    case DataType::kFloat16: return static_cast<float>(Float16(static_cast<float>(r)));
    case DataType::kBFloat16: return static_cast<float>(BFloat16(static_cast<float>(r)));
    default: return r;
  }
}

void qlinear_matmul_cpu(KernelContext& ctx) {
  MatMulPlan p;
  auto yv = integer_product(ctx, ctx.input(0), &ctx.input(2), ctx.input(3), &ctx.input(5), p);
  const Tensor& as = ctx.input(1);
  const Tensor& bs = ctx.input(4);
  const Tensor& ys = ctx.input(6);
  const Tensor& yzp = ctx.input(7);
  // a_scale may be per row of A (m values), b_scale per column of B (n values).
  if ((as.numel() != 1 && as.numel() != p.m) || (bs.numel() != 1 && bs.numel() != p.n) || ys.numel() != 1 ||
      yzp.numel() != 1)
    ctx.fail("a_scale must have 1 or M values, b_scale 1 or N values, y_scale and y_zero_point one value");
  if (!is_8bit(yzp.dtype())) ctx.fail("y_zero_point must be int8 or uint8");
  DataType sdt = as.dtype();
  auto av = as.to_f64(), bvs = bs.to_f64();
  double ysv = ys.to_f64()[0];
  double zp = yzp.to_f64()[0];
  bool s8 = yzp.dtype() == DataType::kInt8;
  Tensor& y = ctx.allocate_output(0, yzp.dtype(), p.out_dims);
  for (size_t i = 0; i < yv.size(); ++i) {
    int64_t col = static_cast<int64_t>(i) % p.n, row = static_cast<int64_t>(i) / p.n % p.m;
    double mult = scale_op(scale_op(av[av.size() == 1 ? 0 : row], bvs[bvs.size() == 1 ? 0 : col], false, sdt), ysv, true, sdt);
    double r = std::clamp(std::nearbyint(static_cast<double>(yv[i]) * mult + zp), s8 ? -128.0 : 0.0, s8 ? 127.0 : 255.0);
    if (s8)
      y.data<int8_t>()[i] = static_cast<int8_t>(r);
    else
      y.data<uint8_t>()[i] = static_cast<uint8_t>(r);
  }
}

std::optional<Shape> infer_matmul_shape(InferenceContext& ctx, size_t ia, size_t ib) {
  try {
    return matmul_shape(ctx.input_shape(ia), ctx.input_shape(ib));
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
}

void infer_matmul(InferenceContext& ctx) {
  DataType dt = common_dtype(ctx, {0, 1}, "A and B");
  ctx.set_output(0, dt, infer_matmul_shape(ctx, 0, 1));
}
void infer_matmul_integer(InferenceContext& ctx) { ctx.set_output(0, DataType::kInt32, infer_matmul_shape(ctx, 0, 1)); }
void infer_qlinear_matmul(InferenceContext& ctx) { ctx.set_output(0, ctx.input_dtype(7), infer_matmul_shape(ctx, 0, 3)); }

}  // namespace

KILN_REGISTER_OP(MatMul, {"", "MatMul", {1, 9, 13}, infer_matmul, matmul_cpu});
KILN_REGISTER_OP(MatMulInteger, {"", "MatMulInteger", {10}, infer_matmul_integer, matmul_integer_cpu});
KILN_REGISTER_OP(QLinearMatMul, {"", "QLinearMatMul", {10, 21}, infer_qlinear_matmul, qlinear_matmul_cpu});

}  // namespace kiln::ops
