#include "ops/common/subgraph.h"

#include "ops/common/axis_copy.h"

namespace kiln::ops {

const ir::Graph& body_graph(const ir::Node& node, const char* name) {
  auto g = node.attrs().graph(name);
  if (!g) throw_error(StatusCode::kInvalidModel, node.describe() + " has no graph attribute '" + name + "'");
  return *g;
}

ir::ValueType merge_alternatives(const ir::ValueType& a, const ir::ValueType& b, const std::string& what) {
  if (a.kind == ir::ValueKind::kUnknown) return b;
  if (b.kind == ir::ValueKind::kUnknown) return a;
  // A value and an optional of it merge to the optional.
  auto base = [](ir::ValueKind k) {
    if (k == ir::ValueKind::kOptionalTensor) return ir::ValueKind::kTensor;
    if (k == ir::ValueKind::kOptionalSequence) return ir::ValueKind::kSequence;
    return k;
  };
  if (base(a.kind) != base(b.kind))
    throw_error(StatusCode::kInvalidModel, what + " is " + a.to_string() + " or " + b.to_string());
  ir::ValueKind kind = a.kind != base(a.kind) ? a.kind : b.kind;
  DataType dt = a.dtype;
  if (dt == DataType::kUndefined) dt = b.dtype;
  else if (b.dtype != DataType::kUndefined && b.dtype != a.dtype)
    throw_error(StatusCode::kInvalidModel, what + " is " + a.to_string() + " or " + b.to_string());
  ir::ValueType t = ir::ValueType::tensor(dt);
  t.kind = kind;
  t.layout = a.layout;
  if (a.shape && b.shape && a.shape->rank() == b.shape->rank()) {
    std::vector<Dim> dims = a.shape->dims();
    for (size_t i = 0; i < dims.size(); ++i)
      if (dims[i] != (*b.shape)[i]) dims[i] = Dim::unknown();
    t.shape = Shape(std::move(dims));
  }
  return t;
}

Tensor stack_iterations(const std::vector<Tensor>& parts, int64_t axis, const ir::ValueType& body_type) {
  if (!parts.empty()) return concat_axis(parts, axis, true);
  if (body_type.dtype == DataType::kUndefined)
    throw_error(StatusCode::kUnsupported, "cannot make an empty scan output of unknown dtype");
  std::vector<int64_t> dims;
  if (body_type.has_static_shape()) dims = body_type.shape->static_dims();
  if (axis < 0 || axis > static_cast<int64_t>(dims.size())) axis = 0;
  dims.insert(dims.begin() + axis, 0);
  return Tensor(body_type.dtype, dims);
}

}  // namespace kiln::ops
