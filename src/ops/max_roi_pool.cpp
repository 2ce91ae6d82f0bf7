// MaxRoiPool: max over each region of interest, split into a fixed grid of bins (Caffe's
// ROIPooling: corners rounded after scaling, bins floored/ceiled, clipped to the image).
#include <algorithm>
#include <cmath>

#include "ops/registry.h"

namespace kiln::ops {
namespace {

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

KILN_REGISTER_OP(MaxRoiPool, {"", "MaxRoiPool", {1, 22}, infer_max_roi_pool, max_roi_pool_cpu});

}  // namespace kiln::ops
