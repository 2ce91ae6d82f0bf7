// Activations: Relu, LeakyRelu, PRelu, Elu, Selu, Celu, Sigmoid, HardSigmoid, HardSwish,
// Softplus, Softsign, Tanh, ThresholdedRelu, Gelu, Mish, Swish, Shrink, Clip.
#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/common/elementwise.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

template <typename C>
C sigmoid(C x) {  // the stable form of the reference
  if (x >= 0) return C(1) / (C(1) + std::exp(-x));
  C e = std::exp(x);
  return e / (C(1) + e);
}

template <typename C>
C softplus(C x) {  // log(1 + exp(x)) without overflow
  if (x > C(0)) return x + std::log1p(std::exp(-x));
  return std::log1p(std::exp(x));
}

float attr_f(const KernelContext& ctx, const char* name, float def) { return ctx.attrs().get_float(name, def); }

void float_infer(InferenceContext& ctx) { infer_unary_checked(ctx, TypeSet::kFloat); }
void signed_infer(InferenceContext& ctx) { infer_unary_checked(ctx, TypeSet::kSigned); }
void numeric_infer(InferenceContext& ctx) { infer_unary_checked(ctx, TypeSet::kNumeric); }

void relu_cpu(KernelContext& ctx) {
  map_unary<TypeSet::kSigned>(ctx, [](auto x) -> decltype(x) { return x > 0 ? x : decltype(x)(0); });
}

void leaky_relu_cpu(KernelContext& ctx) {
  float alpha = attr_f(ctx, "alpha", 0.01f);
  map_unary<TypeSet::kFloat>(ctx, [=](auto x) -> decltype(x) { return x >= 0 ? x : x * alpha; });
}

void prelu_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& slope = ctx.input(1);
  if (ctx.version() < 7) {
    // Opsets 1 and 6: one slope, one per channel (axis 1, as PyTorch exports) or X's shape.
    if (x.dtype() != slope.dtype()) ctx.fail("X " + x.describe() + " and slope " + slope.describe() + " differ in dtype");
    std::vector<int64_t> sd = slope.dims();
    if (slope.numel() == 1) sd = {};
    else if (slope.rank() == 1 && x.rank() >= 2 && slope.dim(0) == x.dim(1)) sd.insert(sd.end(), x.rank() - 2, 1);
    else if (slope.dims() != x.dims()) ctx.fail("slope " + slope.describe() + " does not fit X " + x.describe());
    Tensor& out = ctx.allocate_output(0, x.dtype(), x.dims());
    dispatch_set<TypeSet::kFloat>(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using C = ComputeT<T>;
      BroadcastWalker w(x.dims(), {x.dims(), sd});
      for (int64_t i = 0; i < x.numel(); ++i, w.next()) {
        C v = static_cast<C>(x.data<T>()[i]);
        out.data<T>()[i] = from_compute<T>(v < 0 ? v * static_cast<C>(slope.data<T>()[w.offset(1)]) : v);
      }
    });
    return;
  }
  map_binary<TypeSet::kNumeric>(ctx, [](auto v, auto s) -> decltype(v) { return v < 0 ? v * s : v; });
}

void prelu_infer(InferenceContext& ctx) {
  if (ctx.version() < 7) {
    infer_unary_checked(ctx, TypeSet::kFloat);
    return;
  }
  infer_broadcast_checked(ctx, TypeSet::kNumeric);
  // Slope broadcasts to X (unidirectionally): the output has X's shape when X's rank is known.
  if (const Shape* xs = ctx.input_shape(0)) {
    const ir::ValueType& out = ctx.outputs()[0];
    if (out.shape && out.shape->rank() != xs->rank()) ctx.fail("slope does not broadcast to X's shape");
  }
}

void elu_cpu(KernelContext& ctx) {
  float alpha = attr_f(ctx, "alpha", 1.0f);
  map_unary<TypeSet::kFloat>(ctx, [=](auto x) -> decltype(x) { return x >= 0 ? x : alpha * std::expm1(x); });
}

void selu_cpu(KernelContext& ctx) {
  float alpha = attr_f(ctx, "alpha", 1.67326319217681884765625f);
  float gamma = attr_f(ctx, "gamma", 1.05070102214813232421875f);
  map_unary<TypeSet::kFloat>(ctx, [=](auto x) -> decltype(x) {
    return x > 0 ? gamma * x : gamma * (alpha * std::exp(x) - alpha);
  });
}

void celu_cpu(KernelContext& ctx) {
  float alpha = attr_f(ctx, "alpha", 1.0f);
  map_unary<TypeSet::kFloat>(ctx, [=](auto x) -> decltype(x) {
    using C = decltype(x);
    return std::max(C(0), x) + std::min(C(0), alpha * std::expm1(x / alpha));
  });
}

void sigmoid_cpu(KernelContext& ctx) {
  map_unary<TypeSet::kFloat>(ctx, [](auto x) -> decltype(x) { return sigmoid(x); });
}

void hard_sigmoid_cpu(KernelContext& ctx) {
  float alpha = attr_f(ctx, "alpha", 0.2f);
  float beta = attr_f(ctx, "beta", 0.5f);
  map_unary<TypeSet::kFloat>(ctx, [=](auto x) -> decltype(x) {
    using C = decltype(x);
    return std::max(C(0), std::min(C(1), alpha * x + beta));
  });
}

void hard_swish_cpu(KernelContext& ctx) {
  map_unary<TypeSet::kFloat>(ctx, [](auto x) -> decltype(x) {
    using C = decltype(x);
    return x * std::max(C(0), std::min(C(1), x / C(6) + C(0.5)));
  });
}

void softplus_cpu(KernelContext& ctx) {
  map_unary<TypeSet::kFloat>(ctx, [](auto x) -> decltype(x) { return softplus(x); });
}

void softsign_cpu(KernelContext& ctx) {
  map_unary<TypeSet::kFloat>(ctx, [](auto x) -> decltype(x) { return x / (1 + std::fabs(x)); });
}

void tanh_cpu(KernelContext& ctx) {
  map_unary<TypeSet::kFloat>(ctx, [](auto x) -> decltype(x) { return std::tanh(x); });
}

void thresholded_relu_cpu(KernelContext& ctx) {
  float alpha = attr_f(ctx, "alpha", 1.0f);
  map_unary<TypeSet::kFloat>(ctx, [=](auto x) -> decltype(x) { return x > alpha ? x : decltype(x)(0); });
}

void gelu_cpu(KernelContext& ctx) {
  std::string approximate = ctx.attrs().get_string("approximate", "none");
  if (approximate == "none") {
    map_unary<TypeSet::kFloat>(ctx, [](auto x) -> decltype(x) {
      double d = x;
      return static_cast<decltype(x)>(0.5 * d * (1 + std::erf(d / std::sqrt(2.0))));
    });
  } else if (approximate == "tanh") {
    map_unary<TypeSet::kFloat>(ctx, [](auto x) -> decltype(x) {
      double d = x;
      double inner = std::sqrt(2.0 / M_PI) * (d + 0.044715 * d * d * d);
      return static_cast<decltype(x)>(0.5 * d * (1 + std::tanh(inner)));
    });
  } else {
    ctx.fail("Gelu approximate must be 'none' or 'tanh', got '" + approximate + "'");
  }
}

void mish_cpu(KernelContext& ctx) {
  map_unary<TypeSet::kFloat>(ctx, [](auto x) -> decltype(x) { return x * std::tanh(softplus(x)); });
}

void swish_cpu(KernelContext& ctx) {
  float alpha = attr_f(ctx, "alpha", 1.0f);
  map_unary<TypeSet::kFloat>(ctx, [=](auto x) -> decltype(x) { return x * sigmoid(static_cast<decltype(x)>(alpha * x)); });
}

void shrink_cpu(KernelContext& ctx) {
  double lambd = attr_f(ctx, "lambd", 0.5f);
  double bias = attr_f(ctx, "bias", 0.0f);
  map_unary<TypeSet::kNumeric>(ctx, [=](auto x) -> decltype(x) {
    using C = decltype(x);
    double d = static_cast<double>(x);
    if (d < -lambd) return static_cast<C>(d + bias);
    if (d > lambd) return static_cast<C>(d - bias);
    return C(0);
  });
}

// Clip: min/max attributes before opset 11, optional scalar inputs from 11 on.
void clip_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
  dispatch_set<TypeSet::kNumeric>(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = ComputeT<T>;
    C lo = std::numeric_limits<C>::lowest(), hi = std::numeric_limits<C>::max();
    bool has_lo = false, has_hi = false;
    if (ctx.version() < 11) {
      if (ctx.attrs().has("min")) { lo = static_cast<C>(ctx.attrs().get_float("min", 0)); has_lo = true; }
      if (ctx.attrs().has("max")) { hi = static_cast<C>(ctx.attrs().get_float("max", 0)); has_hi = true; }
    } else {
      for (size_t k = 1; k <= 2; ++k) {
        if (!ctx.has_input(k)) continue;
        const Tensor& b = ctx.input(k);
        if (b.dtype() != x.dtype()) ctx.fail("Clip bound " + b.describe() + " does not match input " + x.describe());
        if (b.numel() != 1) ctx.fail("Clip bound " + b.describe() + " is not a scalar");
        C v = static_cast<C>(b.data<T>()[0]);
        (k == 1 ? lo : hi) = v;
        (k == 1 ? has_lo : has_hi) = true;
      }
    }
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      C v = static_cast<C>(px[i]);
      if (has_lo && v < lo) v = lo;  // NaN passes through, as numpy.clip
      if (has_hi && v > hi) v = hi;
      py[i] = from_compute<T>(v);
    }
  });
}

void clip_infer(InferenceContext& ctx) {
  infer_unary_checked(ctx, ctx.version() < 12 ? TypeSet::kFloat : TypeSet::kNumeric);
  for (size_t k = 1; k < ctx.num_inputs(); ++k) {
    if (!ctx.has_input(k)) continue;
    if (ctx.input_dtype(k) != DataType::kUndefined && ctx.input_dtype(k) != ctx.input_dtype(0))
      ctx.fail("Clip bound dtype differs from the input's");
    const Shape* s = ctx.input_shape(k);
    if (s && s->is_static() && !(s->rank() == 0 || (s->rank() == 1 && (*s)[0].value() == 1)))
      ctx.fail("Clip bounds must be scalars, got " + s->to_string());
  }
}

}  // namespace

KILN_REGISTER_OP(Relu, {"", "Relu", {1, 6, 13, 14}, signed_infer, relu_cpu});
KILN_REGISTER_OP(LeakyRelu, {"", "LeakyRelu", {1, 6, 16}, float_infer, leaky_relu_cpu});
KILN_REGISTER_OP(PRelu, {"", "PRelu", {1, 6, 7, 9, 16}, prelu_infer, prelu_cpu});
KILN_REGISTER_OP(Elu, {"", "Elu", {1, 6, 22}, float_infer, elu_cpu});
KILN_REGISTER_OP(Selu, {"", "Selu", {1, 6, 22}, float_infer, selu_cpu});
KILN_REGISTER_OP(Celu, {"", "Celu", {12, 28}, float_infer, celu_cpu});
KILN_REGISTER_OP(Sigmoid, {"", "Sigmoid", {1, 6, 13}, float_infer, sigmoid_cpu});
KILN_REGISTER_OP(HardSigmoid, {"", "HardSigmoid", {1, 6, 22}, float_infer, hard_sigmoid_cpu});
KILN_REGISTER_OP(HardSwish, {"", "HardSwish", {14, 22}, float_infer, hard_swish_cpu});
KILN_REGISTER_OP(Softplus, {"", "Softplus", {1, 22}, float_infer, softplus_cpu});
KILN_REGISTER_OP(Softsign, {"", "Softsign", {1, 22}, float_infer, softsign_cpu});
KILN_REGISTER_OP(Tanh, {"", "Tanh", {1, 6, 13}, float_infer, tanh_cpu});
KILN_REGISTER_OP(ThresholdedRelu, {"", "ThresholdedRelu", {10, 22}, float_infer, thresholded_relu_cpu});
KILN_REGISTER_OP(Gelu, {"", "Gelu", {20}, float_infer, gelu_cpu});
KILN_REGISTER_OP(Mish, {"", "Mish", {18, 22}, float_infer, mish_cpu});
KILN_REGISTER_OP(Swish, {"", "Swish", {24}, float_infer, swish_cpu});
KILN_REGISTER_OP(Shrink, {"", "Shrink", {9}, numeric_infer, shrink_cpu});
KILN_REGISTER_OP(Clip, {"", "Clip", {1, 6, 11, 12, 13}, clip_infer, clip_cpu});

}  // namespace kiln::ops
