// Conv, ConvInteger and QLinearConv: im2col + the shared blocked GEMM (common/conv_core).
#include <cmath>
#include <type_traits>

#include "ops/common/conv_core.h"
#include "ops/common/values_as.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

void add_bias(const ConvGeometry& g, const std::vector<double>& bias, auto* y) {
  int64_t os = g.out_size();
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t m = 0; m < g.out_channels; ++m) {
      auto* p = y + (n * g.out_channels + m) * os;
      using T = std::remove_reference_t<decltype(*p)>;
      T b = static_cast<T>(bias[m]);
      for (int64_t i = 0; i < os; ++i) p[i] += b;
    }
}

std::vector<double> read_bias(const KernelContext& ctx, size_t index, int64_t m) {
  if (!ctx.has_input(index)) return {};
  const Tensor& b = ctx.input(index);
  if (b.numel() != m) ctx.fail("bias " + b.describe() + " must have " + std::to_string(m) + " values");
  return b.to_f64();
}

std::vector<int64_t> out_dims(const ConvGeometry& g) {
  std::vector<int64_t> d{g.batch, g.out_channels};
  d.insert(d.end(), g.out.begin(), g.out.end());
  return d;
}

void conv_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  if (x.dtype() != w.dtype() || !is_float(x.dtype()))
    ctx.fail("X and W must share a float dtype, got " + x.describe() + " and " + w.describe());
  ConvGeometry g = conv_geometry(ctx, x.dims(), w.dims());
  auto bias = read_bias(ctx, 2, g.out_channels);
  Tensor& y = ctx.allocate_output(0, x.dtype(), out_dims(g));
  if (x.dtype() == DataType::kFloat32) {
    conv_forward(g, x.data<float>(), w.data<float>(), y.data<float>());
    if (!bias.empty()) add_bias(g, bias, y.data<float>());
  } else if (x.dtype() == DataType::kFloat64) {
    conv_forward(g, x.data<double>(), w.data<double>(), y.data<double>());
    if (!bias.empty()) add_bias(g, bias, y.data<double>());
  } else {
    auto xv = values_as<float>(x), wv = values_as<float>(w);
    std::vector<float> yv(static_cast<size_t>(y.numel()));
    conv_forward(g, xv.data(), wv.data(), yv.data());
    if (!bias.empty()) add_bias(g, bias, yv.data());
    dispatch_float(y.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* py = y.data<T>();
      for (int64_t i = 0; i < y.numel(); ++i) py[i] = T(yv[i]);
    });
  }
}

bool is_8bit(DataType dt) { return dt == DataType::kInt8 || dt == DataType::kUInt8; }

// x - x_zero_point and w - w_zero_point[m] as int64, for the integer convolutions.
void integer_operands(const KernelContext& ctx, const Tensor& x, const Tensor* xzp, const Tensor& w, const Tensor* wzp,
                      std::vector<int64_t>& xv, std::vector<int64_t>& wv) {
  if (!is_8bit(x.dtype()) || !is_8bit(w.dtype())) ctx.fail("X and W must be int8 or uint8: " + x.describe() + ", " + w.describe());
  xv = values_as<int64_t>(x);
  wv = values_as<int64_t>(w);
  if (xzp) {
    if (xzp->dtype() != x.dtype() || xzp->numel() != 1) ctx.fail("x_zero_point must be one value of X's dtype");
    int64_t z = xzp->to_i64()[0];
    for (auto& v : xv) v -= z;
  }
  if (wzp) {
    int64_t m = w.dim(0), per = w.numel() / std::max<int64_t>(1, m);
    if (wzp->dtype() != w.dtype() || (wzp->numel() != 1 && wzp->numel() != m))
      ctx.fail("w_zero_point must be a scalar or have one value per output channel");
    auto z = wzp->to_i64();
    for (int64_t i = 0; i < static_cast<int64_t>(wv.size()); ++i) wv[i] -= z[z.size() == 1 ? 0 : i / per];
  }
}

void conv_integer_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  ConvGeometry g = conv_geometry(ctx, x.dims(), w.dims());
  std::vector<int64_t> xv, wv, yv(static_cast<size_t>(g.batch * g.out_channels * g.out_size()));
  integer_operands(ctx, x, ctx.has_input(2) ? &ctx.input(2) : nullptr, w, ctx.has_input(3) ? &ctx.input(3) : nullptr,
                   xv, wv);
  conv_forward(g, xv.data(), wv.data(), yv.data());
  Tensor& y = ctx.allocate_output(0, DataType::kInt32, out_dims(g));
  for (size_t i = 0; i < yv.size(); ++i) y.data<int32_t>()[i] = static_cast<int32_t>(yv[i]);
}

void qlinear_conv_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(3);
  ConvGeometry g = conv_geometry(ctx, x.dims(), w.dims());
  std::vector<int64_t> xv, wv, yv(static_cast<size_t>(g.batch * g.out_channels * g.out_size()));
  integer_operands(ctx, x, &ctx.input(2), w, &ctx.input(5), xv, wv);
  conv_forward(g, xv.data(), wv.data(), yv.data());
  if (ctx.has_input(8)) {
    const Tensor& b = ctx.input(8);
    if (b.dtype() != DataType::kInt32 || b.numel() != g.out_channels) ctx.fail("B must be int32 with one value per output channel");
    add_bias(g, b.to_f64(), yv.data());
  }
  double xs = ctx.input(1).to_f64().at(0), ys = ctx.input(6).to_f64().at(0);
  auto ws = ctx.input(4).to_f64();
  if (ws.size() != 1 && static_cast<int64_t>(ws.size()) != g.out_channels)
    ctx.fail("w_scale must be a scalar or have one value per output channel");
  const Tensor& yzp = ctx.input(7);
  if (yzp.numel() != 1 || !is_8bit(yzp.dtype())) ctx.fail("y_zero_point must be one int8 or uint8 value");
  double zp = yzp.to_f64()[0];
  double lo = yzp.dtype() == DataType::kInt8 ? -128 : 0, hi = yzp.dtype() == DataType::kInt8 ? 127 : 255;
  Tensor& y = ctx.allocate_output(0, yzp.dtype(), out_dims(g));
  int64_t os = g.out_size();
  for (size_t i = 0; i < yv.size(); ++i) {
    int64_t m = static_cast<int64_t>(i) / os % g.out_channels;
    float scale = static_cast<float>(xs) * static_cast<float>(ws[ws.size() == 1 ? 0 : m]) / static_cast<float>(ys);
    double r = std::nearbyint(std::clamp(static_cast<double>(yv[i]) * scale + zp, lo, hi));
    if (yzp.dtype() == DataType::kInt8)
      y.data<int8_t>()[i] = static_cast<int8_t>(r);
    else
      y.data<uint8_t>()[i] = static_cast<uint8_t>(r);
  }
}

void infer_conv(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (dt != DataType::kUndefined && !is_float(dt)) ctx.fail("Conv needs a float input");
  infer_conv_output(ctx, 0, 1, dt);
}
void infer_conv_integer(InferenceContext& ctx) { infer_conv_output(ctx, 0, 1, DataType::kInt32); }
void infer_qlinear_conv(InferenceContext& ctx) { infer_conv_output(ctx, 0, 3, ctx.input_dtype(7)); }

}  // namespace

KILN_REGISTER_OP(Conv, {"", "Conv", {1, 11, 22}, infer_conv, conv_cpu});
KILN_REGISTER_OP(ConvInteger, {"", "ConvInteger", {10}, infer_conv_integer, conv_integer_cpu});
KILN_REGISTER_OP(QLinearConv, {"", "QLinearConv", {10}, infer_qlinear_conv, qlinear_conv_cpu});

}  // namespace kiln::ops
