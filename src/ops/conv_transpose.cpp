// ConvTranspose: col = W^T * X on the shared GEMM, then col2im scatters the columns into the
// output (output_padding, output_shape, auto_pad, group, dilations).
#include <array>
#include <type_traits>

#include "ops/common/gemm.h"
#include "ops/common/window.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

constexpr size_t kMaxSpatial = 8;

int64_t floor_div2(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

struct TransposeGeometry {
  int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1;
  std::vector<int64_t> in, out, kernel, strides, dilations, pad_begin;
};

// Output sizes and begin pads; in_spatial entries < 0 mean unknown (their output is -1).
void transpose_sizes(const ir::Attributes& a, const std::vector<int64_t>& in, const std::vector<int64_t>& kernel,
                     std::vector<int64_t>& out, std::vector<int64_t>& pad_begin) {
  size_t nd = in.size();
  auto ints = [&](const char* name, size_t n, int64_t def) {
    auto v = a.get_ints(name);
    if (v.empty()) return std::vector<int64_t>(n, def);
    if (v.size() != n) throw_error(StatusCode::kInvalidArgument, std::string(name) + " has the wrong number of values");
    return v;
  };
  auto strides = ints("strides", nd, 1), dil = ints("dilations", nd, 1), opad = ints("output_padding", nd, 0);
  auto pads = ints("pads", 2 * nd, 0);
  auto output_shape = a.get_ints("output_shape");
  if (!output_shape.empty() && output_shape.size() != nd) {
    if (output_shape.size() == nd + 2)
      output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
    else
      throw_error(StatusCode::kInvalidArgument, "output_shape must list the spatial dims");
  }
  std::string auto_pad = a.get_string("auto_pad", "NOTSET");
  bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  out.assign(nd, -1);
  pad_begin.assign(nd, 0);
  for (size_t d = 0; d < nd; ++d) {
    if (strides[d] < 1 || dil[d] < 1 || kernel[d] < 1) throw_error(StatusCode::kInvalidArgument, "strides, dilations and kernel must be positive");
    int64_t ek = (kernel[d] - 1) * dil[d] + 1;
    if (same) {
      if (in[d] < 0 && output_shape.empty()) continue;
      out[d] = output_shape.empty() ? in[d] * strides[d] : output_shape[d];
      if (in[d] < 0) continue;
      int64_t total = strides[d] * (in[d] - 1) + opad[d] + ek - out[d];
      pad_begin[d] = auto_pad == "SAME_UPPER" ? floor_div2(total) : total - floor_div2(total);
    } else {
      pad_begin[d] = pads[d];
      if (!output_shape.empty())
        out[d] = output_shape[d];
      else if (in[d] >= 0)
        out[d] = strides[d] * (in[d] - 1) + opad[d] + ek - pads[d] - pads[d + nd];
    }
    if (out[d] < -1 || (out[d] < 0 && in[d] >= 0)) throw_error(StatusCode::kInvalidArgument, "ConvTranspose output size is negative");
  }
}

TransposeGeometry transpose_geometry(const KernelContext& ctx, const Tensor& x, const Tensor& w) {
  if (x.rank() < 3 || w.rank() != x.rank()) ctx.fail("X and W must have the same rank >= 3: " + x.describe() + ", " + w.describe());
  size_t nd = x.rank() - 2;
  if (nd > kMaxSpatial) ctx.fail("too many spatial dims");
  TransposeGeometry g;
  g.batch = x.dim(0);
  g.in_channels = x.dim(1);
  g.group = ctx.attrs().get_int("group", 1);
  if (g.group < 1 || w.dim(0) != g.in_channels || g.in_channels % g.group != 0)
    ctx.fail("W " + w.describe() + " does not match X " + x.describe() + " with group " + std::to_string(g.group));
  g.out_channels = w.dim(1) * g.group;
  g.in.assign(x.dims().begin() + 2, x.dims().end());
  g.kernel.assign(w.dims().begin() + 2, w.dims().end());
  auto ks = ctx.attrs().get_ints("kernel_shape");
  if (!ks.empty() && ks != g.kernel) ctx.fail("kernel_shape does not match W " + w.describe());
  g.strides = ctx.attrs().get_ints("strides", std::vector<int64_t>(nd, 1));
  g.dilations = ctx.attrs().get_ints("dilations", std::vector<int64_t>(nd, 1));
  transpose_sizes(ctx.attrs(), g.in, g.kernel, g.out, g.pad_begin);
  return g;
}

template <typename T>
void conv_transpose(const TransposeGeometry& g, const T* x, const T* w, T* y) {
  size_t nd = g.in.size();
  int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  int64_t ksize = 1, in_size = 1, out_size = 1;
  for (size_t d = 0; d < nd; ++d) ksize *= g.kernel[d], in_size *= g.in[d], out_size *= g.out[d];
  int64_t rows = mg * ksize;
  std::vector<T> col(static_cast<size_t>(rows * in_size));
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t gi = 0; gi < g.group; ++gi) {
      const T* xg = x + (n * g.in_channels + gi * cg) * in_size;
      const T* wg = w + gi * cg * rows;
      if constexpr (std::is_same_v<T, float>)
        gemm_f32(true, false, rows, in_size, cg, 1.0f, wg, rows, xg, in_size, 0.0f, col.data(), in_size);
      else
        gemm_naive<T>(true, false, rows, in_size, cg, T(1), wg, rows, xg, in_size, T(0), col.data(), in_size);
      T* yg = y + (n * g.out_channels + gi * mg) * out_size;
      std::array<int64_t, kMaxSpatial> kc{}, ic{};
      for (int64_t m = 0; m < mg; ++m) {
        kc.fill(0);
        for (int64_t k = 0; k < ksize; ++k) {
          const T* src = col.data() + (m * ksize + k) * in_size;
          ic.fill(0);
          for (int64_t j = 0; j < in_size; ++j) {
            int64_t off = 0;
            bool valid = true;
            for (size_t d = 0; d < nd; ++d) {
              int64_t o = ic[d] * g.strides[d] + kc[d] * g.dilations[d] - g.pad_begin[d];
              if (o < 0 || o >= g.out[d]) valid = false;
              off = off * g.out[d] + o;
            }
            if (valid) yg[m * out_size + off] += src[j];
            for (size_t d = nd; d-- > 0;) {
              if (++ic[d] < g.in[d]) break;
              ic[d] = 0;
            }
          }
          for (size_t d = nd; d-- > 0;) {
            if (++kc[d] < g.kernel[d]) break;
            kc[d] = 0;
          }
        }
      }
    }
}

void conv_transpose_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  if (x.dtype() != w.dtype() || !is_float(x.dtype())) ctx.fail("X and W must share a float dtype");
  TransposeGeometry g = transpose_geometry(ctx, x, w);
  std::vector<int64_t> dims{g.batch, g.out_channels};
  dims.insert(dims.end(), g.out.begin(), g.out.end());
  Tensor& y = ctx.allocate_output(0, x.dtype(), dims);
  std::vector<double> bias;
  if (ctx.has_input(2)) {
    bias = ctx.input(2).to_f64();
    if (static_cast<int64_t>(bias.size()) != g.out_channels) ctx.fail("B must have one value per output channel");
  }
  int64_t out_size = g.batch * g.out_channels == 0 ? 0 : y.numel() / (g.batch * g.out_channels);
  auto finish = [&](auto* py) {
    if (bias.empty()) return;
    for (int64_t i = 0; i < y.numel(); ++i) py[i] += static_cast<std::remove_reference_t<decltype(*py)>>(bias[i / out_size % g.out_channels]);
  };
  if (x.dtype() == DataType::kFloat64) {
    conv_transpose(g, x.data<double>(), w.data<double>(), y.data<double>());
    finish(y.data<double>());
  } else if (x.dtype() == DataType::kFloat32) {
    conv_transpose(g, x.data<float>(), w.data<float>(), y.data<float>());
    finish(y.data<float>());
  } else {
    auto xv = x.to_f64(), wv = w.to_f64();
    std::vector<float> xf(xv.begin(), xv.end()), wf(wv.begin(), wv.end()), yf(static_cast<size_t>(y.numel()));
    conv_transpose(g, xf.data(), wf.data(), yf.data());
    finish(yf.data());
    dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      for (int64_t i = 0; i < y.numel(); ++i) y.data<T>()[i] = T(yf[i]);
    });
  }
}

void infer_conv_transpose(InferenceContext& ctx) {
  const Shape* xs = ctx.input_shape(0);
  const Shape* ws = ctx.input_shape(1);
  DataType dt = ctx.input_dtype(0);
  if (!xs) {
    ctx.set_output(0, dt, std::nullopt);
    return;
  }
  if (xs->rank() < 3 || (ws && ws->rank() != xs->rank())) ctx.fail("X and W must have the same rank >= 3");
  size_t nd = xs->rank() - 2;
  int64_t group = ctx.attrs().get_int("group", 1);
  Dim m = ws && (*ws)[1].is_constant() ? Dim((*ws)[1].value() * group) : Dim::unknown();
  std::vector<Dim> dims{(*xs)[0], m};
  std::vector<int64_t> kernel = ctx.attrs().get_ints("kernel_shape");
  if (kernel.empty() && ws)
    for (size_t d = 2; d < ws->rank(); ++d) kernel.push_back((*ws)[d].is_constant() ? (*ws)[d].value() : -1);
  bool known = kernel.size() == nd;
  for (int64_t k : kernel) known = known && k > 0;
  if (!known) {
    for (size_t d = 0; d < nd; ++d) dims.push_back(Dim::unknown());
    ctx.set_output(0, dt, Shape(dims));
    return;
  }
  std::vector<int64_t> in, out, pb;
  for (size_t d = 2; d < xs->rank(); ++d) in.push_back((*xs)[d].is_constant() ? (*xs)[d].value() : -1);
  try {
    transpose_sizes(ctx.attrs(), in, kernel, out, pb);
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
  for (int64_t o : out) dims.push_back(o >= 0 ? Dim(o) : Dim::unknown());
  ctx.set_output(0, dt, Shape(dims));
}

}  // namespace

KILN_REGISTER_OP(ConvTranspose, {"", "ConvTranspose", {1, 11, 22}, infer_conv_transpose, conv_transpose_cpu});

}  // namespace kiln::ops
