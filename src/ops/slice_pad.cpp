// Slice, Pad and CenterCropPad: each output coordinate maps, axis by axis, to an input
// coordinate or to the fill value.
#include <algorithm>
#include <limits>

#include "ops/common/element_copy.h"
#include "ops/common/infer.h"
#include "ops/common/shape_util.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

// Per-axis maps from output coordinate to input coordinate (-1: the fill value).
using AxisMaps = std::vector<std::vector<int64_t>>;

void gather_by_axis_maps(const Tensor& x, Tensor& out, const AxisMaps& maps, const Tensor* fill) {
  if (out.numel() == 0) return;
  ElementCopier copier(x, out);
  std::unique_ptr<ElementCopier> fill_copier;
  if (fill) fill_copier = std::make_unique<ElementCopier>(*fill, out);
  auto strides = row_major_strides(x.dims());
  std::vector<int64_t> idx(out.rank(), 0);
  for (int64_t i = 0; i < out.numel(); ++i, next_index(idx, out.dims())) {
    int64_t src = 0;
    bool inside = true;
    for (size_t k = 0; k < idx.size(); ++k) {
      int64_t c = maps[k][idx[k]];
      if (c < 0) { inside = false; break; }
      src += c * strides[k];
    }
    if (inside) copier.copy(src, i);
    else if (fill_copier) fill_copier->copy(0, i);
  }
}

// --- Slice ---

struct SliceParams {
  std::vector<int64_t> starts, ends, axes, steps;
};

// Clamped start and output length of one axis (ONNX Slice-10 rules).
std::pair<int64_t, int64_t> slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step) {
  KILN_CHECK(step != 0, "Slice: step must not be 0");
  if (dim == 0) return {0, 0};
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    return {start, end > start ? (end - start - 1) / step + 1 : 0};
  }
  // As numpy (the reference): a start before the axis selects nothing.
  start = std::clamp<int64_t>(start, -1, dim - 1);
  end = std::clamp<int64_t>(end, -1, dim - 1);
  KILN_CHECK(step != std::numeric_limits<int64_t>::min(), "Slice: step out of range");
  return {start, start > end ? (start - end - 1) / (-step) + 1 : 0};
}

SliceParams slice_params(int version, const ir::Attributes& a, const std::vector<std::optional<std::vector<int64_t>>>& in,
                         int64_t rank) {
  SliceParams p;
  if (version < 10) {
    p.starts = a.get_ints("starts");
    p.ends = a.get_ints("ends");
    p.axes = a.get_ints("axes");
  } else {
    p.starts = *in[0];
    p.ends = *in[1];
    if (in[2]) p.axes = *in[2];
    if (in[3]) p.steps = *in[3];
  }
  KILN_CHECK(p.starts.size() == p.ends.size(), "Slice: starts and ends differ in length");
  if (p.axes.empty() && !(version >= 10 && in[2])) {
    for (size_t i = 0; i < p.starts.size(); ++i) p.axes.push_back(static_cast<int64_t>(i));
  }
  if (p.steps.empty() && !(version >= 10 && in[3])) p.steps.assign(p.starts.size(), 1);
  KILN_CHECK(p.axes.size() == p.starts.size() && p.steps.size() == p.starts.size(),
             "Slice: starts, ends, axes and steps differ in length");
  std::vector<bool> seen(rank, false);
  for (auto& ax : p.axes) {
    ax = normalize_axis(ax, rank, "Slice axis");
    KILN_CHECK(!seen[ax], "Slice: repeated axis");
    seen[ax] = true;
  }
  return p;
}

void slice_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t r = static_cast<int64_t>(x.rank());
  std::vector<std::optional<std::vector<int64_t>>> in(4);
  if (ctx.version() >= 10)
    for (size_t i = 1; i <= 4; ++i)
      if (ctx.has_input(i)) {
        KILN_CHECK(ctx.input(i).dtype() == DataType::kInt32 || ctx.input(i).dtype() == DataType::kInt64, "Slice: starts/ends/axes/steps must be int32 or int64");
        in[i - 1] = ctx.input(i).to_i64();
      }
  SliceParams p = slice_params(ctx.version(), ctx.attrs(), in, r);
  std::vector<int64_t> dims = x.dims();
  std::vector<int64_t> start(r, 0), step(r, 1);
  for (size_t i = 0; i < p.axes.size(); ++i) {
    int64_t a = p.axes[i];
    auto [s, n] = slice_axis(x.dim(a), p.starts[i], p.ends[i], p.steps[i]);
    start[a] = s;
    step[a] = p.steps[i];
    dims[a] = n;
  }
  Tensor& out = ctx.allocate_output(0, x.dtype(), dims);
  if (out.numel() == 0) return;
  AxisMaps maps(r);
  for (int64_t k = 0; k < r; ++k)
    for (int64_t o = 0; o < dims[k]; ++o) maps[k].push_back(start[k] + o * step[k]);
  gather_by_axis_maps(x, out, maps, nullptr);
}

void infer_slice(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  const Shape* s = ctx.input_shape(0);
  if (!s) return ctx.set_output(0, dt, std::nullopt);
  int64_t r = static_cast<int64_t>(s->rank());
  std::vector<std::optional<std::vector<int64_t>>> in(4);
  bool all_known = true;
  if (ctx.version() >= 10)
    for (size_t i = 1; i <= 4; ++i) {
      if (!ctx.has_input(i)) continue;
      in[i - 1] = constant_ints(ctx, i);
      if (!in[i - 1]) all_known = false;
    }
  if (!all_known) {
    // Without axes every dim may change; with known axes only those do.
    std::vector<Dim> out = s->dims();
    if (ctx.has_input(3) && in[2]) {
      for (int64_t a : *in[2]) {
        if (a < -r || a >= r) ctx.fail("axis out of range");
        out[a < 0 ? a + r : a] = Dim::unknown();
      }
    } else {
      out = unknown_dims(r).dims();
    }
    return ctx.set_output(0, dt, Shape(out));
  }
  SliceParams p;
  try { p = slice_params(ctx.version(), ctx.attrs(), in, r); } catch (const Error& e) { ctx.fail(e.what()); }
  std::vector<Dim> out = s->dims();
  for (size_t i = 0; i < p.axes.size(); ++i) {
    const Dim& d = (*s)[p.axes[i]];
    if (p.steps[i] == 0) ctx.fail("step must not be 0");
    if (d.is_constant()) {
      out[p.axes[i]] = Dim(slice_axis(d.value(), p.starts[i], p.ends[i], p.steps[i]).second);
    } else if (p.starts[i] == 0 && p.steps[i] == 1 && p.ends[i] >= std::numeric_limits<int32_t>::max()) {
      out[p.axes[i]] = d;  // the whole axis
    } else {
      out[p.axes[i]] = Dim::unknown();
    }
  }
  ctx.set_output(0, dt, Shape(out));
}

// --- Pad ---

// Maps output coordinate o (with begin padding b) on an axis of n input elements.
int64_t pad_coord(int64_t c, int64_t n, const std::string& mode) {
  if (c >= 0 && c < n) return c;
  if (mode == "constant") return -1;
  KILN_CHECK(n > 0, "Pad: mode '" + mode + "' cannot pad an empty axis");
  if (mode == "edge") return std::clamp<int64_t>(c, 0, n - 1);
  if (mode == "wrap") return ((c % n) + n) % n;
  if (mode == "reflect") {
    if (n == 1) return 0;
    int64_t p = 2 * (n - 1);
    c = ((c % p) + p) % p;
    return c >= n ? p - c : c;
  }
  KILN_CHECK(false, "Pad: unknown mode '" + mode + "'");
  return -1;
}

struct PadSpec {
  std::vector<int64_t> begin, end;  // per input axis
};

PadSpec pad_spec(const std::vector<int64_t>& pads, const std::optional<std::vector<int64_t>>& axes_in, int64_t rank) {
  std::vector<int64_t> axes;
  if (axes_in) {
    for (int64_t a : *axes_in) axes.push_back(normalize_axis(a, rank, "Pad axis"));
  } else {
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
  }
  KILN_CHECK(pads.size() == 2 * axes.size(), "Pad: pads has " + std::to_string(pads.size()) + " entries for " + std::to_string(axes.size()) + " axes");
  PadSpec p{std::vector<int64_t>(rank, 0), std::vector<int64_t>(rank, 0)};
  for (size_t i = 0; i < axes.size(); ++i) {
    p.begin[axes[i]] = pads[i];
    p.end[axes[i]] = pads[axes.size() + i];
  }
  return p;
}

void pad_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t r = static_cast<int64_t>(x.rank());
  int v = ctx.version();
  std::vector<int64_t> pads = v < 2 ? ctx.attrs().get_ints("paddings") : v < 11 ? ctx.attrs().get_ints("pads") : ctx.input(1).to_i64();
  std::optional<std::vector<int64_t>> axes;
  if (v >= 18 && ctx.has_input(3)) axes = ctx.input(3).to_i64();
  PadSpec spec = pad_spec(pads, axes, r);
  std::string mode = ctx.attrs().get_string("mode", "constant");
  Tensor fill(x.dtype(), {});
  if (v < 11) {
    float value = ctx.attrs().get_float("value", 0.f);
    dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      *fill.data<T>() = T(value);
    });
  } else if (ctx.has_input(2)) {
    const Tensor& cv = ctx.input(2);
    KILN_CHECK(cv.dtype() == x.dtype() && cv.numel() == 1, "Pad: constant_value must be one element of the input's dtype");
    fill = cv.reshaped({});
  }
  std::vector<int64_t> dims(r);
  for (int64_t k = 0; k < r; ++k) {
    bool overflow = __builtin_add_overflow(x.dim(k), spec.begin[k], &dims[k]) ||
                    __builtin_add_overflow(dims[k], spec.end[k], &dims[k]);
    KILN_CHECK(!overflow && dims[k] >= 0, "Pad: invalid output dim for pads " + std::to_string(spec.begin[k]) + ", " + std::to_string(spec.end[k]));
  }
  Tensor& out = ctx.allocate_output(0, x.dtype(), dims);
  if (out.numel() == 0) return;
  AxisMaps maps(r);
  for (int64_t k = 0; k < r; ++k) {
    // Negative pads crop first; the rest pads the cropped range [lo, hi).
    int64_t lo = std::max<int64_t>(0, -spec.begin[k]), hi = x.dim(k) - std::max<int64_t>(0, -spec.end[k]);
    int64_t pb = std::max<int64_t>(0, spec.begin[k]);
    for (int64_t o = 0; o < dims[k]; ++o) {
      int64_t c = pad_coord(o - pb, hi - lo, mode);
      maps[k].push_back(c < 0 ? -1 : c + lo);
    }
  }
  gather_by_axis_maps(x, out, maps, &fill);
}

void infer_pad(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  const Shape* s = ctx.input_shape(0);
  if (!s) return ctx.set_output(0, dt, std::nullopt);
  int64_t r = static_cast<int64_t>(s->rank());
  int v = ctx.version();
  std::optional<std::vector<int64_t>> pads = v < 2 ? ctx.attrs().get_ints("paddings") : v < 11 ? ctx.attrs().get_ints("pads") : constant_ints(ctx, 1);
  std::optional<std::vector<int64_t>> axes;
  bool axes_given = v >= 18 && ctx.has_input(3);
  if (axes_given) axes = constant_ints(ctx, 3);
  if (!pads || (axes_given && !axes)) return ctx.set_output(0, dt, unknown_dims(r));
  PadSpec spec;
  try { spec = pad_spec(*pads, axes, r); } catch (const Error& e) { ctx.fail(e.what()); }
  std::vector<Dim> out = s->dims();
  for (int64_t k = 0; k < r; ++k) {
    int64_t add = 0, v = 0;
    if (__builtin_add_overflow(spec.begin[k], spec.end[k], &add)) ctx.fail("pads overflow");
    if (add == 0) continue;
    if (!out[k].is_constant()) { out[k] = Dim::unknown(); continue; }
    if (__builtin_add_overflow(out[k].value(), add, &v) || v < 0) ctx.fail("pads give a negative or overflowing dim");
    out[k] = Dim(v);
  }
  ctx.set_output(0, dt, Shape(out));
}

// --- CenterCropPad ---

std::vector<int64_t> center_axes(const ir::Attributes& a, int64_t rank, size_t n) {
  std::vector<int64_t> axes = a.get_ints("axes");
  if (!a.has("axes")) for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  for (auto& ax : axes) ax = normalize_axis(ax, rank, "CenterCropPad axis");
  KILN_CHECK(axes.size() == n, "CenterCropPad: shape has " + std::to_string(n) + " entries for " + std::to_string(axes.size()) + " axes");
  return axes;
}

void center_crop_pad_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  auto shape = ctx.input(1).to_i64();
  int64_t r = static_cast<int64_t>(x.rank());
  auto axes = center_axes(ctx.attrs(), r, shape.size());
  std::vector<int64_t> dims = x.dims(), offset(r, 0);  // offset: input coord = output coord + offset
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t a = axes[i], dim = x.dim(a), sh = shape[i];
    KILN_CHECK(sh >= 0, "CenterCropPad: negative target size");
    dims[a] = sh;
    offset[a] = sh < dim ? (dim - sh) / 2 : -((sh - dim) / 2);
  }
  Tensor& out = ctx.allocate_output(0, x.dtype(), dims);
  if (out.numel() == 0) return;
  AxisMaps maps(r);
  for (int64_t k = 0; k < r; ++k)
    for (int64_t o = 0; o < dims[k]; ++o) {
      int64_t c = o + offset[k];
      maps[k].push_back(c >= 0 && c < x.dim(k) ? c : -1);
    }
  Tensor zero(x.dtype(), {});
  gather_by_axis_maps(x, out, maps, &zero);
}

void infer_center_crop_pad(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  const Shape* s = ctx.input_shape(0);
  if (!s) return ctx.set_output(0, dt, std::nullopt);
  int64_t r = static_cast<int64_t>(s->rank());
  auto shape = constant_ints(ctx, 1);
  std::vector<Dim> out = s->dims();
  std::vector<int64_t> axes;
  auto n = shape ? std::optional<int64_t>(shape->size()) : static_length_1d(ctx.input_shape(1));
  if (!n) return ctx.set_output(0, dt, unknown_dims(r));
  try { axes = center_axes(ctx.attrs(), r, *n); } catch (const Error& e) { ctx.fail(e.what()); }
  for (size_t i = 0; i < axes.size(); ++i) out[axes[i]] = shape ? Dim((*shape)[i]) : Dim::unknown();
  ctx.set_output(0, dt, Shape(out));
}

}  // namespace

KILN_REGISTER_OP(Slice, {"", "Slice", {1, 10, 11, 13}, infer_slice, slice_cpu});
KILN_REGISTER_OP(Pad, {"", "Pad", {1, 2, 11, 13, 18, 19, 21, 23, 24, 25}, infer_pad, pad_cpu});
KILN_REGISTER_OP(CenterCropPad, {"", "CenterCropPad", {18}, infer_center_crop_pad, center_crop_pad_cpu});

}  // namespace kiln::ops
