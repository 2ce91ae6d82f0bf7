// Small helpers every CUDA tactic uses to read a node's static types.
#pragma once
#include <vector>

#include "ir/graph.h"

namespace kiln::cuda {

// True when the value exists, is a tensor and its shape is fully static.
inline bool is_static_tensor(const ir::Value* v) {
  return v && v->type().kind == ir::ValueKind::kTensor && v->type().has_static_shape();
}
inline std::vector<int64_t> dims_of(const ir::Value* v) { return v->type().shape->static_dims(); }
inline DataType dtype_of(const ir::Value* v) { return v->type().dtype; }
// float32, float16 or bfloat16: what our own kernels compute in (in float registers).
inline bool is_kernel_float(DataType dt) {
  return dt == DataType::kFloat32 || dt == DataType::kFloat16 || dt == DataType::kBFloat16;
}
// Every present input and output is a static tensor.
inline bool all_static(const ir::Node& n) {
  for (const ir::Value* v : n.inputs())
    if (v && !is_static_tensor(v)) return false;
  for (const ir::Value* v : n.outputs())
    if (v && !is_static_tensor(v)) return false;
  return true;
}


// Channels-last (docs/LAYOUT.md): a kNHWC value of logical dims [N,C,H,W] is stored [N,H,W,C].
inline bool is_nhwc(const ir::Value* v) { return v && v->type().layout == ir::Layout::kNHWC; }
inline bool any_nhwc(const ir::Node& n) {
  for (const ir::Value* v : n.inputs())
    if (is_nhwc(v)) return true;
  for (const ir::Value* v : n.outputs())
    if (is_nhwc(v)) return true;
  return false;
}
// Dims right-aligned to rank 4 ([C,1,1] -> [1,C,1,1]); empty when the rank is above 4.
inline std::vector<int64_t> as_rank4(std::vector<int64_t> d) {
  if (d.size() > 4) return {};
  d.insert(d.begin(), 4 - d.size(), 1);
  return d;
}
// True when NCHW and NHWC order put every element of these dims (read as [N,C,H,W]) at the
// same offset: C == 1 or H * W == 1. Such tensors need no reorder.
inline bool layout_neutral(const std::vector<int64_t>& dims) {
  auto d = as_rank4(dims);
  return !d.empty() && (d[1] == 1 || d[2] * d[3] == 1);
}
// [N,C,H,W] -> [N,H,W,C] (dims right-aligned to rank 4 first).
inline std::vector<int64_t> nhwc_order(const std::vector<int64_t>& dims) {
  auto d = as_rank4(dims);
  return {d[0], d[2], d[3], d[1]};
}
// The dims an elementwise kernel indexes with. Row-major nodes: the logical dims. When the output
// is channels-last, every operand in NHWC order: channels-last operands are stored that way and
// layout-neutral ones read the same in either order. False when an operand is neither.
inline bool elementwise_dims(const ir::Node& n, std::vector<std::vector<int64_t>>& in, std::vector<int64_t>& out) {
  in.clear();
  out = dims_of(n.output(0));
  bool nhwc = is_nhwc(n.output(0));
  for (const ir::Value* v : n.inputs()) {
    if (!v) {  // an absent optional input (Clip's min, say)
      in.emplace_back();
      continue;
    }
    auto d = dims_of(v);
    if (nhwc) {
      if (!is_nhwc(v) && !layout_neutral(d)) return false;
      d = nhwc_order(d);
    } else if (is_nhwc(v)) {
      return false;
    }
    in.push_back(d);
  }
  if (nhwc) {
    if (out.size() != 4) return false;
    out = nhwc_order(out);
  }
  return true;
}

}  // namespace kiln::cuda
