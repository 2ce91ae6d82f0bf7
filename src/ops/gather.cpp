// Gather, GatherElements, GatherND: index-driven reads; every index is bounds-checked.
#include "ops/common/element_copy.h"
#include "ops/common/infer.h"
#include "ops/common/shape_util.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

std::vector<int64_t> index_values(const Tensor& t, const char* op) {
  KILN_CHECK(t.dtype() == DataType::kInt32 || t.dtype() == DataType::kInt64,
             std::string(op) + ": indices must be int32 or int64, got " + t.describe());
  return t.to_i64();
}

int64_t checked_index(int64_t i, int64_t dim, const char* op) {
  KILN_CHECK(i >= -dim && i < dim, std::string(op) + ": index " + std::to_string(i) + " is out of range for a dim of " + std::to_string(dim));
  return i < 0 ? i + dim : i;
}

void check_indices_dtype(InferenceContext& ctx, size_t i) {
  DataType dt = ctx.input_dtype(i);
  if (dt != DataType::kInt32 && dt != DataType::kInt64) ctx.fail("indices must be int32 or int64");
}

// --- Gather ---

void gather_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  int64_t r = static_cast<int64_t>(x.rank());
  KILN_CHECK(r >= 1, "Gather: data must have rank >= 1");
  int64_t axis = normalize_axis(ctx.attrs().get_int("axis", 0), r, "Gather axis");
  auto idx = index_values(ind, "Gather");
  std::vector<int64_t> dims(x.dims().begin(), x.dims().begin() + axis);
  dims.insert(dims.end(), ind.dims().begin(), ind.dims().end());
  dims.insert(dims.end(), x.dims().begin() + axis + 1, x.dims().end());
  int64_t dim = x.dim(axis);
  for (auto& i : idx) i = checked_index(i, dim, "Gather");
  Tensor& out = ctx.allocate_output(0, x.dtype(), dims);
  int64_t outer = dims_product(x.dims(), 0, axis), inner = dims_product(x.dims(), axis + 1, r);
  int64_t n = static_cast<int64_t>(idx.size());
  ElementCopier copier(x, out);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < n; ++j) copier.copy_run((o * dim + idx[j]) * inner, (o * n + j) * inner, inner);
}

void infer_gather(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  check_indices_dtype(ctx, 1);
  const Shape* s = ctx.input_shape(0);
  const Shape* is = ctx.input_shape(1);
  if (!s || !is) return ctx.set_output(0, dt, std::nullopt);
  int64_t r = static_cast<int64_t>(s->rank());
  if (r < 1) ctx.fail("data must have rank >= 1");
  int64_t axis = ctx.attrs().get_int("axis", 0);
  if (axis < -r || axis >= r) ctx.fail("axis out of range");
  if (axis < 0) axis += r;
  std::vector<Dim> out(s->dims().begin(), s->dims().begin() + axis);
  out.insert(out.end(), is->dims().begin(), is->dims().end());
  out.insert(out.end(), s->dims().begin() + axis + 1, s->dims().end());
  ctx.set_output(0, dt, Shape(out));
}

// --- GatherElements ---

void gather_elements_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  int64_t r = static_cast<int64_t>(x.rank());
  KILN_CHECK(r >= 1 && ind.rank() == x.rank(), "GatherElements: data and indices must have the same rank >= 1");
  int64_t axis = normalize_axis(ctx.attrs().get_int("axis", 0), r, "GatherElements axis");
  for (int64_t k = 0; k < r; ++k)
    if (k != axis) KILN_CHECK(ind.dim(k) <= x.dim(k), "GatherElements: indices shape exceeds data shape");
  auto idx = index_values(ind, "GatherElements");
  Tensor& out = ctx.allocate_output(0, x.dtype(), ind.dims());
  if (out.numel() == 0) return;
  ElementCopier copier(x, out);
  auto strides = row_major_strides(x.dims());
  std::vector<int64_t> pos(r, 0);
  for (int64_t i = 0; i < out.numel(); ++i, next_index(pos, ind.dims())) {
    int64_t src = 0;
    for (int64_t k = 0; k < r; ++k)
      src += (k == axis ? checked_index(idx[i], x.dim(axis), "GatherElements") : pos[k]) * strides[k];
    copier.copy(src, i);
  }
}

void infer_gather_elements(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  check_indices_dtype(ctx, 1);
  const Shape* s = ctx.input_shape(0);
  const Shape* is = ctx.input_shape(1);
  if (s && is && s->rank() != is->rank()) ctx.fail("data and indices must have the same rank");
  ctx.set_output(0, dt, is ? std::optional<Shape>(*is) : std::nullopt);
}

// --- GatherND ---

void gather_nd_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  KILN_CHECK(ind.dtype() == DataType::kInt64, "GatherND: indices must be int64");
  int64_t b = ctx.version() >= 12 ? ctx.attrs().get_int("batch_dims", 0) : 0;
  int64_t r = static_cast<int64_t>(x.rank()), q = static_cast<int64_t>(ind.rank());
  KILN_CHECK(r >= 1 && q >= 1 && b >= 0 && b < std::min(r, q), "GatherND: bad ranks or batch_dims");
  for (int64_t k = 0; k < b; ++k) KILN_CHECK(x.dim(k) == ind.dim(k), "GatherND: batch dims of data and indices differ");
  int64_t k_len = ind.dim(q - 1);
  KILN_CHECK(k_len >= 1 && k_len <= r - b, "GatherND: last indices dim " + std::to_string(k_len) + " out of range");
  std::vector<int64_t> dims(ind.dims().begin(), ind.dims().end() - 1);
  dims.insert(dims.end(), x.dims().begin() + b + k_len, x.dims().end());
  Tensor& out = ctx.allocate_output(0, x.dtype(), dims);
  auto idx = ind.to_i64();
  int64_t batch = dims_product(x.dims(), 0, b);
  int64_t per_batch = dims_product(ind.dims(), b, q - 1);
  int64_t slice = dims_product(x.dims(), b + k_len, r);
  auto strides = row_major_strides(x.dims());
  ElementCopier copier(x, out);
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t j = 0; j < per_batch; ++j) {
      const int64_t* tuple = idx.data() + (bi * per_batch + j) * k_len;
      int64_t src = bi * (b > 0 ? strides[b - 1] : 0);
      for (int64_t t = 0; t < k_len; ++t) src += checked_index(tuple[t], x.dim(b + t), "GatherND") * strides[b + t];
      copier.copy_run(src, (bi * per_batch + j) * slice, slice);
    }
}

void infer_gather_nd(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (ctx.input_dtype(1) != DataType::kInt64) ctx.fail("indices must be int64");
  const Shape* s = ctx.input_shape(0);
  const Shape* is = ctx.input_shape(1);
  if (!s || !is) return ctx.set_output(0, dt, std::nullopt);
  int64_t b = ctx.version() >= 12 ? ctx.attrs().get_int("batch_dims", 0) : 0;
  int64_t r = static_cast<int64_t>(s->rank()), q = static_cast<int64_t>(is->rank());
  if (r < 1 || q < 1 || b < 0 || b >= std::min(r, q)) ctx.fail("bad ranks or batch_dims");
  const Dim& last = (*is)[q - 1];
  if (!last.is_constant()) return ctx.set_output(0, dt, std::nullopt);
  int64_t k_len = last.value();
  if (k_len < 1 || k_len > r - b) ctx.fail("last indices dim out of range");
  std::vector<Dim> out(is->dims().begin(), is->dims().end() - 1);
  out.insert(out.end(), s->dims().begin() + b + k_len, s->dims().end());
  ctx.set_output(0, dt, Shape(out));
}

}  // namespace

KILN_REGISTER_OP(Gather, {"", "Gather", {1, 11, 13}, infer_gather, gather_cpu});
KILN_REGISTER_OP(GatherElements, {"", "GatherElements", {11, 13}, infer_gather_elements, gather_elements_cpu});
KILN_REGISTER_OP(GatherND, {"", "GatherND", {11, 12, 13}, infer_gather_nd, gather_nd_cpu});

}  // namespace kiln::ops
