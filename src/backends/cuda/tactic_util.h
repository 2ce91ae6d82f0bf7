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

}  // namespace kiln::cuda
