// SwiGLU (opset 28): Swish_alpha(A) * B = A * sigmoid(alpha * A) * B, for same-shape A and B.
// The sigmoid is rounded to the input dtype before the products, as the ONNX reference does.
#include <cmath>

#include "ops/common/attention_math.h"
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

void swiglu_cpu(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype() != b.dtype() || a.dims() != b.dims())
    ctx.fail("SwiGLU needs A and B of identical shape and dtype, got " + a.describe() + " and " + b.describe());
  const double alpha = ctx.attrs().get_float("alpha", 1.0f);
  Tensor& y = ctx.allocate_output(0, a.dtype(), a.dims());
  dispatch_float(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    for (int64_t i = 0; i < a.numel(); ++i) {
      const double x = load_d(pa[i]);
      const double sig = round_to<T>(1.0 / (1.0 + std::exp(-alpha * x)));
      py[i] = store_d<T>(round_to<T>(x * sig) * load_d(pb[i]));
    }
  });
}

void infer_swiglu(InferenceContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("SwiGLU: A must be a float tensor");
  if (ctx.input_dtype(1) != dt) ctx.fail("SwiGLU: A and B must share a dtype");
  const Shape* sa = ctx.input_shape(0);
  const Shape* sb = ctx.input_shape(1);
  if (sa && sb) {
    if (sa->rank() != sb->rank()) ctx.fail("SwiGLU: A and B must have the same shape");
    for (size_t i = 0; i < sa->rank(); ++i)
      if ((*sa)[i].is_constant() && (*sb)[i].is_constant() && (*sa)[i].value() != (*sb)[i].value())
        ctx.fail("SwiGLU: A and B must have the same shape");
  }
  ctx.set_output(0, dt, sa ? std::optional<Shape>(*sa) : (sb ? std::optional<Shape>(*sb) : std::nullopt));
}

}  // namespace

KILN_REGISTER_OP(SwiGLU, {"", "SwiGLU", {28}, infer_swiglu, swiglu_cpu});

}  // namespace kiln::ops
