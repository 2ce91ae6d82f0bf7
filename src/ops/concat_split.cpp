// Concat and Split along one axis.
#include "ops/common/element_copy.h"
#include "ops/common/infer.h"
#include "ops/common/shape_util.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

void concat_cpu(KernelContext& ctx) {
  KILN_CHECK(ctx.num_inputs() >= 1, "Concat needs at least one input");
  const Tensor& first = ctx.input(0);
  int64_t r = static_cast<int64_t>(first.rank());
  KILN_CHECK(r > 0, "Concat: inputs must have rank >= 1");
  int64_t axis = normalize_axis(ctx.attrs().get_int("axis", 1), r, "Concat axis");
  std::vector<int64_t> dims = first.dims();
  dims[axis] = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& t = ctx.input(i);
    KILN_CHECK(t.dtype() == first.dtype() && t.rank() == first.rank(),
               "Concat: input " + std::to_string(i) + " " + t.describe() + " does not match " + first.describe());
    for (int64_t k = 0; k < r; ++k)
      if (k != axis) KILN_CHECK(t.dim(k) == first.dim(k), "Concat: input " + std::to_string(i) + " " + t.describe() + " does not match " + first.describe());
    dims[axis] += t.dim(axis);
  }
  Tensor& out = ctx.allocate_output(0, first.dtype(), dims);
  int64_t outer = dims_product(dims, 0, axis), inner = dims_product(dims, axis + 1, r);
  int64_t out_row = dims[axis] * inner, offset = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& t = ctx.input(i);
    ElementCopier copier(t, out);
    int64_t row = t.dim(axis) * inner;
    for (int64_t o = 0; o < outer; ++o) copier.copy_run(o * row, o * out_row + offset, row);
    offset += row;
  }
}

void infer_concat(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  const Shape* base = nullptr;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (ctx.input_dtype(i) != dt) ctx.fail("inputs have different dtypes");
    if (!base) base = ctx.input_shape(i);
  }
  if (!base) return ctx.set_output(0, dt, std::nullopt);
  int64_t r = static_cast<int64_t>(base->rank());
  if (r == 0) ctx.fail("inputs must have rank >= 1");
  int64_t axis = ctx.attrs().get_int("axis", 1);
  if (axis < -r || axis >= r) ctx.fail("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(r));
  if (axis < 0) axis += r;
  std::vector<Dim> out = base->dims();
  int64_t total = 0;
  bool total_known = true;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Shape* s = ctx.input_shape(i);
    if (!s) { total_known = false; continue; }
    if (static_cast<int64_t>(s->rank()) != r) ctx.fail("inputs have different ranks");
    for (int64_t k = 0; k < r; ++k) {
      if (k == axis) continue;
      if ((*s)[k].is_constant() && out[k].is_constant() && (*s)[k].value() != out[k].value())
        ctx.fail("input " + std::to_string(i) + " has shape " + s->to_string() + ", incompatible with " + base->to_string());
      if (!out[k].is_constant() && (*s)[k].is_constant()) out[k] = (*s)[k];
    }
    if ((*s)[axis].is_constant()) total += (*s)[axis].value();
    else total_known = false;
  }
  out[axis] = total_known ? Dim(total) : (ctx.num_inputs() == 1 ? base->dims()[axis] : Dim::unknown());
  ctx.set_output(0, dt, Shape(out));
}

// --- Split ---

// The split sizes, or nullopt when they depend on an unknown value.
std::optional<std::vector<int64_t>> split_sizes(int version, const ir::Attributes& a, const Tensor* split_input,
                                                bool split_given, std::optional<int64_t> dim, size_t n_outputs) {
  if (version < 13 && a.has("split")) return a.get_ints("split");
  if (split_given) {
    if (!split_input) return std::nullopt;
    return split_input->to_i64();
  }
  int64_t n = static_cast<int64_t>(n_outputs);
  if (version >= 18) {
    KILN_CHECK(a.has("num_outputs"), "Split: needs the 'split' input or the 'num_outputs' attribute");
    n = a.get_int("num_outputs", 0);
    KILN_CHECK(n >= 1 && n == static_cast<int64_t>(n_outputs),
               "Split: num_outputs " + std::to_string(n) + " does not match " + std::to_string(n_outputs) + " outputs");
  }
  if (!dim) return std::nullopt;
  std::vector<int64_t> sizes;
  if (version >= 18) {
    int64_t chunk = (*dim + n - 1) / n;
    for (int64_t i = 0; i < n; ++i) sizes.push_back(std::max<int64_t>(0, std::min(chunk, *dim - chunk * i)));
  } else {
    KILN_CHECK(*dim % n == 0, "Split: dim " + std::to_string(*dim) + " is not divisible into " + std::to_string(n) + " equal parts");
    sizes.assign(n, *dim / n);
  }
  return sizes;
}

void split_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t r = static_cast<int64_t>(x.rank());
  int64_t axis = normalize_axis(ctx.attrs().get_int("axis", 0), r, "Split axis");
  bool given = ctx.version() < 13 ? (ctx.version() == 1 && ctx.has_input(1)) : ctx.has_input(1);
  auto sizes = *split_sizes(ctx.version(), ctx.attrs(), given ? &ctx.input(1) : nullptr, given, x.dim(axis), ctx.num_outputs());
  KILN_CHECK(sizes.size() == ctx.num_outputs(), "Split: " + std::to_string(sizes.size()) + " split sizes for " + std::to_string(ctx.num_outputs()) + " outputs");
  int64_t sum = 0;
  for (int64_t s : sizes) {
    KILN_CHECK(s >= 0 && s <= x.dim(axis), "Split: split size " + std::to_string(s) + " out of range");
    sum += s;
  }
  KILN_CHECK(sum == x.dim(axis), "Split: split sizes sum to " + std::to_string(sum) + ", dim is " + std::to_string(x.dim(axis)));
  int64_t outer = dims_product(x.dims(), 0, axis), inner = dims_product(x.dims(), axis + 1, r);
  int64_t in_row = x.dim(axis) * inner, offset = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::vector<int64_t> dims = x.dims();
    dims[axis] = sizes[i];
    Tensor& out = ctx.allocate_output(i, x.dtype(), dims);
    ElementCopier copier(x, out);
    int64_t row = sizes[i] * inner;
    for (int64_t o = 0; o < outer; ++o) copier.copy_run(o * in_row + offset, o * row, row);
    offset += row;
  }
}

void infer_split(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  const Shape* s = ctx.input_shape(0);
  if (!s) {
    for (size_t i = 0; i < ctx.num_outputs(); ++i) ctx.set_output(i, dt, std::nullopt);
    return;
  }
  int64_t r = static_cast<int64_t>(s->rank());
  int64_t axis = ctx.attrs().get_int("axis", 0);
  if (axis < -r || axis >= r) ctx.fail("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(r));
  if (axis < 0) axis += r;
  bool given = ctx.version() < 13 ? (ctx.version() == 1 && ctx.has_input(1)) : ctx.has_input(1);
  std::optional<int64_t> dim;
  if ((*s)[axis].is_constant()) dim = (*s)[axis].value();
  std::optional<std::vector<int64_t>> sizes;
  try {
    sizes = split_sizes(ctx.version(), ctx.attrs(), given ? ctx.input_constant(1) : nullptr, given, dim, ctx.num_outputs());
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
  if (sizes && sizes->size() != ctx.num_outputs()) ctx.fail("split sizes do not match the number of outputs");
  for (size_t i = 0; i < ctx.num_outputs(); ++i) {
    std::vector<Dim> out = s->dims();
    out[axis] = sizes ? Dim((*sizes)[i]) : Dim::unknown();
    ctx.set_output(i, dt, Shape(out));
  }
}

}  // namespace

KILN_REGISTER_OP(Concat, {"", "Concat", {1, 4, 11, 13}, infer_concat, concat_cpu});
KILN_REGISTER_OP(Split, {"", "Split", {1, 2, 11, 13, 18}, infer_split, split_cpu});

}  // namespace kiln::ops
