// MaxUnpool: scatters X to the positions MaxPool's indices name; MaxRoiPool: max over each
// region of interest split into a fixed grid of bins.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/registry.h"

namespace kiln::ops {
namespace {

// The unpooled size of each dim: (in - 1) * stride - pads + kernel.
std::vector<int64_t> unpooled_dims(const ir::Attributes& a, const std::vector<int64_t>& x) {
  size_t nd = x.size() - 2;
  auto kernel = a.get_ints("kernel_shape");
  auto strides = a.get_ints("strides", std::vector<int64_t>(nd, 1));
  auto pads = a.get_ints("pads", std::vector<int64_t>(2 * nd, 0));
  if (kernel.size() != nd || strides.size() != nd || pads.size() != 2 * nd)
    throw_error(StatusCode::kInvalidArgument, "kernel_shape, strides and pads must match the spatial rank");
  std::vector<int64_t> out{x[0], x[1]};
  for (size_t d = 0; d < nd; ++d) {
    int64_t v = (x[d + 2] - 1) * strides[d] - (pads[d] + pads[d + nd]) + kernel[d];
    if (v < 0) throw_error(StatusCode::kInvalidArgument, "MaxUnpool output size is negative");
    out.push_back(v);
  }
  return out;
}

void max_unpool_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& idx = ctx.input(1);
  if (x.rank() < 3) ctx.fail("X must have rank >= 3");
  if (idx.dims() != x.dims() || idx.dtype() != DataType::kInt64) ctx.fail("I must be int64 with the shape of X");
  auto inferred = unpooled_dims(ctx.attrs(), x.dims());
  std::vector<int64_t> shape = inferred;
  if (ctx.has_input(2)) {
    shape = ctx.input(2).to_i64();
    if (shape.size() != inferred.size()) ctx.fail("output_shape must have X's rank");
    for (size_t d = 0; d < shape.size(); ++d)
      if (shape[d] < inferred[d]) ctx.fail("output_shape " + dims_to_string(shape) + " is smaller than " + dims_to_string(inferred));
  }
  // Indices address the unpooled tensor of the inferred size; it sits at the start of the output.
  Tensor& y = ctx.allocate_output(0, x.dtype(), shape);
  int64_t inferred_total = 1;
  for (int64_t d : inferred) inferred_total *= d;
  size_t es = dtype_size(x.dtype());
  const auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(y.raw());
  const int64_t* pi = idx.data<int64_t>();
  std::vector<int64_t> coord(inferred.size());
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t flat = pi[i];
    if (flat < 0 || flat >= inferred_total) ctx.fail("index " + std::to_string(flat) + " is out of range");
    int64_t off = 0, rem = flat;
    for (size_t d = inferred.size(); d-- > 0;) coord[d] = rem % inferred[d], rem /= inferred[d];
    for (size_t d = 0; d < inferred.size(); ++d) off = off * shape[d] + coord[d];
    std::memcpy(dst + off * es, src + i * es, es);
  }
}

void infer_max_unpool(InferenceContext& ctx) {
  const Shape* xs = ctx.input_shape(0);
  std::optional<Shape> out;
  if (ctx.has_input(2)) {
    if (auto c = ctx.input_constant(2)) out = Shape::from_dims(c->to_i64());
    else if (xs) out = Shape(std::vector<Dim>(xs->rank(), Dim::unknown()));
  } else if (xs) {
    if (xs->rank() < 3) ctx.fail("X must have rank >= 3");
    if (xs->is_static()) {
      try {
        out = Shape::from_dims(unpooled_dims(ctx.attrs(), xs->static_dims()));
      } catch (const Error& e) {
        ctx.fail(e.what());
      }
    } else {
      out = Shape(std::vector<Dim>(xs->rank(), Dim::unknown()));
      (*out)[0] = (*xs)[0];
      (*out)[1] = (*xs)[1];
    }
  }
  ctx.set_output(0, ctx.input_dtype(0), out);
}

void max_roi_pool_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& rois = ctx.input(1);
  if (x.rank() != 4 || rois.rank() != 2 || rois.dim(1) != 5) ctx.fail("X must be 4-D and rois [num_rois, 5]");
  auto pooled = ctx.attrs().get_ints("pooled_shape");
  if (pooled.size() != 2 || pooled[0] < 1 || pooled[1] < 1) ctx.fail("pooled_shape must hold two positive values");
  double scale = ctx.attrs().get_float("spatial_scale", 1.0f);
  int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3), ph = pooled[0], pw = pooled[1];
  Tensor& y = ctx.allocate_output(0, x.dtype(), {rois.dim(0), c, ph, pw});
  auto r = rois.to_f64();
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < rois.dim(0); ++i) {
      const double* roi = &r[i * 5];
      int64_t b = static_cast<int64_t>(roi[0]);
      if (b < 0 || b >= n) ctx.fail("roi batch index " + std::to_string(b) + " is out of range");
      int64_t x1 = std::llround(roi[1] * scale), y1 = std::llround(roi[2] * scale);
      int64_t x2 = std::llround(roi[3] * scale), y2 = std::llround(roi[4] * scale);
      double bin_h = static_cast<double>(std::max<int64_t>(y2 - y1 + 1, 1)) / static_cast<double>(ph);
      double bin_w = static_cast<double>(std::max<int64_t>(x2 - x1 + 1, 1)) / static_cast<double>(pw);
      for (int64_t ch = 0; ch < c; ++ch) {
        const T* plane = x.data<T>() + (b * c + ch) * h * w;
        T* out = y.data<T>() + ((i * c + ch) * ph) * pw;
        for (int64_t py = 0; py < ph; ++py)
          for (int64_t px = 0; px < pw; ++px) {
            int64_t hs = std::clamp<int64_t>(static_cast<int64_t>(std::floor(py * bin_h)) + y1, 0, h);
            int64_t he = std::clamp<int64_t>(static_cast<int64_t>(std::ceil((py + 1) * bin_h)) + y1, 0, h);
            int64_t ws = std::clamp<int64_t>(static_cast<int64_t>(std::floor(px * bin_w)) + x1, 0, w);
            int64_t we = std::clamp<int64_t>(static_cast<int64_t>(std::ceil((px + 1) * bin_w)) + x1, 0, w);
            float best = 0;
            bool any = false;
            for (int64_t yy = hs; yy < he; ++yy)
              for (int64_t xx = ws; xx < we; ++xx) {
                float v = static_cast<float>(plane[yy * w + xx]);
                if (!any || v > best) best = v, any = true;
              }
            out[py * pw + px] = T(best);
          }
      }
    }
  });
}

void infer_max_roi_pool(InferenceContext& ctx) {
  const Shape* xs = ctx.input_shape(0);
  const Shape* rs = ctx.input_shape(1);
  auto pooled = ctx.attrs().get_ints("pooled_shape");
  if (pooled.size() != 2) ctx.fail("pooled_shape must hold two values");
  if (xs && xs->rank() != 4) ctx.fail("X must be 4-D");
  if (rs && rs->rank() != 2) ctx.fail("rois must be 2-D");
  ctx.set_output(0, ctx.input_dtype(0),
                 Shape({rs ? (*rs)[0] : Dim::unknown(), xs ? (*xs)[1] : Dim::unknown(), Dim(pooled[0]), Dim(pooled[1])}));
}

}  // namespace

KILN_REGISTER_OP(MaxUnpool, {"", "MaxUnpool", {9, 11, 22}, infer_max_unpool, max_unpool_cpu});
KILN_REGISTER_OP(MaxRoiPool, {"", "MaxRoiPool", {1, 22}, infer_max_roi_pool, max_roi_pool_cpu});

}  // namespace kiln::ops
