// kiln::Attention (docs/FUSED_OPS.md) as the CUDA tactics see it: the canonical views
// Q [B, H, S, D], KT [B, H, D, Sk], V [B, H, Sk, Dv], Y' [B, H, S, Dv] of the stored tensors
// (which the perm_* attributes may lay out differently, e.g. [B, S, H, D]) as element strides,
// and the mask's strides broadcast to the scores [B, H, S, Sk]. Shared by cuda.attention
// (attention_tactic.cu) and cuda.cudnn.sdpa (attention_cudnn.cpp); plain C++ for both compilers.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <type_traits>
#include <vector>

#include "backends/cuda/tactic_util.h"
#include "core/status.h"
#include "ir/graph.h"

namespace kiln::cuda {

struct AttentionShape {
  int64_t batch_heads, heads, s, sk, d, dv;
  float scale;
  bool mask;
  int64_t mask_stride[4];  // strides of the mask broadcast to [B, H, S, Sk]; 0 where broadcast
  DataType dt;
  int64_t batch;
  // Element strides of the canonical views: q (b, h, i, d), kt (b, h, d, j), v (b, h, j, c),
  // y (b, h, i, c).
  int64_t q_stride[4], kt_stride[4], v_stride[4], y_stride[4];
  // Element offsets of each view's first element in its stored tensor (select_*: one slot of a
  // packed qkv tensor).
  int64_t q_offset, kt_offset, v_offset;
  int64_t mask_dims[4];  // the mask's own dims, right-aligned to rank 4 (1-padded)
};
// Passed by value to kernels: plain data only.
static_assert(std::is_trivially_copyable<AttentionShape>::value, "AttentionShape must be trivially copyable");

// The attribute `name` as a permutation of 0..3 (identity when absent); false when invalid.
// Rank-3 attention ([B*H, S, D], as older PyTorch exports multi-head attention) is read as
// rank 4 with a leading batch of 1: its 3-entry perm p becomes [0, p0+1, p1+1, p2+1].
inline bool attention_perm(const ir::Node& n, const char* name, size_t rank, int64_t perm[4]) {
  for (int i = 0; i < 4; ++i) perm[i] = i;
  if (!n.attrs().has(name)) return true;
  std::vector<int64_t> p = n.attrs().get_ints(name, {});
  if (p.size() != rank) return false;
  if (rank == 3) p.insert(p.begin(), -1);
  bool seen[4] = {false, false, false, false};
  for (int i = 0; i < 4; ++i) {
    int64_t v = rank == 3 ? (i == 0 ? 0 : p[i] + 1) : p[i];
    if (v < 0 || v > 3 || seen[v]) return false;
    seen[v] = true;
    perm[i] = v;
  }
  return true;
}

// Row-major strides of `dims`.
inline void packed_strides(const std::vector<int64_t>& dims, int64_t* out) {
  int64_t s = 1;
  for (size_t k = dims.size(); k-- > 0;) {
    out[k] = s;
    s *= dims[k];
  }
}

// A stored tensor as the attention reads it before its perm: dims and element strides, after
// the select_* attribute `select` ([axis, index]: that slot of the axis, which goes away) when
// present, lifted to rank 4 by a leading 1 when the operand has rank 3. False when the select
// is invalid or the rank is not `rank` (3 or 4) after it.
struct OperandView {
  std::vector<int64_t> dims, strides;
  int64_t offset = 0;
};
inline bool operand_view(const ir::Node& n, const char* select, const std::vector<int64_t>& stored, size_t rank,
                         OperandView& v) {
  v.dims = stored;
  v.strides.assign(stored.size(), 0);
  packed_strides(stored, v.strides.data());
  v.offset = 0;
  if (n.attrs().has(select)) {
    std::vector<int64_t> sel = n.attrs().get_ints(select, {});
    if (sel.size() != 2 || sel[0] < 0 || sel[0] >= static_cast<int64_t>(stored.size())) return false;
    const size_t axis = static_cast<size_t>(sel[0]);
    if (sel[1] < 0 || sel[1] >= stored[axis]) return false;
    v.offset = sel[1] * v.strides[axis];
    v.dims.erase(v.dims.begin() + sel[0]);
    v.strides.erase(v.strides.begin() + sel[0]);
  }
  if (v.dims.size() != rank) return false;
  if (rank == 3) {  // a leading batch of 1 (attention_perm lifts the perms the same way)
    v.dims.insert(v.dims.begin(), 1);
    v.strides.insert(v.strides.begin(), 0);
  }
  return true;
}

// The canonical view of an operand read through Transpose(perm): canonical dim i is its dim
// perm[i].
inline void canonical_view(const OperandView& o, const int64_t perm[4], int64_t dims[4], int64_t strides[4]) {
  for (int i = 0; i < 4; ++i) {
    dims[i] = o.dims[perm[i]];
    strides[i] = o.strides[perm[i]];
  }
}

// Reads the node; false when it is not a kiln::Attention these tactics can run: rank-4 static
// Q/KT/V/Y of one float dtype, no broadcasting over batch or heads, a mask that broadcasts to
// the scores without enlarging them.
inline bool read_attention(const ir::Node& n, AttentionShape& a) {
  if (n.domain() != "kiln" || n.op_type() != "Attention" || !all_static(n)) return false;
  if (n.num_inputs() < 3 || !n.input(0) || !n.input(1) || !n.input(2) || !n.output(0)) return false;
  if (n.num_inputs() > 4 || n.num_outputs() != 1) return false;
  DataType dt = dtype_of(n.output(0));
  if (!is_kernel_float(dt)) return false;
  for (int i = 0; i < 3; ++i)
    if (dtype_of(n.input(i)) != dt) return false;
  auto ys = dims_of(n.output(0));
  const size_t rank = ys.size();
  if (rank != 3 && rank != 4) return false;
  if (rank == 3) ys.insert(ys.begin(), 1);
  OperandView qo, ko, vo;
  if (!operand_view(n, "select_q", dims_of(n.input(0)), rank, qo) ||
      !operand_view(n, "select_kt", dims_of(n.input(1)), rank, ko) ||
      !operand_view(n, "select_v", dims_of(n.input(2)), rank, vo))
    return false;
  int64_t pq[4], pk[4], pv[4], py[4];
  if (!attention_perm(n, "perm_q", rank, pq) || !attention_perm(n, "perm_kt", rank, pk) ||
      !attention_perm(n, "perm_v", rank, pv) || !attention_perm(n, "perm_y", rank, py))
    return false;
  int64_t q[4], kt[4], v[4];
  canonical_view(qo, pq, q, a.q_stride);
  canonical_view(ko, pk, kt, a.kt_stride);
  canonical_view(vo, pv, v, a.v_stride);
  a.q_offset = qo.offset;
  a.kt_offset = ko.offset;
  a.v_offset = vo.offset;
  // Y (stored) = Transpose(Y', perm_y): stored dim k is Y' dim py[k].
  int64_t yst[4], y[4];
  packed_strides(ys, yst);
  for (int k = 0; k < 4; ++k) {
    y[py[k]] = ys[k];
    a.y_stride[py[k]] = yst[k];
  }
  for (int i = 0; i < 2; ++i)
    if (kt[i] != q[i] || v[i] != q[i]) return false;  // no broadcast over batch/heads here
  if (kt[2] != q[3] || v[2] != kt[3]) return false;
  if (y[0] != q[0] || y[1] != q[1] || y[2] != q[2] || y[3] != v[3]) return false;
  a.batch = q[0];
  a.heads = q[1];
  a.batch_heads = q[0] * q[1];
  a.s = q[2];
  a.sk = kt[3];
  a.d = q[3];
  a.dv = v[3];
  a.scale = n.attrs().get_float("scale", 1.f);
  a.mask = false;
  a.dt = dt;
  for (int i = 0; i < 4; ++i) a.mask_stride[i] = 0;
  for (int i = 0; i < 4; ++i) a.mask_dims[i] = 1;
  if (const ir::Value* m = n.input(3)) {
    if (dtype_of(m) != dt) return false;
    auto md = dims_of(m);
    if (md.size() > 4) return false;
    const int64_t target[4] = {q[0], q[1], q[2], kt[3]};
    for (size_t k = 0; k < md.size(); ++k) a.mask_dims[4 - md.size() + k] = md[k];
    int64_t st[4];
    packed_strides(std::vector<int64_t>(a.mask_dims, a.mask_dims + 4), st);
    for (int i = 0; i < 4; ++i) {
      if (a.mask_dims[i] != 1 && a.mask_dims[i] != target[i]) return false;
      a.mask_stride[i] = a.mask_dims[i] == 1 ? 0 : st[i];
    }
    a.mask = true;
  }
  return true;
}

// dst[idx . dst_strides] = src[idx . src_strides] for every idx < dims (attention_tactic.cu).
struct StridedCopy {
  int64_t dims[4];
  int64_t src_strides[4];
  int64_t dst_strides[4];
};
Status launch_strided_copy(const void* src, void* dst, const StridedCopy& c, size_t elem_bytes, cudaStream_t stream);

}  // namespace kiln::cuda
