// DeformConv (2-D): each kernel tap samples X bilinearly at its offset position (zeros
// outside), times the optional mask; the sampled columns then go through the shared GEMM.
#include <cmath>
#include <type_traits>

#include "ops/common/conv_core.h"
#include "ops/common/gemm.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

double bilinear(const float* plane, int64_t h, int64_t w, double y, double x) {
  double y0 = std::floor(y), x0 = std::floor(x);
  double fy = y - y0, fx = x - x0;
  auto at = [&](double yy, double xx) -> double {
    if (yy < 0 || yy >= h || xx < 0 || xx >= w) return 0.0;
    return plane[static_cast<int64_t>(yy) * w + static_cast<int64_t>(xx)];
  };
  return at(y0, x0) * (1 - fy) * (1 - fx) + at(y0, x0 + 1) * (1 - fy) * fx + at(y0 + 1, x0) * fy * (1 - fx) +
         at(y0 + 1, x0 + 1) * fy * fx;
}

std::vector<float> as_float(const Tensor& t) {
  auto v = t.to_f64();
  return std::vector<float>(v.begin(), v.end());
}

void deform_conv_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor& offset = ctx.input(2);
  if (!is_float(x.dtype()) || w.dtype() != x.dtype() || offset.dtype() != x.dtype())
    ctx.fail("X, W and offset must share a float dtype");
  if (x.rank() != 4) ctx.fail("only 2-D DeformConv is supported, X is " + x.describe());
  ConvGeometry g = conv_geometry(ctx, x.dims(), w.dims());
  int64_t og = ctx.attrs().get_int("offset_group", 1);
  int64_t kh = g.window.kernel[0], kw = g.window.kernel[1], ks = kh * kw;
  int64_t oh = g.out[0], ow = g.out[1], ih = g.in[0], iw = g.in[1], os = oh * ow;
  if (og < 1 || g.in_channels % og != 0) ctx.fail("offset_group must divide the input channels");
  if (offset.dims() != std::vector<int64_t>{g.batch, og * 2 * ks, oh, ow})
    ctx.fail("offset " + offset.describe() + " does not match the output size and offset_group");
  std::vector<float> mask;
  if (ctx.has_input(4)) {
    const Tensor& m = ctx.input(4);
    if (m.dims() != std::vector<int64_t>{g.batch, og * ks, oh, ow}) ctx.fail("mask " + m.describe() + " has the wrong shape");
    mask = as_float(m);
  }
  std::vector<double> bias;
  if (ctx.has_input(3)) {
    bias = ctx.input(3).to_f64();
    if (static_cast<int64_t>(bias.size()) != g.out_channels) ctx.fail("B must have one value per output channel");
  }
  auto xv = as_float(x), wv = as_float(w), ov = as_float(offset);
  std::vector<float> yv(static_cast<size_t>(g.batch * g.out_channels * os));
  int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group, kdim = cg * ks, c_per_og = g.in_channels / og;
  std::vector<float> col(static_cast<size_t>(kdim * os));
  const auto& wp = g.window;
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t gi = 0; gi < g.group; ++gi) {
      for (int64_t c = 0; c < cg; ++c) {
        int64_t ch = gi * cg + c, o_g = ch / c_per_og;
        const float* plane = xv.data() + (n * g.in_channels + ch) * ih * iw;
        for (int64_t i = 0; i < kh; ++i)
          for (int64_t j = 0; j < kw; ++j) {
            int64_t k = i * kw + j;
            const float* off_h = ov.data() + ((n * og + o_g) * 2 * ks + 2 * k) * os;
            const float* off_w = off_h + os;
            const float* mk = mask.empty() ? nullptr : mask.data() + ((n * og + o_g) * ks + k) * os;
            float* dst = col.data() + (c * ks + k) * os;
            for (int64_t y = 0; y < oh; ++y)
              for (int64_t xx = 0; xx < ow; ++xx) {
                int64_t p = y * ow + xx;
                double py = static_cast<double>(y * wp.strides[0] - wp.pads[0] + i * wp.dilations[0]) + off_h[p];
                double px = static_cast<double>(xx * wp.strides[1] - wp.pads[1] + j * wp.dilations[1]) + off_w[p];
                double v = bilinear(plane, ih, iw, py, px);
                dst[p] = static_cast<float>(mk ? v * mk[p] : v);
              }
          }
      }
      gemm_f32(false, false, mg, os, kdim, 1.0f, wv.data() + gi * mg * kdim, kdim, col.data(), os, 0.0f,
               yv.data() + (n * g.out_channels + gi * mg) * os, os);
    }
  std::vector<int64_t> dims{g.batch, g.out_channels, oh, ow};
  Tensor& out = ctx.allocate_output(0, x.dtype(), dims);
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < out.numel(); ++i) {
      double v = yv[i] + (bias.empty() ? 0.0 : bias[i / os % g.out_channels]);
      out.data<T>()[i] = static_cast<T>(static_cast<std::conditional_t<std::is_same_v<T, double>, double, float>>(v));
    }
  });
}

void infer_deform_conv(InferenceContext& ctx) { infer_conv_output(ctx, 0, 1, ctx.input_dtype(0)); }

}  // namespace

KILN_REGISTER_OP(DeformConv, {"", "DeformConv", {19, 22}, infer_deform_conv, deform_conv_cpu});

}  // namespace kiln::ops
