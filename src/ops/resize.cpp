// Resize (opset 10-19) and the older Upsample. Interpolation is separable: the input is converted
// to double and resized one axis at a time, following the ONNX reference implementation's choice
// of neighbours and coefficients exactly, then cast back (integers round half to even, saturating).
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/common/element_copy.h"
#include "ops/common/infer.h"
#include "ops/common/shape_util.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

struct ResizeConfig {
  std::string mode = "nearest";           // nearest, linear, cubic
  std::string ctm = "half_pixel";         // coordinate_transformation_mode
  std::string nearest_mode = "round_prefer_floor";  // or "simple" (Upsample, Resize-10)
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0.0;
  bool antialias = false;
};

std::vector<double> coefficients(const ResizeConfig& c, double ratio, double scale) {
  if (c.mode == "nearest") {
    if (ratio == std::floor(ratio)) return {0, 1};
    const std::string& m = c.nearest_mode;
    if (m == "round_prefer_floor") return {double(ratio <= 0.5), double(ratio > 0.5)};
    if (m == "round_prefer_ceil") return {double(ratio < 0.5), double(ratio >= 0.5)};
    if (m == "floor") return {1, 0};
    if (m == "ceil") return {0, 1};
    if (m == "simple") return scale < 1 ? std::vector<double>{0, 1} : std::vector<double>{1, 0};
    KILN_CHECK(false, "Resize: unknown nearest_mode '" + m + "'");
  }
  if (c.mode == "linear") {
    if (!c.antialias) return {1 - ratio, ratio};
    double s = std::min(scale, 1.0);
    int64_t start = static_cast<int64_t>(std::floor(-1 / s) + 1);
    int64_t footprint = 2 - 2 * start;
    std::vector<double> w;
    double sum = 0;
    for (int64_t i = start; i < start + footprint; ++i) {
      double v = std::clamp(1 - std::fabs((static_cast<double>(i) - ratio) * s), 0.0, 1.0);
      w.push_back(v);
      sum += v;
    }
    for (auto& v : w) v /= sum;
    return w;
  }
  KILN_CHECK(c.mode == "cubic", "Resize: unknown mode '" + c.mode + "'");
  double A = c.cubic_a;
  if (!c.antialias) {
    double r1 = ratio + 1, q = 1 - ratio, q1 = q + 1;
    return {((A * r1 - 5 * A) * r1 + 8 * A) * r1 - 4 * A, ((A + 2) * ratio - (A + 3)) * ratio * ratio + 1,
            ((A + 2) * q - (A + 3)) * q * q + 1, ((A * q1 - 5 * A) * q1 + 8 * A) * q1 - 4 * A};
  }
  double s = std::min(scale, 1.0);
  int64_t i_start = static_cast<int64_t>(std::floor(-2 / s) + 1), i_end = 2 - i_start;
  std::vector<double> w;
  double sum = 0;
  for (int64_t i = i_start; i < i_end; ++i) {
    double x = std::fabs(s * (static_cast<double>(i) - ratio)), x2 = x * x, x3 = x * x2;
    double v = x <= 1 ? (A + 2) * x3 - (A + 3) * x2 + 1 : x < 2 ? A * x3 - 5 * A * x2 + 8 * A * x - 4 * A : 0.0;
    w.push_back(v);
    sum += v;
  }
  for (auto& v : w) v /= sum;
  return w;
}

// Source coordinate of output index y; sets extrapolated for tf_crop_and_resize outside the input.
double source_coord(const ResizeConfig& c, double y, double scale, int64_t in_w, int64_t out_w_int, double roi0,
                    double roi1, bool& extrapolated) {
  double out_w = scale * static_cast<double>(in_w);
  extrapolated = false;
  const std::string& m = c.ctm;
  if (m == "align_corners") return out_w == 1 ? 0.0 : y * static_cast<double>(in_w - 1) / (out_w - 1);
  if (m == "asymmetric") return y / scale;
  if (m == "tf_crop_and_resize") {
    double x = out_w == 1 ? (roi1 - roi0) * static_cast<double>(in_w - 1) / 2
                          : y * (roi1 - roi0) * static_cast<double>(in_w - 1) / (out_w - 1);
    x = x + roi0 * static_cast<double>(in_w - 1);
    extrapolated = x < 0 || x > static_cast<double>(in_w - 1);
    return x;
  }
  if (m == "pytorch_half_pixel") return out_w == 1 ? -0.5 : (y + 0.5) / scale - 0.5;
  if (m == "half_pixel") return (y + 0.5) / scale - 0.5;
  if (m == "half_pixel_symmetric") {
    double adjustment = static_cast<double>(out_w_int) / out_w;
    double center = static_cast<double>(in_w) / 2;
    return center * (1 - adjustment) + (y + 0.5) / scale - 0.5;
  }
  KILN_CHECK(false, "Resize: unknown coordinate_transformation_mode '" + m + "'");
  return 0;
}

// Resizes `data` (dims) along axis to out_w elements.
std::vector<double> resize_axis(const std::vector<double>& data, std::vector<int64_t>& dims, size_t axis, double scale,
                                int64_t out_w, const ResizeConfig& c, double roi0, double roi1) {
  int64_t in_w = dims[axis];
  int64_t outer = dims_product(dims, 0, axis), inner = dims_product(dims, axis + 1, dims.size());
  // The intermediate of one axis may be larger than the final output (up one axis, down another).
  auto count = checked_element_count({outer, out_w, inner});
  KILN_CHECK(count && *count <= max_tensor_bytes() / 8, "Resize: intermediate result too large");
  std::vector<double> out(static_cast<size_t>(*count));
  KILN_CHECK(in_w > 0 || out_w == 0, "Resize: cannot resize an empty axis");
  for (int64_t y = 0; y < out_w; ++y) {
    bool extrap = false;
    double x = source_coord(c, static_cast<double>(y), scale, in_w, out_w, roi0, roi1, extrap);
    KILN_CHECK(std::isfinite(x), "Resize: non-finite source coordinate");
    double xf = std::floor(x);
    double ratio = x == xf ? 1.0 : x - xf;
    std::vector<double> w = coefficients(c, ratio, scale);
    int64_t n = static_cast<int64_t>(w.size());
    int64_t pad = (n + 1) / 2;
    double xp = x + static_cast<double>(pad);
    double p = std::floor(xp), frac = xp - p;
    int64_t off = n % 2 == 0 ? (frac == 0 ? -(n / 2) : -(n / 2) + 1) : (frac <= 0.5 ? -((n - 1) / 2) : -((n - 1) / 2) + 1);
    int64_t start = static_cast<int64_t>(p) + off - pad;
    std::vector<int64_t> idx(n);
    for (int64_t j = 0; j < n; ++j) idx[j] = start + j;
    if (c.exclude_outside) {
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) {
        if (idx[j] < 0 || idx[j] >= in_w) w[j] = 0;
        sum += w[j];
      }
      if (sum == 0) sum = 1;
      for (auto& v : w) v /= sum;
    }
    for (auto& i : idx) i = std::clamp<int64_t>(i, 0, in_w - 1);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < inner; ++k) {
        double acc = 0;
        if (extrap) {
          acc = c.extrapolation;
        } else {
          for (int64_t j = 0; j < n; ++j) acc += data[(o * in_w + idx[j]) * inner + k] * w[j];
        }
        out[(o * out_w + y) * inner + k] = acc;
      }
  }
  dims[axis] = out_w;
  return out;
}

std::vector<double> to_f64(const Tensor& x) {
  std::vector<double> v(x.numel());
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < x.numel(); ++i) v[i] = static_cast<double>(x.data<T>()[i]);
  });
  return v;
}

void store_saturated(const std::vector<double>& v, Tensor& out) {
  dispatch_numeric(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < out.numel(); ++i) {
      if constexpr (std::is_integral_v<T>) {
        double r = std::nearbyint(v[i]);  // round half to even (default rounding mode)
        r = std::clamp(r, static_cast<double>(std::numeric_limits<T>::min()), static_cast<double>(std::numeric_limits<T>::max()));
        out.data<T>()[i] = static_cast<T>(r);
      } else if constexpr (std::is_same_v<T, double>) {
        out.data<T>()[i] = v[i];
      } else {
        out.data<T>()[i] = T(static_cast<float>(v[i]));
      }
    }
  });
}

// Full-rank scales/sizes/roi plus the axes that are resized.
struct ResizePlan {
  std::vector<double> scales;
  std::vector<int64_t> sizes;
  std::vector<double> roi;  // 2*rank, empty when not given
  std::vector<int64_t> axes;
};

ResizePlan plan_resize(const std::vector<int64_t>& in_dims, const std::optional<std::vector<double>>& scales_in,
                       const std::optional<std::vector<int64_t>>& sizes_in, const std::vector<double>& roi_in,
                       const std::vector<int64_t>& axes_attr, const std::string& policy) {
  int64_t r = static_cast<int64_t>(in_dims.size());
  ResizePlan p;
  if (axes_attr.empty()) {
    for (int64_t i = 0; i < r; ++i) p.axes.push_back(i);
  } else {
    for (int64_t a : axes_attr) p.axes.push_back(normalize_axis(a, r, "Resize axis"));
  }
  size_t na = p.axes.size();
  KILN_CHECK(scales_in.has_value() != sizes_in.has_value(), "Resize: exactly one of scales and sizes must be given");
  if (!roi_in.empty()) {
    KILN_CHECK(roi_in.size() == 2 * na, "Resize: roi must have 2 entries per resized axis");
    p.roi.assign(2 * r, 0.0);
    for (int64_t i = 0; i < r; ++i) p.roi[r + i] = 1.0;
    for (size_t i = 0; i < na; ++i) {
      p.roi[p.axes[i]] = roi_in[i];
      p.roi[r + p.axes[i]] = roi_in[na + i];
    }
  }
  p.scales.assign(r, 1.0);
  p.sizes = in_dims;
  if (scales_in) {
    KILN_CHECK(scales_in->size() == na, "Resize: scales must have one entry per resized axis");
    for (size_t i = 0; i < na; ++i) {
      double s = (*scales_in)[i];
      KILN_CHECK(s > 0 && std::isfinite(s), "Resize: scales must be positive");
      p.scales[p.axes[i]] = s;
      double sz = std::floor(s * static_cast<double>(in_dims[p.axes[i]]));
      KILN_CHECK(sz < 1e12, "Resize: output too large");
      p.sizes[p.axes[i]] = static_cast<int64_t>(sz);
    }
    return p;
  }
  KILN_CHECK(sizes_in->size() == na, "Resize: sizes must have one entry per resized axis");
  for (size_t i = 0; i < na; ++i) {
    KILN_CHECK((*sizes_in)[i] >= 0, "Resize: negative size");
    KILN_CHECK(in_dims[p.axes[i]] > 0, "Resize: cannot resize an empty axis to a size");
    p.sizes[p.axes[i]] = (*sizes_in)[i];
    p.scales[p.axes[i]] = static_cast<double>((*sizes_in)[i]) / static_cast<double>(in_dims[p.axes[i]]);
  }
  if (policy != "stretch") {
    KILN_CHECK(policy == "not_larger" || policy == "not_smaller", "Resize: unknown keep_aspect_ratio_policy '" + policy + "'");
    double s = p.scales[p.axes[0]];
    for (int64_t a : p.axes) s = policy == "not_larger" ? std::min(s, p.scales[a]) : std::max(s, p.scales[a]);
    for (int64_t a : p.axes) {
      p.scales[a] = s;
      p.sizes[a] = static_cast<int64_t>(s * static_cast<double>(in_dims[a]) + 0.5);
    }
  }
  return p;
}

Tensor run_resize(const Tensor& x, const ResizePlan& p, const ResizeConfig& c) {
  std::vector<int64_t> dims = x.dims();
  int64_t r = static_cast<int64_t>(dims.size());
  Tensor out(x.dtype(), p.sizes);
  std::vector<double> data = to_f64(x);
  for (int64_t a : p.axes) {
    double scale = p.scales[a];
    bool roi_trivial = p.roi.empty() || (std::fabs(p.roi[a]) < 1e-9 && std::fabs(p.roi[a + r] - 1.0) < 1e-9);
    if (std::fabs(scale - 1.0) <= 1e-9 && p.sizes[a] == dims[a] && roi_trivial) continue;
    double roi0 = p.roi.empty() ? 0.0 : p.roi[a], roi1 = p.roi.empty() ? 1.0 : p.roi[a + r];
    if (c.ctm == "tf_crop_and_resize") KILN_CHECK(!p.roi.empty(), "Resize: tf_crop_and_resize needs roi");
    data = resize_axis(data, dims, static_cast<size_t>(a), scale, p.sizes[a], c, roi0, roi1);
  }
  store_saturated(data, out);
  return out;
}

void resize_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int v = ctx.version();
  const auto& a = ctx.attrs();
  ResizeConfig c;
  c.mode = a.get_string("mode", "nearest");
  std::optional<std::vector<double>> scales;
  std::optional<std::vector<int64_t>> sizes;
  std::vector<double> roi;
  if (v < 11) {
    c.ctm = "asymmetric";
    c.nearest_mode = "simple";
    scales = ctx.input(1).to_f64();
  } else {
    c.ctm = a.get_string("coordinate_transformation_mode", "half_pixel");
    c.nearest_mode = a.get_string("nearest_mode", "round_prefer_floor");
    c.cubic_a = a.get_float("cubic_coeff_a", -0.75f);
    c.exclude_outside = a.get_int("exclude_outside", 0) != 0;
    c.extrapolation = a.get_float("extrapolation_value", 0.f);
    if (ctx.has_input(1) && ctx.input(1).numel() > 0) roi = ctx.input(1).to_f64();
    if (ctx.has_input(2) && ctx.input(2).numel() > 0) scales = ctx.input(2).to_f64();
    if (ctx.has_input(3) && ctx.input(3).numel() > 0) sizes = ctx.input(3).to_i64();
    if (v >= 18) c.antialias = a.get_int("antialias", 0) != 0;
    if (c.ctm == "half_pixel_symmetric") KILN_CHECK(v >= 19, "Resize: half_pixel_symmetric needs opset 19");
  }
  KILN_CHECK(!(c.antialias && c.mode == "nearest"), "Resize: antialias is not supported for mode 'nearest'");
  std::vector<int64_t> axes = v >= 18 ? a.get_ints("axes") : std::vector<int64_t>{};
  std::string policy = v >= 18 ? a.get_string("keep_aspect_ratio_policy", "stretch") : "stretch";
  ResizePlan p = plan_resize(x.dims(), scales, sizes, roi, axes, policy);
  ctx.set_output(0, run_resize(x, p, c));
}

void upsample_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  ResizeConfig c;
  c.mode = ctx.attrs().get_string("mode", "nearest");
  KILN_CHECK(c.mode == "nearest" || c.mode == "linear" || c.mode == "bilinear", "Upsample: unknown mode '" + c.mode + "'");
  if (c.mode == "bilinear") c.mode = "linear";
  c.ctm = "asymmetric";
  c.nearest_mode = "simple";
  std::vector<double> scales;
  if (ctx.version() >= 9) scales = ctx.input(1).to_f64();
  else for (float f : ctx.attrs().get_floats("scales")) scales.push_back(f);
  KILN_CHECK(scales.size() == x.rank(), "Upsample: scales must have one entry per input dim");
  ResizePlan p = plan_resize(x.dims(), scales, std::nullopt, {}, {}, "stretch");
  ctx.set_output(0, run_resize(x, p, c));
}

// Output shape from constant scales/sizes; unknown dims otherwise.
void infer_resize_common(InferenceContext& ctx, const std::optional<std::vector<double>>& scales,
                         const std::optional<std::vector<int64_t>>& sizes, bool maybe_known, const std::vector<int64_t>& axes_attr,
                         const std::string& policy) {
  DataType dt = ctx.input_dtype(0);
  const Shape* s = ctx.input_shape(0);
  if (!s) return ctx.set_output(0, dt, std::nullopt);
  int64_t r = static_cast<int64_t>(s->rank());
  if (!maybe_known) return ctx.set_output(0, dt, unknown_dims(r));
  std::vector<int64_t> axes;
  if (axes_attr.empty()) for (int64_t i = 0; i < r; ++i) axes.push_back(i);
  else for (int64_t a : axes_attr) {
    if (a < -r || a >= r) ctx.fail("axis out of range");
    axes.push_back(a < 0 ? a + r : a);
  }
  std::vector<Dim> out = s->dims();
  if (scales) {
    if (scales->size() != axes.size()) ctx.fail("scales must have one entry per resized axis");
    for (size_t i = 0; i < axes.size(); ++i) {
      const Dim& d = (*s)[axes[i]];
      double sc = (*scales)[i];
      if (sc <= 0) ctx.fail("scales must be positive");
      out[axes[i]] = d.is_constant() ? Dim(static_cast<int64_t>(std::floor(sc * static_cast<double>(d.value())))) : (sc == 1.0 ? d : Dim::unknown());
    }
  } else if (sizes) {
    if (sizes->size() != axes.size()) ctx.fail("sizes must have one entry per resized axis");
    if (policy == "stretch") {
      for (size_t i = 0; i < axes.size(); ++i) out[axes[i]] = Dim((*sizes)[i]);
    } else {
      for (int64_t a : axes) out[a] = Dim::unknown();
      if (s->is_static()) {
        try {
          auto p = plan_resize(s->static_dims(), std::nullopt, sizes, {}, axes, policy);
          for (int64_t a : axes) out[a] = Dim(p.sizes[a]);
        } catch (const Error&) {
        }
      }
    }
  }
  ctx.set_output(0, dt, Shape(out));
}

void infer_resize(InferenceContext& ctx) {
  int v = ctx.version();
  std::optional<std::vector<double>> scales;
  std::optional<std::vector<int64_t>> sizes;
  bool known = true;
  auto read = [&](size_t i, auto& dst, bool as_int) {
    if (!ctx.has_input(i)) return;
    const Tensor* t = ctx.input_constant(i);
    const Shape* sh = ctx.input_shape(i);
    if (!t) {
      if (!(sh && sh->rank() == 1 && (*sh)[0].is_constant() && (*sh)[0].value() == 0)) known = false;
      return;
    }
    if (t->numel() == 0) return;
    if constexpr (std::is_same_v<std::decay_t<decltype(dst)>, std::optional<std::vector<double>>>) dst = t->to_f64();
    else dst = t->to_i64();
    (void)as_int;
  };
  if (v < 11) read(1, scales, false);
  else {
    read(2, scales, false);
    read(3, sizes, true);
  }
  if (known && !scales && !sizes) known = false;
  std::vector<int64_t> axes = v >= 18 ? ctx.attrs().get_ints("axes") : std::vector<int64_t>{};
  std::string policy = v >= 18 ? ctx.attrs().get_string("keep_aspect_ratio_policy", "stretch") : "stretch";
  infer_resize_common(ctx, scales, sizes, known, axes, policy);
}

void infer_upsample(InferenceContext& ctx) {
  std::optional<std::vector<double>> scales;
  if (ctx.version() >= 9) {
    if (const Tensor* t = ctx.input_constant(1)) scales = t->to_f64();
  } else {
    std::vector<double> v;
    for (float f : ctx.attrs().get_floats("scales")) v.push_back(f);
    scales = v;
  }
  infer_resize_common(ctx, scales, std::nullopt, scales.has_value(), {}, "stretch");
}

}  // namespace

KILN_REGISTER_OP(Resize, {"", "Resize", {10, 11, 13, 18, 19}, infer_resize, resize_cpu});
KILN_REGISTER_OP(Upsample, {"", "Upsample", {7, 9}, infer_upsample, upsample_cpu});

}  // namespace kiln::ops
