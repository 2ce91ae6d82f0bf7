// Unary math: Abs, Neg, Sqrt, Exp, Log, Reciprocal, Ceil, Floor, Round, Sign, the trigonometric
// and hyperbolic functions, Erf, IsNaN, IsInf, Not, BitwiseNot.
#include <cmath>
#include <type_traits>

#include "ops/common/elementwise.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

// One float-only op: kernel and inference from a function of float/double.
#define KILN_FLOAT_UNARY(Name, expr)                                                  \
  void Name##_cpu(KernelContext& ctx) {                                               \
    map_unary<TypeSet::kFloat>(ctx, [](auto x) -> decltype(x) { return expr; });      \
  }                                                                                   \
  void Name##_infer(InferenceContext& ctx) { infer_unary_checked(ctx, TypeSet::kFloat); }

KILN_FLOAT_UNARY(sqrt, std::sqrt(x))
KILN_FLOAT_UNARY(exp, std::exp(x))
KILN_FLOAT_UNARY(log, std::log(x))
KILN_FLOAT_UNARY(reciprocal, 1 / x)
KILN_FLOAT_UNARY(ceil, std::ceil(x))
KILN_FLOAT_UNARY(floor, std::floor(x))
KILN_FLOAT_UNARY(round, std::nearbyint(x))  // half to even, as numpy.round
KILN_FLOAT_UNARY(sin, std::sin(x))
KILN_FLOAT_UNARY(cos, std::cos(x))
KILN_FLOAT_UNARY(tan, std::tan(x))
KILN_FLOAT_UNARY(asin, std::asin(x))
KILN_FLOAT_UNARY(acos, std::acos(x))
KILN_FLOAT_UNARY(atan, std::atan(x))
KILN_FLOAT_UNARY(sinh, std::sinh(x))
KILN_FLOAT_UNARY(cosh, std::cosh(x))
KILN_FLOAT_UNARY(asinh, std::asinh(x))
KILN_FLOAT_UNARY(acosh, std::acosh(x))
KILN_FLOAT_UNARY(atanh, std::atanh(x))
KILN_FLOAT_UNARY(erf, std::erf(x))
#undef KILN_FLOAT_UNARY

void abs_cpu(KernelContext& ctx) {
  map_unary<TypeSet::kNumeric>(ctx, [](auto x) -> decltype(x) {
    using C = decltype(x);
    if constexpr (std::is_unsigned_v<C>) return x;
    else if constexpr (std::is_integral_v<C>) return x < 0 ? static_cast<C>(0 - static_cast<std::make_unsigned_t<C>>(x)) : x;
    else return std::fabs(x);
  });
}
void abs_infer(InferenceContext& ctx) { infer_unary_checked(ctx, TypeSet::kNumeric); }

void neg_cpu(KernelContext& ctx) {
  map_unary<TypeSet::kSigned>(ctx, [](auto x) -> decltype(x) {
    using C = decltype(x);
    if constexpr (std::is_integral_v<C>) return static_cast<C>(0 - static_cast<std::make_unsigned_t<C>>(x));
    else return -x;
  });
}
void neg_infer(InferenceContext& ctx) { infer_unary_checked(ctx, TypeSet::kSigned); }

void sign_cpu(KernelContext& ctx) {
  map_unary<TypeSet::kNumeric>(ctx, [](auto x) -> decltype(x) {
    using C = decltype(x);
    if constexpr (std::is_floating_point_v<C>) {
      if (std::isnan(x)) return x;
    }
    if constexpr (std::is_unsigned_v<C>) return x > 0 ? 1 : 0;
    else return static_cast<C>(x > 0 ? 1 : (x < 0 ? -1 : 0));
  });
}
void sign_infer(InferenceContext& ctx) { infer_unary_checked(ctx, TypeSet::kNumeric); }

void not_cpu(KernelContext& ctx) { map_unary<TypeSet::kBool>(ctx, [](bool x) { return !x; }); }
void not_infer(InferenceContext& ctx) { infer_unary_checked(ctx, TypeSet::kBool); }

void bitwise_not_cpu(KernelContext& ctx) {
  map_unary<TypeSet::kInt>(ctx, [](auto x) -> decltype(x) { return static_cast<decltype(x)>(~x); });
}
void bitwise_not_infer(InferenceContext& ctx) { infer_unary_checked(ctx, TypeSet::kInt); }

// IsNaN / IsInf take every float type, fp8 included.
bool is_any_float(DataType dt) { return is_float(dt) && dt != DataType::kFloat4E2M1 && dt != DataType::kFloat8E8M0; }

void float_predicate_infer(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (dt != DataType::kUndefined && !is_any_float(dt))
    ctx.fail("input dtype " + std::string(dtype_name(dt)) + " is not a float type");
  ctx.set_output(0, DataType::kBool, ctx.input_type(0).shape);
}

template <typename Pred>
void float_predicate(KernelContext& ctx, Pred pred) {
  const Tensor& x = ctx.input(0);
  if (!is_any_float(x.dtype())) ctx.fail("input " + x.describe() + " is not a float tensor");
  std::vector<double> v = x.to_f64();
  Tensor& y = ctx.allocate_output(0, DataType::kBool, x.dims());
  bool* py = y.data<bool>();
  for (int64_t i = 0; i < x.numel(); ++i) py[i] = pred(v[i]);
}

void isnan_cpu(KernelContext& ctx) { float_predicate(ctx, [](double v) { return std::isnan(v); }); }

void isinf_cpu(KernelContext& ctx) {
  bool pos = ctx.attrs().get_int("detect_positive", 1) != 0;
  bool neg = ctx.attrs().get_int("detect_negative", 1) != 0;
  float_predicate(ctx, [&](double v) { return std::isinf(v) && (v > 0 ? pos : neg); });
}

}  // namespace

KILN_REGISTER_OP(Abs, {"", "Abs", {1, 6, 13}, abs_infer, abs_cpu});
KILN_REGISTER_OP(Neg, {"", "Neg", {1, 6, 13}, neg_infer, neg_cpu});
KILN_REGISTER_OP(Sqrt, {"", "Sqrt", {1, 6, 13}, sqrt_infer, sqrt_cpu});
KILN_REGISTER_OP(Exp, {"", "Exp", {1, 6, 13}, exp_infer, exp_cpu});
KILN_REGISTER_OP(Log, {"", "Log", {1, 6, 13}, log_infer, log_cpu});
KILN_REGISTER_OP(Reciprocal, {"", "Reciprocal", {1, 6, 13}, reciprocal_infer, reciprocal_cpu});
KILN_REGISTER_OP(Ceil, {"", "Ceil", {1, 6, 13}, ceil_infer, ceil_cpu});
KILN_REGISTER_OP(Floor, {"", "Floor", {1, 6, 13}, floor_infer, floor_cpu});
KILN_REGISTER_OP(Round, {"", "Round", {11, 22}, round_infer, round_cpu});
KILN_REGISTER_OP(Sign, {"", "Sign", {9, 13}, sign_infer, sign_cpu});
KILN_REGISTER_OP(Sin, {"", "Sin", {7, 22}, sin_infer, sin_cpu});
KILN_REGISTER_OP(Cos, {"", "Cos", {7, 22}, cos_infer, cos_cpu});
KILN_REGISTER_OP(Tan, {"", "Tan", {7, 22}, tan_infer, tan_cpu});
KILN_REGISTER_OP(Asin, {"", "Asin", {7, 22}, asin_infer, asin_cpu});
KILN_REGISTER_OP(Acos, {"", "Acos", {7, 22}, acos_infer, acos_cpu});
KILN_REGISTER_OP(Atan, {"", "Atan", {7, 22}, atan_infer, atan_cpu});
KILN_REGISTER_OP(Sinh, {"", "Sinh", {9, 22}, sinh_infer, sinh_cpu});
KILN_REGISTER_OP(Cosh, {"", "Cosh", {9, 22}, cosh_infer, cosh_cpu});
KILN_REGISTER_OP(Asinh, {"", "Asinh", {9, 22}, asinh_infer, asinh_cpu});
KILN_REGISTER_OP(Acosh, {"", "Acosh", {9, 22}, acosh_infer, acosh_cpu});
KILN_REGISTER_OP(Atanh, {"", "Atanh", {9, 22}, atanh_infer, atanh_cpu});
KILN_REGISTER_OP(Erf, {"", "Erf", {9, 13}, erf_infer, erf_cpu});
KILN_REGISTER_OP(IsNaN, {"", "IsNaN", {9, 13, 20}, float_predicate_infer, isnan_cpu});
KILN_REGISTER_OP(IsInf, {"", "IsInf", {10, 20}, float_predicate_infer, isinf_cpu});
KILN_REGISTER_OP(Not, {"", "Not", {1}, not_infer, not_cpu});
KILN_REGISTER_OP(BitwiseNot, {"", "BitwiseNot", {18}, bitwise_not_infer, bitwise_not_cpu});

}  // namespace kiln::ops
