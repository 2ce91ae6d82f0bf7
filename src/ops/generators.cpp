// Ops that make new tensors from a few parameters: ConstantOfShape, Range, EyeLike, Trilu, OneHot.
#include <cmath>

#include "ops/common/element_copy.h"
#include "ops/common/infer.h"
#include "ops/common/shape_util.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

// Writes a scalar given as double into element i of t (numeric and bool dtypes).
void store_number(Tensor& t, int64_t i, double v) {
  if (t.dtype() == DataType::kBool) { t.data<bool>()[i] = v != 0; return; }
  dispatch_numeric(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_integral_v<T>) t.data<T>()[i] = static_cast<T>(v);
    else t.data<T>()[i] = T(static_cast<std::conditional_t<std::is_same_v<T, double>, double, float>>(v));
  });
}

// --- ConstantOfShape ---

Tensor constant_of_shape_value(const ir::Attributes& a) {
  if (!a.has("value")) return Tensor(DataType::kFloat32, {});
  const Tensor& v = a.tensor("value");
  KILN_CHECK(v.numel() == 1, "ConstantOfShape: value must hold one element");
  return v.reshaped({});
}

void constant_of_shape_cpu(KernelContext& ctx) {
  const Tensor& shape = ctx.input(0);
  KILN_CHECK(shape.dtype() == DataType::kInt64 && shape.rank() == 1, "ConstantOfShape: input must be 1-D int64");
  Tensor value = constant_of_shape_value(ctx.attrs());
  auto dims = shape.to_i64();
  for (int64_t d : dims) KILN_CHECK(d >= 0, "ConstantOfShape: negative dim " + std::to_string(d));
  Tensor& out = ctx.allocate_output(0, value.dtype(), dims);
  ElementCopier copier(value, out);
  for (int64_t i = 0; i < out.numel(); ++i) copier.copy(0, i);
}

void infer_constant_of_shape(InferenceContext& ctx) {
  if (ctx.input_dtype(0) != DataType::kInt64) ctx.fail("input must be int64");
  DataType dt;
  try { dt = constant_of_shape_value(ctx.attrs()).dtype(); } catch (const Error& e) { ctx.fail(e.what()); }
  if (auto dims = constant_ints(ctx, 0)) {
    for (int64_t d : *dims) if (d < 0) ctx.fail("negative dim in shape");
    return ctx.set_output(0, dt, Shape::from_dims(*dims));
  }
  auto n = static_length_1d(ctx.input_shape(0));
  ctx.set_output(0, dt, n ? std::optional<Shape>(unknown_dims(*n)) : std::nullopt);
}

// --- Range ---

void range_cpu(KernelContext& ctx) {
  const Tensor& s = ctx.input(0);
  const Tensor& l = ctx.input(1);
  const Tensor& d = ctx.input(2);
  DataType dt = s.dtype();
  KILN_CHECK(l.dtype() == dt && d.dtype() == dt, "Range: start, limit and delta must share a dtype");
  KILN_CHECK(s.numel() == 1 && l.numel() == 1 && d.numel() == 1, "Range: start, limit and delta must be scalars");
  if (is_integer(dt)) {
    int64_t start = s.to_i64()[0], limit = l.to_i64()[0], delta = d.to_i64()[0];
    KILN_CHECK(delta != 0, "Range: delta must not be 0");
    // ceil((limit - start) / delta) without overflow for the dtypes Range takes (<= int64 span).
    __int128 span = static_cast<__int128>(limit) - start;
    __int128 n = span / delta + ((span % delta != 0 && ((span > 0) == (delta > 0))) ? 1 : 0);
    if (n < 0) n = 0;
    Tensor& out = ctx.allocate_output(0, dt, {static_cast<int64_t>(std::min<__int128>(n, INT64_MAX))});
    for (int64_t i = 0; i < out.numel(); ++i) store_number(out, i, static_cast<double>(start + i * delta));
    if (dt == DataType::kInt64) for (int64_t i = 0; i < out.numel(); ++i) out.data<int64_t>()[i] = start + i * delta;
    return;
  }
  double start = s.to_f64()[0], limit = l.to_f64()[0], delta = d.to_f64()[0];
  KILN_CHECK(delta != 0 && std::isfinite(start) && std::isfinite(limit) && std::isfinite(delta), "Range: invalid start, limit or delta");
  double n = std::max(std::ceil((limit - start) / delta), 0.0);
  KILN_CHECK(n < 9e15, "Range: too many elements");
  Tensor& out = ctx.allocate_output(0, dt, {static_cast<int64_t>(n)});
  for (int64_t i = 0; i < out.numel(); ++i) store_number(out, i, start + static_cast<double>(i) * delta);
}

void infer_range(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (ctx.input_dtype(1) != dt || ctx.input_dtype(2) != dt) ctx.fail("start, limit and delta must share a dtype");
  const Tensor *s = ctx.input_constant(0), *l = ctx.input_constant(1), *d = ctx.input_constant(2);
  if (s && l && d && s->numel() == 1 && l->numel() == 1 && d->numel() == 1) {
    double start = s->to_f64()[0], limit = l->to_f64()[0], delta = d->to_f64()[0];
    if (delta != 0 && std::isfinite(start) && std::isfinite(limit) && std::isfinite(delta)) {
      double n = std::max(std::ceil((limit - start) / delta), 0.0);
      if (n < 1e15) return ctx.set_output(0, dt, Shape({static_cast<int64_t>(n)}));
    }
  }
  ctx.set_output(0, dt, Shape({ctx.new_symbol()}));
}

// --- EyeLike ---

DataType eye_like_dtype(const ir::Attributes& a, DataType input) {
  if (!a.has("dtype")) return input;
  auto dt = dtype_from_code(static_cast<int32_t>(a.get_int("dtype", 0)));
  KILN_CHECK(dt.has_value(), "EyeLike: unknown dtype");
  return *dt;
}

void eye_like_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_CHECK(x.rank() == 2, "EyeLike: input must be 2-D, got " + x.describe());
  DataType dt = eye_like_dtype(ctx.attrs(), x.dtype());
  int64_t k = ctx.attrs().get_int("k", 0);
  Tensor& out = ctx.allocate_output(0, dt, x.dims());
  for (int64_t i = 0; i < x.dim(0); ++i) {
    int64_t j = i + k;
    if (j >= 0 && j < x.dim(1)) store_number(out, i * x.dim(1) + j, 1.0);
  }
}

void infer_eye_like(InferenceContext& ctx) {
  const Shape* s = ctx.input_shape(0);
  if (s && s->rank() != 2) ctx.fail("input must be 2-D");
  DataType dt;
  try { dt = eye_like_dtype(ctx.attrs(), ctx.input_dtype(0)); } catch (const Error& e) { ctx.fail(e.what()); }
  ctx.set_output(0, dt, s ? std::optional<Shape>(*s) : unknown_dims(2));
}

// --- Trilu ---

void trilu_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_CHECK(x.rank() >= 2, "Trilu: input must have rank >= 2");
  int64_t k = 0;
  if (ctx.has_input(1)) {
    KILN_CHECK(ctx.input(1).numel() == 1 && ctx.input(1).dtype() == DataType::kInt64, "Trilu: k must be an int64 scalar");
    k = ctx.input(1).to_i64()[0];
  }
  bool upper = ctx.attrs().get_int("upper", 1) != 0;
  Tensor out(x.dtype(), x.dims());
  ElementCopier copier(x, out);
  int64_t n = x.dim(x.rank() - 2), m = x.dim(x.rank() - 1);
  int64_t mats = n * m == 0 ? 0 : x.numel() / (n * m);
  for (int64_t b = 0; b < mats; ++b)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) {
        // Overflow-free form of j - i >= k / j - i <= k.
        bool keep = upper ? (j - i >= k) : (j - i <= k);
        if (keep) copier.copy((b * n + i) * m + j, (b * n + i) * m + j);
      }
  ctx.set_output(0, out);
}

void infer_trilu(InferenceContext& ctx) {
  const Shape* s = ctx.input_shape(0);
  if (s && s->rank() < 2) ctx.fail("input must have rank >= 2");
  ctx.set_output(0, ctx.input_type(0));
}

// --- OneHot ---

void one_hot_cpu(KernelContext& ctx) {
  const Tensor& ind = ctx.input(0);
  const Tensor& depth_t = ctx.input(1);
  const Tensor& values = ctx.input(2);
  KILN_CHECK(depth_t.numel() == 1, "OneHot: depth must be a scalar");
  KILN_CHECK(values.numel() == 2 && values.rank() == 1, "OneHot: values must be [off, on]");
  double depth_f = depth_t.to_f64()[0];
  KILN_CHECK(depth_f >= 1 && depth_f < 1e12, "OneHot: depth must be positive");
  int64_t depth = static_cast<int64_t>(depth_f);
  int64_t r = static_cast<int64_t>(ind.rank());
  int64_t axis = ctx.attrs().get_int("axis", -1);
  KILN_CHECK(axis >= -r - 1 && axis <= r, "OneHot: axis out of range");
  if (axis < 0) axis += r + 1;
  std::vector<int64_t> dims(ind.dims().begin(), ind.dims().begin() + axis);
  dims.push_back(depth);
  dims.insert(dims.end(), ind.dims().begin() + axis, ind.dims().end());
  Tensor& out = ctx.allocate_output(0, values.dtype(), dims);
  auto idx = ind.to_f64();
  int64_t outer = dims_product(ind.dims(), 0, axis), inner = dims_product(ind.dims(), axis, r);
  ElementCopier copier(values, out);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t d = 0; d < depth; ++d)
      for (int64_t i = 0; i < inner; ++i) {
        double v = idx[o * inner + i];
        if (v < 0) v += static_cast<double>(depth);
        int64_t iv = std::isfinite(v) && v >= 0 && v < static_cast<double>(depth) ? static_cast<int64_t>(v) : -1;
        copier.copy(iv == d ? 1 : 0, (o * depth + d) * inner + i);
      }
}

void infer_one_hot(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(2);
  const Shape* s = ctx.input_shape(0);
  if (!s) return ctx.set_output(0, dt, std::nullopt);
  int64_t r = static_cast<int64_t>(s->rank());
  int64_t axis = ctx.attrs().get_int("axis", -1);
  if (axis < -r - 1 || axis > r) ctx.fail("axis out of range");
  if (axis < 0) axis += r + 1;
  Dim depth = Dim::unknown();
  if (const Tensor* d = ctx.input_constant(1); d && d->numel() == 1) {
    double v = d->to_f64()[0];
    if (!(v >= 1 && v < 1e12)) ctx.fail("depth must be positive");
    depth = Dim(static_cast<int64_t>(v));
  }
  std::vector<Dim> out(s->dims().begin(), s->dims().begin() + axis);
  out.push_back(depth);
  out.insert(out.end(), s->dims().begin() + axis, s->dims().end());
  ctx.set_output(0, dt, Shape(out));
}

}  // namespace

KILN_REGISTER_OP(ConstantOfShape, {"", "ConstantOfShape", {9, 20, 21, 23, 24, 25}, infer_constant_of_shape, constant_of_shape_cpu});
KILN_REGISTER_OP(Range, {"", "Range", {11, 27}, infer_range, range_cpu});
KILN_REGISTER_OP(EyeLike, {"", "EyeLike", {9, 22}, infer_eye_like, eye_like_cpu});
KILN_REGISTER_OP(Trilu, {"", "Trilu", {14}, infer_trilu, trilu_cpu});
KILN_REGISTER_OP(OneHot, {"", "OneHot", {9, 11, 28}, infer_one_hot, one_hot_cpu});

}  // namespace kiln::ops
