// Binary and variadic math: Pow (mixed base/exponent dtypes), Mod, BitShift, Max, Min, Sum,
// Mean.
#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/common/elementwise.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

// ---- Pow ------------------------------------------------------------------------------------

template <typename T>
T int_pow(T base, int64_t exp) {
  using U = std::make_unsigned_t<T>;
  if (exp < 0) {  // only 1 and -1 have integer reciprocals
    if (base == 1) return 1;
    if (base == -1) return (exp & 1) ? T(-1) : T(1);
    return 0;
  }
  U result = 1, b = static_cast<U>(base);  // unsigned arithmetic wraps like numpy
  while (exp > 0) {
    if (exp & 1) result = static_cast<U>(result * b);
    b = static_cast<U>(b * b);
    exp >>= 1;
  }
  return static_cast<T>(result);
}

bool pow_base_dtype(DataType dt) {
  return dt == DataType::kInt32 || dt == DataType::kInt64 || in_type_set(dt, TypeSet::kFloat);
}

void pow_cpu(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (!pow_base_dtype(a.dtype())) ctx.fail("Pow base " + a.describe() + " must be int32, int64 or float");
  std::vector<int64_t> b_dims = legacy_b_dims(ctx, a, b);
  auto dims = broadcast_dims(a.dims(), b_dims);
  Tensor& out = ctx.allocate_output(0, a.dtype(), dims);
  dispatch_set<TypeSet::kSigned>(a.dtype(), [&](auto ta) {
    using T = typename decltype(ta)::type;
    dispatch_set<TypeSet::kNumeric>(b.dtype(), [&](auto tb) {
      using U = typename decltype(tb)::type;
      const T* pa = a.data<T>();
      const U* pb = b.data<U>();
      T* po = out.data<T>();
      BroadcastWalker w(dims, {a.dims(), b_dims});
      for (int64_t i = 0; i < out.numel(); ++i, w.next()) {
        const T& x = pa[w.offset(0)];
        const U& e = pb[w.offset(1)];
        if constexpr (std::is_integral_v<T> && std::is_integral_v<U>) {
          po[i] = int_pow<T>(x, static_cast<int64_t>(e));
        } else if constexpr (std::is_integral_v<T>) {
          double r = std::pow(static_cast<double>(x), static_cast<double>(static_cast<ComputeT<U>>(e)));
          // numpy computes in double, then truncates as x86-64 does (NaN, overflow -> min).
          constexpr double kLimit = sizeof(T) == 4 ? 2147483648.0 : 9223372036854775808.0;
          po[i] = r >= -kLimit && r < kLimit ? static_cast<T>(r) : std::numeric_limits<T>::min();
        } else {
          double r = std::pow(static_cast<double>(static_cast<ComputeT<T>>(x)),
                              static_cast<double>(static_cast<ComputeT<U>>(e)));
          po[i] = from_compute<T>(r);
        }
      }
    });
  });
}

void pow_infer(InferenceContext& ctx) {
  DataType a = ctx.input_dtype(0), b = ctx.input_dtype(1);
  if (a != DataType::kUndefined && !pow_base_dtype(a)) ctx.fail("Pow base dtype " + std::string(dtype_name(a)) + " is not supported");
  if (b != DataType::kUndefined && !in_type_set(b, TypeSet::kNumeric))
    ctx.fail("Pow exponent dtype " + std::string(dtype_name(b)) + " is not numeric");
  if (ctx.version() < 12 && a != b) ctx.fail("Pow before opset 12 needs base and exponent of one dtype");
  if (ctx.version() < 7) {
    infer_broadcast_checked(ctx, TypeSet::kFloat);
    return;
  }
  std::optional<Shape> shape;
  try {
    shape = broadcast_shapes({ctx.input_shape(0), ctx.input_shape(1)});
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
  ctx.set_output(0, a, shape);
}

// ---- Mod ------------------------------------------------------------------------------------

void mod_cpu(KernelContext& ctx) {
  bool fmod = ctx.attrs().get_int("fmod", 0) != 0;
  map_binary<TypeSet::kNumeric>(ctx, [&](auto x, auto y) -> decltype(x) {
    using C = decltype(x);
    if constexpr (std::is_integral_v<C>) {
      if (y == 0) ctx.fail("integer modulo by zero");
      if constexpr (std::is_signed_v<C>) {
        if (y == -1) return 0;  // avoids INT_MIN % -1
      }
      C r = static_cast<C>(x % y);
      if (!fmod && r != 0 && ((r < 0) != (y < 0))) r = static_cast<C>(r + y);
      return r;
    } else {
      C r = std::fmod(x, y);
      if (!fmod) {  // numpy.mod: the result takes the divisor's sign
        if (r != 0) {
          if ((r < 0) != (y < 0)) r += y;
        } else {
          r = std::copysign(C(0), y);
        }
      }
      return r;
    }
  });
}

void mod_infer(InferenceContext& ctx) { infer_broadcast_checked(ctx, TypeSet::kNumeric); }

// ---- BitShift -------------------------------------------------------------------------------

void bitshift_cpu(KernelContext& ctx) {
  std::string direction = ctx.attrs().get_string("direction", "");
  if (direction != "LEFT" && direction != "RIGHT") ctx.fail("BitShift direction must be LEFT or RIGHT, got '" + direction + "'");
  bool left = direction == "LEFT";
  map_binary<TypeSet::kInt>(ctx, [=](auto x, auto y) -> decltype(x) {
    using C = decltype(x);
    using U = std::make_unsigned_t<C>;
    constexpr int bits = sizeof(C) * 8;
    bool in_range = !(y < 0) && static_cast<uint64_t>(y) < static_cast<uint64_t>(bits);
    if (!in_range) return (!left && x < 0) ? C(-1) : C(0);
    if (left) return static_cast<C>(static_cast<U>(static_cast<U>(x) << y));
    return static_cast<C>(x >> y);  // arithmetic for signed types
  });
}

void bitshift_infer(InferenceContext& ctx) { infer_broadcast_checked(ctx, TypeSet::kInt); }

// ---- Max, Min, Sum, Mean --------------------------------------------------------------------

enum class Fold { kMax, kMin, kSum, kMean };

template <Fold F, TypeSet S>
void variadic_cpu(KernelContext& ctx) {
  size_t n = ctx.num_inputs();
  if (n == 0) ctx.fail("needs at least one input");
  std::vector<const Tensor*> in;
  std::vector<std::vector<int64_t>> all_dims;
  for (size_t i = 0; i < n; ++i) {
    in.push_back(&ctx.input(i));
    if (in.back()->dtype() != in[0]->dtype())
      ctx.fail("inputs have different dtypes: " + in[0]->describe() + " and " + in.back()->describe());
    all_dims.push_back(in.back()->dims());
  }
  auto dims = broadcast_dims(all_dims);
  Tensor& out = ctx.allocate_output(0, in[0]->dtype(), dims);
  dispatch_set<S>(in[0]->dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = ComputeT<T>;
    T* po = out.data<T>();
    BroadcastWalker w(dims, all_dims);
    for (int64_t i = 0; i < out.numel(); ++i, w.next()) {
      C acc = static_cast<C>(in[0]->data<T>()[w.offset(0)]);
      for (size_t k = 1; k < n; ++k) {
        C v = static_cast<C>(in[k]->data<T>()[w.offset(k)]);
        if constexpr (F == Fold::kMax || F == Fold::kMin) {
          if constexpr (std::is_floating_point_v<C>) {
            if (std::isnan(v) || std::isnan(acc)) { acc = std::numeric_limits<C>::quiet_NaN(); continue; }
          }
          if (F == Fold::kMax ? v > acc : v < acc) acc = v;
        } else {
          acc = static_cast<C>(acc + v);
        }
      }
      if constexpr (F == Fold::kMean) acc = static_cast<C>(acc / static_cast<C>(n));
      po[i] = from_compute<T>(acc);
    }
  });
}

template <TypeSet S>
void variadic_infer(InferenceContext& ctx) {
  if (ctx.num_inputs() == 0) ctx.fail("needs at least one input");
  infer_broadcast_checked(ctx, S);
}

// Max and Min take integers from opset 12 on.
void minmax_infer(InferenceContext& ctx) {
  if (ctx.version() >= 12) variadic_infer<TypeSet::kNumeric>(ctx);
  else variadic_infer<TypeSet::kFloat>(ctx);
}

}  // namespace

KILN_REGISTER_OP(Pow, {"", "Pow", {1, 7, 12, 13, 15}, pow_infer, pow_cpu});
KILN_REGISTER_OP(Mod, {"", "Mod", {10, 13, 28}, mod_infer, mod_cpu});
KILN_REGISTER_OP(BitShift, {"", "BitShift", {11, 28}, bitshift_infer, bitshift_cpu});
KILN_REGISTER_OP(Max, {"", "Max", {1, 6, 8, 12, 13}, minmax_infer, (variadic_cpu<Fold::kMax, TypeSet::kNumeric>)});
KILN_REGISTER_OP(Min, {"", "Min", {1, 6, 8, 12, 13}, minmax_infer, (variadic_cpu<Fold::kMin, TypeSet::kNumeric>)});
KILN_REGISTER_OP(Sum, {"", "Sum", {1, 6, 8, 13}, variadic_infer<TypeSet::kFloat>, (variadic_cpu<Fold::kSum, TypeSet::kFloat>)});
KILN_REGISTER_OP(Mean, {"", "Mean", {1, 6, 8, 13}, variadic_infer<TypeSet::kFloat>, (variadic_cpu<Fold::kMean, TypeSet::kFloat>)});

}  // namespace kiln::ops
