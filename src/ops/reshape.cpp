// Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze: ops that read or relabel dims without
// moving data (outputs share the input buffer).
#include <algorithm>
#include <set>

#include "ops/common/element_copy.h"
#include "ops/common/infer.h"
#include "ops/common/shape_util.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

// Shape's [start, end) after clamping (opset 15).
std::pair<int64_t, int64_t> shape_range(const ir::Attributes& a, int64_t rank) {
  int64_t start = a.get_int("start", 0), end = a.get_int("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  return {start, std::max(start, end)};
}

void shape_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  auto [start, end] = shape_range(ctx.attrs(), static_cast<int64_t>(x.rank()));
  std::vector<int64_t> d(x.dims().begin() + start, x.dims().begin() + end);
  ctx.set_output(0, Tensor::from_i64(d));
}

void infer_shape(InferenceContext& ctx) {
  const Shape* s = ctx.input_shape(0);
  if (!s) return ctx.set_output(0, DataType::kInt64, Shape({Dim::unknown()}));
  auto [start, end] = shape_range(ctx.attrs(), static_cast<int64_t>(s->rank()));
  ctx.set_output(0, DataType::kInt64, Shape({end - start}));
}

void size_cpu(KernelContext& ctx) { ctx.set_output(0, Tensor::scalar_i64(ctx.input(0).numel())); }
void infer_size(InferenceContext& ctx) { ctx.set_output(0, DataType::kInt64, Shape()); }

// --- Reshape ---

std::vector<int64_t> reshape_target(const std::vector<int64_t>& in, std::vector<int64_t> shape, bool allowzero,
                                    const std::string& where) {
  int64_t known = 1;
  int neg = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 && !allowzero) {
      KILN_CHECK(i < in.size(), where + ": shape has 0 at index " + std::to_string(i) + " beyond the input's rank");
      shape[i] = in[i];
    }
    if (shape[i] == -1) {
      KILN_CHECK(neg < 0, where + ": shape has more than one -1");
      neg = static_cast<int>(i);
    } else {
      KILN_CHECK(shape[i] >= 0, where + ": invalid dim " + std::to_string(shape[i]) + " in shape");
      KILN_CHECK(!__builtin_mul_overflow(known, shape[i], &known), where + ": shape " + dims_to_string(shape) + " has too many elements");
    }
  }
  auto total = checked_element_count(in);
  KILN_CHECK(total.has_value(), where + ": bad input dims");
  if (neg >= 0) {
    KILN_CHECK(known != 0 && *total % known == 0,
               where + ": cannot infer -1 reshaping " + dims_to_string(in) + " to " + dims_to_string(shape));
    shape[neg] = *total / known;
  }
  auto count = checked_element_count(shape);
  KILN_CHECK(count && *count == *total, where + ": cannot reshape " + dims_to_string(in) + " to " + dims_to_string(shape));
  return shape;
}

std::optional<std::vector<int64_t>> reshape_shape_value(const ir::Attributes& a, int version,
                                                        const Tensor* shape_input) {
  if (version < 5) return a.get_ints("shape");
  if (!shape_input) return std::nullopt;
  return shape_input->to_i64();
}

void reshape_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor* shape_t = ctx.version() >= 5 ? &ctx.input(1) : nullptr;
  if (shape_t) KILN_CHECK(shape_t->dtype() == DataType::kInt64 && shape_t->rank() == 1, "Reshape: shape must be 1-D int64");
  auto shape = *reshape_shape_value(ctx.attrs(), ctx.version(), shape_t);
  bool allowzero = ctx.version() >= 14 && ctx.attrs().get_int("allowzero", 0) != 0;
  ctx.set_output(0, x.reshaped(reshape_target(x.dims(), shape, allowzero, "Reshape")));
}

void infer_reshape(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  const Shape* in = ctx.input_shape(0);
  if (ctx.version() >= 5 && ctx.input_dtype(1) != DataType::kInt64) ctx.fail("shape input must be int64");
  auto shape = reshape_shape_value(ctx.attrs(), ctx.version(), ctx.version() >= 5 ? ctx.input_constant(1) : nullptr);
  if (!shape) {
    auto n = ctx.version() >= 5 ? static_length_1d(ctx.input_shape(1)) : std::nullopt;
    return ctx.set_output(0, dt, n ? std::optional<Shape>(unknown_dims(*n)) : std::nullopt);
  }
  bool allowzero = ctx.version() >= 14 && ctx.attrs().get_int("allowzero", 0) != 0;
  if (in && in->is_static()) {
    try {
      return ctx.set_output(0, dt, Shape::from_dims(reshape_target(in->static_dims(), *shape, allowzero, "Reshape")));
    } catch (const Error& e) {
      ctx.fail(e.what());
    }
  }
  std::vector<Dim> out;
  int neg = -1;
  for (size_t i = 0; i < shape->size(); ++i) {
    int64_t v = (*shape)[i];
    if (v == 0 && !allowzero) out.push_back(in && i < in->rank() ? (*in)[i] : Dim::unknown());
    else if (v == -1) { if (neg >= 0) ctx.fail("shape has more than one -1"); neg = static_cast<int>(i); out.push_back(Dim::unknown()); }
    else if (v < 0) ctx.fail("invalid dim " + std::to_string(v) + " in shape");
    else out.push_back(Dim(v));
  }
  // -1 with symbolic input: resolvable when the input and output differ by the same factors.
  if (neg >= 0 && in) {
    std::multiset<std::string> syms;
    int64_t in_const = 1;
    bool ok = true;
    for (const Dim& d : in->dims()) {
      if (d.is_constant()) in_const *= d.value();
      else if (d.is_symbolic()) syms.insert(d.symbol_name());
      else ok = false;
    }
    int64_t out_const = 1;
    for (size_t i = 0; i < out.size() && ok; ++i) {
      if (static_cast<int>(i) == neg) continue;
      if (out[i].is_constant()) out_const *= out[i].value();
      else if (out[i].is_symbolic() && syms.count(out[i].symbol_name())) syms.erase(syms.find(out[i].symbol_name()));
      else ok = false;
    }
    if (ok && out_const != 0 && in_const % out_const == 0) {
      int64_t rest = in_const / out_const;
      if (syms.empty()) out[neg] = Dim(rest);
      else if (syms.size() == 1 && rest == 1) out[neg] = Dim::symbol(*syms.begin());
    }
  }
  ctx.set_output(0, dt, Shape(out));
}

// --- Flatten ---

void flatten_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t r = static_cast<int64_t>(x.rank());
  int64_t axis = ctx.attrs().get_int("axis", 1);
  KILN_CHECK(axis >= -r && axis <= r, "Flatten: axis " + std::to_string(axis) + " out of range");
  if (axis < 0) axis += r;
  int64_t a = dims_product(x.dims(), 0, axis), b = dims_product(x.dims(), axis, r);
  ctx.set_output(0, x.reshaped({a, b}));
}

void infer_flatten(InferenceContext& ctx) {
  const Shape* s = ctx.input_shape(0);
  DataType dt = ctx.input_dtype(0);
  if (!s) return ctx.set_output(0, dt, unknown_dims(2));
  int64_t r = static_cast<int64_t>(s->rank());
  int64_t axis = ctx.attrs().get_int("axis", 1);
  if (axis < -r || axis > r) ctx.fail("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(r));
  if (axis < 0) axis += r;
  ctx.set_output(0, dt, Shape({dim_product(*s, 0, axis), dim_product(*s, axis, r)}));
}

// --- Squeeze / Unsqueeze ---

std::optional<std::vector<int64_t>> axes_of(const ir::Attributes& a, int version, int attr_until,
                                            const Tensor* axes_input, bool axes_given) {
  if (version < attr_until) {
    if (!a.has("axes")) return std::vector<int64_t>{};
    return a.get_ints("axes");
  }
  if (!axes_given) return std::vector<int64_t>{};
  if (!axes_input) return std::nullopt;
  return axes_input->to_i64();
}

std::vector<bool> squeeze_mask(const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<bool> mask(rank, false);
  for (int64_t ax : axes) {
    int64_t a = normalize_axis(ax, rank, "Squeeze axis");
    KILN_CHECK(!mask[a], "Squeeze: repeated axis " + std::to_string(ax));
    mask[a] = true;
  }
  return mask;
}

void squeeze_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  bool given = ctx.version() >= 13 && ctx.has_input(1);
  auto axes = *axes_of(ctx.attrs(), ctx.version(), 13, given ? &ctx.input(1) : nullptr, given);
  int64_t r = static_cast<int64_t>(x.rank());
  std::vector<int64_t> out;
  if (axes.empty()) {
    for (int64_t d : x.dims()) if (d != 1) out.push_back(d);
  } else {
    auto mask = squeeze_mask(axes, r);
    for (int64_t i = 0; i < r; ++i) {
      if (mask[i]) KILN_CHECK(x.dim(i) == 1, "Squeeze: dim " + std::to_string(i) + " is " + std::to_string(x.dim(i)) + ", not 1");
      else out.push_back(x.dim(i));
    }
  }
  ctx.set_output(0, x.reshaped(out));
}

void infer_squeeze(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  const Shape* s = ctx.input_shape(0);
  bool given = ctx.version() >= 13 && ctx.has_input(1);
  auto axes = axes_of(ctx.attrs(), ctx.version(), 13, given ? ctx.input_constant(1) : nullptr, given);
  if (!s) return ctx.set_output(0, dt, std::nullopt);
  int64_t r = static_cast<int64_t>(s->rank());
  if (!axes) {
    auto n = static_length_1d(ctx.input_shape(1));
    return ctx.set_output(0, dt, n && *n <= r ? std::optional<Shape>(unknown_dims(r - *n)) : std::nullopt);
  }
  std::vector<Dim> out;
  if (axes->empty()) {
    for (const Dim& d : s->dims()) {
      if (!d.is_constant()) return ctx.set_output(0, dt, std::nullopt);
      if (d.value() != 1) out.push_back(d);
    }
  } else {
    std::vector<bool> mask;
    try { mask = squeeze_mask(*axes, r); } catch (const Error& e) { ctx.fail(e.what()); }
    for (int64_t i = 0; i < r; ++i) {
      if (!mask[i]) out.push_back((*s)[i]);
      else if ((*s)[i].is_constant() && (*s)[i].value() != 1) ctx.fail("cannot squeeze dim " + std::to_string(i) + " of size " + std::to_string((*s)[i].value()));
    }
  }
  ctx.set_output(0, dt, Shape(out));
}

// Output-rank mask of inserted axes.
std::vector<bool> unsqueeze_mask(const std::vector<int64_t>& axes, int64_t out_rank) {
  std::vector<bool> mask(out_rank, false);
  for (int64_t ax : axes) {
    int64_t a = normalize_axis(ax, out_rank, "Unsqueeze axis");
    KILN_CHECK(!mask[a], "Unsqueeze: repeated axis " + std::to_string(ax));
    mask[a] = true;
  }
  return mask;
}

void unsqueeze_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  bool given = ctx.version() >= 13;
  auto axes = *axes_of(ctx.attrs(), ctx.version(), 13, given ? &ctx.input(1) : nullptr, given);
  int64_t out_rank = static_cast<int64_t>(x.rank() + axes.size());
  auto mask = unsqueeze_mask(axes, out_rank);
  std::vector<int64_t> out;
  size_t j = 0;
  for (int64_t i = 0; i < out_rank; ++i) out.push_back(mask[i] ? 1 : x.dim(j++));
  ctx.set_output(0, x.reshaped(out));
}

void infer_unsqueeze(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  const Shape* s = ctx.input_shape(0);
  bool given = ctx.version() >= 13;
  auto axes = axes_of(ctx.attrs(), ctx.version(), 13, given ? ctx.input_constant(1) : nullptr, given);
  if (!s) return ctx.set_output(0, dt, std::nullopt);
  if (!axes) {
    auto n = static_length_1d(ctx.input_shape(1));
    return ctx.set_output(0, dt, n ? std::optional<Shape>(unknown_dims(s->rank() + *n)) : std::nullopt);
  }
  int64_t out_rank = static_cast<int64_t>(s->rank() + axes->size());
  std::vector<bool> mask;
  try { mask = unsqueeze_mask(*axes, out_rank); } catch (const Error& e) { ctx.fail(e.what()); }
  std::vector<Dim> out;
  size_t j = 0;
  for (int64_t i = 0; i < out_rank; ++i) out.push_back(mask[i] ? Dim(1) : (*s)[j++]);
  ctx.set_output(0, dt, Shape(out));
}

}  // namespace

KILN_REGISTER_OP(Shape, {"", "Shape", {1, 13, 15, 19, 21, 23, 24, 25}, infer_shape, shape_cpu});
KILN_REGISTER_OP(Size, {"", "Size", {1, 13, 19, 21, 23, 24, 25}, infer_size, size_cpu});
KILN_REGISTER_OP(Reshape, {"", "Reshape", {1, 5, 13, 14, 19, 21, 23, 24, 25}, infer_reshape, reshape_cpu});
KILN_REGISTER_OP(Flatten, {"", "Flatten", {1, 9, 11, 13, 21, 23, 24, 25}, infer_flatten, flatten_cpu});
KILN_REGISTER_OP(Squeeze, {"", "Squeeze", {1, 11, 13, 21, 23, 24, 25}, infer_squeeze, squeeze_cpu});
KILN_REGISTER_OP(Unsqueeze, {"", "Unsqueeze", {1, 11, 13, 21, 23, 24, 25}, infer_unsqueeze, unsqueeze_cpu});

}  // namespace kiln::ops
