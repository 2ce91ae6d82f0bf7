// Detection ops: NonMaxSuppression (opset 10, 11) and RoiAlign (opset 10, 16, 22).
// Follow onnx/reference/ops/op_non_max_suppression.py and op_roi_align.py (ORT semantics).
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "ops/common/attention_math.h"
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

bool suppressed_by_iou(const double* a, const double* b, bool center, double threshold) {
  double ax0, ax1, ay0, ay1, bx0, bx1, by0, by1;
  if (!center) {  // [y1, x1, y2, x2], corners in any order
    ax0 = std::min(a[1], a[3]), ax1 = std::max(a[1], a[3]), ay0 = std::min(a[0], a[2]), ay1 = std::max(a[0], a[2]);
    bx0 = std::min(b[1], b[3]), bx1 = std::max(b[1], b[3]), by0 = std::min(b[0], b[2]), by1 = std::max(b[0], b[2]);
  } else {  // [x_center, y_center, width, height]
    ax0 = a[0] - a[2] / 2, ax1 = a[0] + a[2] / 2, ay0 = a[1] - a[3] / 2, ay1 = a[1] + a[3] / 2;
    bx0 = b[0] - b[2] / 2, bx1 = b[0] + b[2] / 2, by0 = b[1] - b[3] / 2, by1 = b[1] + b[3] / 2;
  }
  const double ix0 = std::max(ax0, bx0), ix1 = std::min(ax1, bx1);
  if (ix1 <= ix0) return false;
  const double iy0 = std::max(ay0, by0), iy1 = std::min(ay1, by1);
  if (iy1 <= iy0) return false;
  const double inter = (ix1 - ix0) * (iy1 - iy0);
  const double area_a = (ax1 - ax0) * (ay1 - ay0), area_b = (bx1 - bx0) * (by1 - by0);
  const double uni = area_a + area_b - inter;
  if (inter <= 0 || area_a <= 0 || area_b <= 0 || uni <= 0) return false;
  return inter / uni > threshold;
}

void nms_cpu(KernelContext& ctx) {
  const Tensor& boxes_t = ctx.input(0);
  const Tensor& scores_t = ctx.input(1);
  if (boxes_t.rank() != 3 || boxes_t.dim(2) != 4) ctx.fail("boxes must be [batch, boxes, 4], got " + boxes_t.describe());
  if (scores_t.rank() != 3 || scores_t.dim(0) != boxes_t.dim(0) || scores_t.dim(2) != boxes_t.dim(1))
    ctx.fail("scores must be [batch, classes, boxes] matching boxes, got " + scores_t.describe());
  const int64_t nb = boxes_t.dim(0), nboxes = boxes_t.dim(1), ncls = scores_t.dim(1);
  auto opt_scalar = [&](size_t i) -> std::optional<double> {
    if (!ctx.has_input(i) || ctx.input(i).numel() == 0) return std::nullopt;
    return ctx.input(i).to_f64()[0];
  };
  int64_t max_out = 0;
  if (ctx.has_input(2) && ctx.input(2).numel() > 0) max_out = std::max<int64_t>(ctx.input(2).to_i64()[0], 0);
  const double iou = opt_scalar(3).value_or(0.0);
  const auto score_thr = opt_scalar(4);
  const bool center = ctx.attrs().get_int("center_point_box", 0) != 0;
  const std::vector<double> boxes = boxes_t.to_f64(), scores = scores_t.to_f64();
  std::vector<std::array<int64_t, 3>> selected;
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t c = 0; c < ncls; ++c) {
      const double* sc = &scores[(b * ncls + c) * nboxes];
      std::vector<int64_t> cand;
      for (int64_t i = 0; i < nboxes; ++i)
        if (!score_thr || sc[i] > *score_thr) cand.push_back(i);
      // Highest score first; ties keep the lower index first.
      std::stable_sort(cand.begin(), cand.end(), [&](int64_t x, int64_t y) { return sc[x] > sc[y]; });
      std::vector<int64_t> kept;
      for (int64_t i : cand) {
        if (static_cast<int64_t>(kept.size()) >= max_out) break;
        bool keep = true;
        for (int64_t k : kept)
          if (suppressed_by_iou(&boxes[(b * nboxes + i) * 4], &boxes[(b * nboxes + k) * 4], center, iou)) {
            keep = false;
            break;
          }
        if (keep) {
          kept.push_back(i);
          selected.push_back({b, c, i});
        }
      }
    }
  Tensor& out = ctx.allocate_output(0, DataType::kInt64, {static_cast<int64_t>(selected.size()), 3});
  for (size_t i = 0; i < selected.size(); ++i)
    for (int k = 0; k < 3; ++k) out.data<int64_t>()[i * 3 + k] = selected[i][k];
}

void infer_nms(InferenceContext& ctx) {
  if (!is_float(ctx.input_dtype(0)) || !is_float(ctx.input_dtype(1))) ctx.fail("boxes and scores must be float");
  const Shape* b = ctx.input_shape(0);
  if (b && (b->rank() != 3 || ((*b)[2].is_constant() && (*b)[2].value() != 4))) ctx.fail("boxes must be [batch, boxes, 4]");
  const Shape* s = ctx.input_shape(1);
  if (s && s->rank() != 3) ctx.fail("scores must be 3-D");
  ctx.set_output(0, DataType::kInt64, Shape({ctx.new_symbol(), Dim(3)}));
}

void roi_align_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& rois_t = ctx.input(1);
  const Tensor& bi_t = ctx.input(2);
  if (!round_fn_for(x.dtype())) ctx.fail("X must be float, got " + x.describe());
  if (x.rank() != 4) ctx.fail("X must be 4-D, got " + x.describe());
  if (rois_t.rank() != 2 || rois_t.dim(1) != 4) ctx.fail("rois must be [num_rois, 4], got " + rois_t.describe());
  if (bi_t.rank() != 1 || bi_t.dim(0) != rois_t.dim(0)) ctx.fail("batch_indices must be [num_rois]");
  const auto& at = ctx.attrs();
  const std::string mode = at.get_string("mode", "avg");
  if (mode != "avg" && mode != "max") ctx.fail("mode must be avg or max, got " + mode);
  const int64_t oh = at.get_int("output_height", 1), ow = at.get_int("output_width", 1);
  const int64_t ratio = at.get_int("sampling_ratio", 0);
  const double scale = at.get_float("spatial_scale", 1.0f);
  if (oh < 1 || ow < 1 || ratio < 0) ctx.fail("output sizes must be positive and sampling_ratio nonnegative");
  const std::string ctm = ctx.version() >= 16 ? at.get_string("coordinate_transformation_mode", "half_pixel") : "output_half_pixel";
  if (ctm != "half_pixel" && ctm != "output_half_pixel") ctx.fail("unknown coordinate_transformation_mode " + ctm);
  const bool half_pixel = ctm == "half_pixel";
  const int64_t n = x.dim(0), ch = x.dim(1), H = x.dim(2), W = x.dim(3), nr = rois_t.dim(0);
  if (H < 1 || W < 1) ctx.fail("X must have a nonempty spatial extent, got " + x.describe());
  const std::vector<double> X = x.to_f64(), rois = rois_t.to_f64();
  const std::vector<int64_t> bidx = bi_t.to_i64();
  check_scratch({nr, ch, oh, ow}, "RoiAlign output");
  std::vector<double> out(nr * ch * oh * ow);
  struct Sample { int64_t pos[4]; double w[4]; };
  for (int64_t r = 0; r < nr; ++r) {
    if (bidx[r] < 0 || bidx[r] >= n) ctx.fail("batch index " + std::to_string(bidx[r]) + " is out of range");
    for (int k = 0; k < 4; ++k)
      if (!std::isfinite(rois[r * 4 + k] * scale)) ctx.fail("ROI " + std::to_string(r) + " has a non-finite coordinate");
    const double off = half_pixel ? 0.5 : 0.0;
    const double* roi = &rois[r * 4];
    const double sw = roi[0] * scale - off, sh = roi[1] * scale - off;
    double rw = roi[2] * scale - off - sw, rh = roi[3] * scale - off - sh;
    if (!half_pixel) rw = std::max(rw, 1.0), rh = std::max(rh, 1.0);
    const double bh = rh / oh, bw = rw / ow;
    // A malformed (negative) ROI samples nothing and yields zeros, as in the reference.
    const double gh_d = ratio > 0 ? static_cast<double>(ratio) : std::max(0.0, std::ceil(rh / oh));
    const double gw_d = ratio > 0 ? static_cast<double>(ratio) : std::max(0.0, std::ceil(rw / ow));
    // Untrusted ROI coordinates: refuse grids that are not finite or absurdly large.
    if (!(gh_d >= 0 && gw_d >= 0 && gh_d * gw_d <= double(int64_t{1} << 24)))
      ctx.fail("ROI " + std::to_string(r) + " needs an invalid or too large sampling grid");
    const int64_t gh = static_cast<int64_t>(gh_d), gw = static_cast<int64_t>(gw_d);
    const double count = static_cast<double>(std::max<int64_t>(gh * gw, 1));
    check_scratch({oh, ow, gh, gw}, "RoiAlign sampling grid");
    std::vector<Sample> samples;
    samples.reserve(oh * ow * gh * gw);
    for (int64_t ph = 0; ph < oh; ++ph)
      for (int64_t pw = 0; pw < ow; ++pw)
        for (int64_t iy = 0; iy < gh; ++iy) {
          const double yy = sh + ph * bh + (iy + 0.5) * bh / gh;
          for (int64_t ix = 0; ix < gw; ++ix) {
            double xx = sw + pw * bw + (ix + 0.5) * bw / gw, y = yy;
            Sample s{{0, 0, 0, 0}, {0, 0, 0, 0}};
            if (!(y < -1.0 || y > H || xx < -1.0 || xx > W)) {
              y = std::max(y, 0.0), xx = std::max(xx, 0.0);
              int64_t yl = static_cast<int64_t>(y), xl = static_cast<int64_t>(xx), yh, xh;
              if (yl >= H - 1) yh = yl = H - 1, y = static_cast<double>(yl);
              else yh = yl + 1;
              if (xl >= W - 1) xh = xl = W - 1, xx = static_cast<double>(xl);
              else xh = xl + 1;
              const double ly = y - yl, lx = xx - xl, hy = 1 - ly, hx = 1 - lx;
              s = {{yl * W + xl, yl * W + xh, yh * W + xl, yh * W + xh}, {hy * hx, hy * lx, ly * hx, ly * lx}};
            }
            samples.push_back(s);
          }
        }
    for (int64_t c = 0; c < ch; ++c) {
      const double* img = &X[(bidx[r] * ch + c) * H * W];
      size_t si = 0;
      for (int64_t p = 0; p < oh * ow; ++p) {
        double acc = 0;
        bool first = true;
        for (int64_t g = 0; g < gh * gw; ++g, ++si) {
          const Sample& s = samples[si];
          if (mode == "avg") {
            for (int k = 0; k < 4; ++k) acc += s.w[k] * img[s.pos[k]];
          } else {
            double v = s.w[0] * img[s.pos[0]];
            for (int k = 1; k < 4; ++k) v = std::max(v, s.w[k] * img[s.pos[k]]);
            acc = first ? v : std::max(acc, v);
            first = false;
          }
        }
        out[(r * ch + c) * oh * ow + p] = mode == "avg" ? acc / count : acc;
      }
    }
  }
  Tensor& y = ctx.allocate_output(0, x.dtype(), {nr, ch, oh, ow});
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (size_t i = 0; i < out.size(); ++i) y.data<T>()[i] = store_d<T>(out[i]);
  });
}

void infer_roi_align(InferenceContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("X must be float");
  if (!is_integer(ctx.input_dtype(2))) ctx.fail("batch_indices must be an integer tensor");
  const Shape* x = ctx.input_shape(0);
  const Shape* r = ctx.input_shape(1);
  if (x && x->rank() != 4) ctx.fail("X must be 4-D");
  if (r && r->rank() != 2) ctx.fail("rois must be 2-D");
  ctx.set_output(0, dt, Shape({r ? (*r)[0] : ctx.new_symbol(), x ? (*x)[1] : ctx.new_symbol(),
                               Dim(ctx.attrs().get_int("output_height", 1)), Dim(ctx.attrs().get_int("output_width", 1))}));
}

}  // namespace

KILN_REGISTER_OP(NonMaxSuppression, {"", "NonMaxSuppression", {10, 11}, infer_nms, nms_cpu});
KILN_REGISTER_OP(RoiAlign, {"", "RoiAlign", {10, 16, 22}, infer_roi_align, roi_align_cpu});

}  // namespace kiln::ops
