// CausalConvWithState (opset 27): depthwise causal 1-D convolution over (batch, channels,
// length) with a carried state of the last k-1 inputs, optional bias and SiLU/Swish.
#include <cmath>
#include <string>
#include <vector>

#include "ops/common/attention_math.h"
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

void causal_conv_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const std::string act = ctx.attrs().get_string("activation", "none");
  if (act != "none" && act != "silu" && act != "swish") ctx.fail("unsupported activation '" + act + "'");
  if (!round_fn_for(x.dtype())) ctx.fail("input must be float, got " + x.describe());
  if (x.rank() != 3) ctx.fail("input must be (batch, channels, length), got " + x.describe());
  const int64_t B = x.dim(0), C = x.dim(1), L = x.dim(2);
  if (w.dtype() != x.dtype() || w.rank() != 3 || w.dim(0) != C || w.dim(1) != 1 || w.dim(2) < 1)
    ctx.fail("weight must be (channels, 1, k) of the input's dtype, got " + w.describe());
  const int64_t k = w.dim(2), P = k - 1;
  std::vector<double> bias(C, 0.0);
  if (ctx.has_input(2)) {
    const Tensor& b = ctx.input(2);
    if (b.numel() != C) ctx.fail("bias must have one value per channel, got " + b.describe());
    bias = b.to_f64();
  }
  check_scratch({B, C, P + L}, "CausalConvWithState padded input");
  std::vector<double> padded(B * C * (P + L), 0.0);
  const std::vector<double> xv = x.to_f64(), wv = w.to_f64();
  std::vector<double> past;
  if (ctx.has_input(3)) {
    const Tensor& ps = ctx.input(3);
    if (ps.dtype() != x.dtype() || ps.dims() != std::vector<int64_t>{B, C, P})
      ctx.fail("past_state must be (batch, channels, k-1) = " + dims_to_string({B, C, P}) + ", got " + ps.describe());
    past = ps.to_f64();
  }
  for (int64_t bc = 0; bc < B * C; ++bc) {
    for (int64_t t = 0; t < P && !past.empty(); ++t) padded[bc * (P + L) + t] = past[bc * P + t];
    for (int64_t t = 0; t < L; ++t) padded[bc * (P + L) + P + t] = xv[bc * L + t];
  }
  RoundFn rt = round_fn_for(x.dtype());
  std::vector<double> out(B * C * L), state(B * C * P);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) {
      const double* p = &padded[(b * C + c) * (P + L)];
      for (int64_t t = 0; t < L; ++t) {
        double s = bias[c];
        for (int64_t i = 0; i < k; ++i) s += wv[c * k + i] * p[t + i];
        s = rt(s);
        if (act != "none") s = static_cast<float>(s) * (1.0 / (1.0 + std::exp(-s)));
        out[(b * C + c) * L + t] = s;
      }
      for (int64_t t = 0; t < P; ++t) state[(b * C + c) * P + t] = p[L + t];
    }
  Tensor& y = ctx.allocate_output(0, x.dtype(), {B, C, L});
  Tensor* st = ctx.wants_output(1) ? &ctx.allocate_output(1, x.dtype(), {B, C, P}) : nullptr;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (size_t i = 0; i < out.size(); ++i) y.data<T>()[i] = store_d<T>(out[i]);
    if (st)
      for (size_t i = 0; i < state.size(); ++i) st->data<T>()[i] = store_d<T>(state[i]);
  });
}

void infer_causal_conv(InferenceContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("input must be float");
  if (ctx.input_dtype(1) != dt) ctx.fail("weight must have the input's dtype");
  const Shape* x = ctx.input_shape(0);
  const Shape* w = ctx.input_shape(1);
  if (x && x->rank() != 3) ctx.fail("input must be 3-D");
  if (w && w->rank() != 3) ctx.fail("weight must be 3-D");
  ctx.set_output(0, dt, x ? std::optional<Shape>(*x) : std::nullopt);
  if (ctx.num_outputs() > 1) {
    if (!x) return ctx.set_output(1, dt, std::nullopt);
    Dim state = ctx.new_symbol();
    if (w && (*w)[2].is_constant()) state = Dim((*w)[2].value() - 1);
    ctx.set_output(1, dt, Shape({(*x)[0], (*x)[1], state}));
  }
}

}  // namespace

KILN_REGISTER_OP(CausalConvWithState, {"", "CausalConvWithState", {27}, infer_causal_conv, causal_conv_cpu});

}  // namespace kiln::ops
