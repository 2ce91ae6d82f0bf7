// Transpose, DepthToSpace, SpaceToDepth (permutations), Expand and Tile (replication).
#include <numeric>

#include "ops/common/broadcast.h"
#include "ops/common/element_copy.h"
#include "ops/common/infer.h"
#include "ops/common/shape_util.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

// out[i0..] = x[permuted index]: out dims are x.dims()[perm[k]].
Tensor permute(const Tensor& x, const std::vector<int64_t>& perm) {
  size_t r = x.rank();
  std::vector<int64_t> out_dims(r), in_strides = row_major_strides(x.dims()), strides(r);
  for (size_t k = 0; k < r; ++k) {
    out_dims[k] = x.dim(perm[k]);
    strides[k] = in_strides[perm[k]];
  }
  Tensor out(x.dtype(), out_dims);
  if (out.numel() == 0) return out;
  ElementCopier copier(x, out);
  std::vector<int64_t> idx(r, 0);
  int64_t src = 0;
  for (int64_t i = 0; i < out.numel(); ++i) {
    copier.copy(src, i);
    for (size_t k = r; k-- > 0;) {
      if (++idx[k] < out_dims[k]) { src += strides[k]; break; }
      src -= strides[k] * (out_dims[k] - 1);
      idx[k] = 0;
    }
  }
  return out;
}

std::vector<int64_t> transpose_perm(const ir::Attributes& a, size_t rank) {
  std::vector<int64_t> perm = a.get_ints("perm");
  if (!a.has("perm")) {
    perm.resize(rank);
    for (size_t i = 0; i < rank; ++i) perm[i] = static_cast<int64_t>(rank - 1 - i);
  }
  KILN_CHECK(perm.size() == rank, "Transpose: perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(rank));
  std::vector<bool> seen(rank, false);
  for (auto& p : perm) {
    p = normalize_axis(p, static_cast<int64_t>(rank), "perm entry");
    KILN_CHECK(!seen[p], "Transpose: perm repeats axis " + std::to_string(p));
    seen[p] = true;
  }
  return perm;
}

void transpose_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  ctx.set_output(0, permute(x, transpose_perm(ctx.attrs(), x.rank())));
}

void infer_transpose(InferenceContext& ctx) {
  const Shape* s = ctx.input_shape(0);
  DataType dt = ctx.input_dtype(0);
  if (!s) {
    if (ctx.attrs().has("perm")) return ctx.set_output(0, dt, unknown_dims(ctx.attrs().get_ints("perm").size()));
    return ctx.set_output(0, dt, std::nullopt);
  }
  std::vector<int64_t> perm;
  try { perm = transpose_perm(ctx.attrs(), s->rank()); } catch (const Error& e) { ctx.fail(e.what()); }
  std::vector<Dim> out;
  for (int64_t p : perm) out.push_back((*s)[p]);
  ctx.set_output(0, dt, Shape(out));
}

// --- DepthToSpace / SpaceToDepth ---

void depth_to_space_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_CHECK(x.rank() == 4, "DepthToSpace: input must be 4-D, got " + x.describe());
  int64_t bs = ctx.attrs().int_("blocksize");
  KILN_CHECK(bs > 0 && x.dim(1) % (bs * bs) == 0, "DepthToSpace: channels not divisible by blocksize^2");
  int64_t b = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3), c2 = c / (bs * bs);
  bool crd = ctx.version() >= 11 && ctx.attrs().get_string("mode", "DCR") == "CRD";
  Tensor y = crd ? permute(x.reshaped({b, c2, bs, bs, h, w}), {0, 1, 4, 2, 5, 3})
                 : permute(x.reshaped({b, bs, bs, c2, h, w}), {0, 3, 4, 1, 5, 2});
  ctx.set_output(0, y.reshaped({b, c2, h * bs, w * bs}));
}

Dim scale_dim(const Dim& d, int64_t num, int64_t den) {
  if (!d.is_constant()) return num == den ? d : Dim::unknown();
  return Dim(d.value() * num / den);
}

void infer_depth_to_space(InferenceContext& ctx) {
  const Shape* s = ctx.input_shape(0);
  DataType dt = ctx.input_dtype(0);
  int64_t bs = ctx.attrs().int_("blocksize");
  if (bs <= 0) ctx.fail("blocksize must be positive");
  if (!s) return ctx.set_output(0, dt, unknown_dims(4));
  if (s->rank() != 4) ctx.fail("input must be 4-D, got " + s->to_string());
  ctx.set_output(0, dt, Shape({(*s)[0], scale_dim((*s)[1], 1, bs * bs), scale_dim((*s)[2], bs, 1), scale_dim((*s)[3], bs, 1)}));
}

void space_to_depth_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_CHECK(x.rank() == 4, "SpaceToDepth: input must be 4-D, got " + x.describe());
  int64_t bs = ctx.attrs().int_("blocksize");
  KILN_CHECK(bs > 0 && x.dim(2) % bs == 0 && x.dim(3) % bs == 0, "SpaceToDepth: H and W must be divisible by blocksize");
  int64_t b = x.dim(0), c = x.dim(1), h = x.dim(2) / bs, w = x.dim(3) / bs;
  bool crd = ctx.version() >= 28 && ctx.attrs().get_string("mode", "DCR") == "CRD";
  Tensor t = x.reshaped({b, c, h, bs, w, bs});
  Tensor y = crd ? permute(t, {0, 1, 3, 5, 2, 4}) : permute(t, {0, 3, 5, 1, 2, 4});
  ctx.set_output(0, y.reshaped({b, c * bs * bs, h, w}));
}

void infer_space_to_depth(InferenceContext& ctx) {
  const Shape* s = ctx.input_shape(0);
  DataType dt = ctx.input_dtype(0);
  int64_t bs = ctx.attrs().int_("blocksize");
  if (bs <= 0) ctx.fail("blocksize must be positive");
  if (!s) return ctx.set_output(0, dt, unknown_dims(4));
  if (s->rank() != 4) ctx.fail("input must be 4-D, got " + s->to_string());
  ctx.set_output(0, dt, Shape({(*s)[0], scale_dim((*s)[1], bs * bs, 1), scale_dim((*s)[2], 1, bs), scale_dim((*s)[3], 1, bs)}));
}

// --- Expand ---

void expand_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& shape = ctx.input(1);
  KILN_CHECK(shape.dtype() == DataType::kInt64 && shape.rank() == 1, "Expand: shape must be 1-D int64");
  auto dims = broadcast_dims(x.dims(), shape.to_i64());
  Tensor& out = ctx.allocate_output(0, x.dtype(), dims);
  ElementCopier copier(x, out);
  BroadcastWalker w(dims, {x.dims()});
  for (int64_t i = 0; i < out.numel(); ++i, w.next()) copier.copy(w.offset(0), i);
}

void infer_expand(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (ctx.input_dtype(1) != DataType::kInt64) ctx.fail("shape input must be int64");
  auto shape = constant_ints(ctx, 1);
  const Shape* s = ctx.input_shape(0);
  if (!shape || !s) {
    auto n = static_length_1d(ctx.input_shape(1));
    if (n && s) return ctx.set_output(0, dt, unknown_dims(std::max<int64_t>(*n, s->rank())));
    return ctx.set_output(0, dt, std::nullopt);
  }
  Shape target = Shape::from_dims(*shape);
  try {
    ctx.set_output(0, dt, broadcast_shapes({s, &target}));
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
}

// --- Tile ---

void tile_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  auto reps = ctx.input(1).to_i64();
  KILN_CHECK(is_integer(ctx.input(1).dtype()) && reps.size() == x.rank(), "Tile: repeats must be int64 with one entry per input dim");
  std::vector<int64_t> dims(x.rank());
  for (size_t i = 0; i < x.rank(); ++i) {
    KILN_CHECK(reps[i] >= 0, "Tile: negative repeat");
    dims[i] = x.dim(i) * reps[i];
  }
  Tensor& out = ctx.allocate_output(0, x.dtype(), dims);
  if (out.numel() == 0) return;
  ElementCopier copier(x, out);
  auto strides = row_major_strides(x.dims());
  std::vector<int64_t> idx(x.rank(), 0);
  for (int64_t i = 0; i < out.numel(); ++i, next_index(idx, dims)) {
    int64_t src = 0;
    for (size_t k = 0; k < idx.size(); ++k) src += (idx[k] % x.dim(k)) * strides[k];
    copier.copy(src, i);
  }
}

void infer_tile(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  const Shape* s = ctx.input_shape(0);
  if (!s) return ctx.set_output(0, dt, std::nullopt);
  auto reps = constant_ints(ctx, 1);
  if (!reps) return ctx.set_output(0, dt, unknown_dims(s->rank()));
  if (reps->size() != s->rank()) ctx.fail("repeats has " + std::to_string(reps->size()) + " entries for rank " + std::to_string(s->rank()));
  std::vector<Dim> out;
  for (size_t i = 0; i < s->rank(); ++i) {
    if ((*reps)[i] < 0) ctx.fail("negative repeat");
    out.push_back((*reps)[i] == 1 ? (*s)[i] : (*s)[i].is_constant() ? Dim((*s)[i].value() * (*reps)[i]) : Dim::unknown());
  }
  ctx.set_output(0, dt, Shape(out));
}

}  // namespace

KILN_REGISTER_OP(Transpose, {"", "Transpose", {1, 13, 21, 23, 24, 25}, infer_transpose, transpose_cpu});
KILN_REGISTER_OP(DepthToSpace, {"", "DepthToSpace", {1, 11, 13, 28}, infer_depth_to_space, depth_to_space_cpu});
KILN_REGISTER_OP(SpaceToDepth, {"", "SpaceToDepth", {1, 13, 28}, infer_space_to_depth, space_to_depth_cpu});
KILN_REGISTER_OP(Expand, {"", "Expand", {8, 13}, infer_expand, expand_cpu});
KILN_REGISTER_OP(Tile, {"", "Tile", {6, 13}, infer_tile, tile_cpu});

}  // namespace kiln::ops
