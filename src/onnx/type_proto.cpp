#include "onnx/type_proto.h"

#include "onnx/onnx-ml.pb.h"

namespace kiln::importer {
namespace {

Result<ir::ValueType> tensor_type(const onnx::TypeProto::Tensor& t, const std::string& who) {
  ir::ValueType vt;
  if (t.elem_type() != 0) {
    auto dt = dtype_from_code(t.elem_type());
    if (!dt) return unsupported(who + " has element type " + std::to_string(t.elem_type()) + ", which Kiln does not support");
    vt.dtype = *dt;
  }
  if (t.has_shape()) {
    std::vector<Dim> dims;
    for (const auto& d : t.shape().dim()) {
      if (d.has_dim_value()) {
        if (d.dim_value() < 0) return invalid_model(who + " has a negative dim " + std::to_string(d.dim_value()));
        dims.emplace_back(d.dim_value());
      } else if (d.has_dim_param() && !d.dim_param().empty()) {
        dims.push_back(Dim::symbol(d.dim_param()));
      } else {
        dims.push_back(Dim::unknown());
      }
    }
    // Later shape arithmetic multiplies the known dims: refuse a product that overflows.
    std::vector<int64_t> known;
    for (const Dim& d : dims)
      if (d.is_constant()) known.push_back(d.value());
    if (!checked_element_count(known)) return invalid_model(who + " has dims whose product overflows");
    vt.shape = Shape(std::move(dims));
  }
  return vt;
}

}  // namespace

Result<ir::ValueType> value_type_from_proto(const onnx::TypeProto& type, const std::string& who) {
  switch (type.value_case()) {
    case onnx::TypeProto::kTensorType:
      return tensor_type(type.tensor_type(), who);
    case onnx::TypeProto::kSequenceType: {
      const auto& elem = type.sequence_type().elem_type();
      if (elem.value_case() != onnx::TypeProto::kTensorType)
        return unsupported(who + ": only sequences of tensors are supported");
      KILN_ASSIGN_OR_RETURN(ir::ValueType vt, tensor_type(elem.tensor_type(), who));
      vt.kind = ir::ValueKind::kSequence;
      return vt;
    }
    case onnx::TypeProto::kOptionalType: {
      const auto& elem = type.optional_type().elem_type();
      if (elem.value_case() == onnx::TypeProto::kTensorType) {
        KILN_ASSIGN_OR_RETURN(ir::ValueType vt, tensor_type(elem.tensor_type(), who));
        vt.kind = ir::ValueKind::kOptionalTensor;
        return vt;
      }
      if (elem.value_case() == onnx::TypeProto::kSequenceType &&
          elem.sequence_type().elem_type().value_case() == onnx::TypeProto::kTensorType) {
        KILN_ASSIGN_OR_RETURN(ir::ValueType vt, tensor_type(elem.sequence_type().elem_type().tensor_type(), who));
        vt.kind = ir::ValueKind::kOptionalSequence;
        return vt;
      }
      return unsupported(who + ": this optional type is not supported");
    }
    case onnx::TypeProto::kMapType:
      return unsupported(who + " is a map, which Kiln does not support");
    case onnx::TypeProto::kSparseTensorType:
      return unsupported(who + " is a sparse tensor, which Kiln does not support as a graph value");
    case onnx::TypeProto::VALUE_NOT_SET:
      return ir::ValueType::unknown();
    default:
      return unsupported(who + " has a type Kiln does not support");
  }
}

}  // namespace kiln::importer
