#include "onnx/test_data.h"

#include <fstream>
#include <sstream>

#include "onnx/onnx-data.pb.h"
#include "onnx/tensor_proto.h"

namespace kiln::importer {
namespace {

Result<RuntimeValue> from_sequence(const onnx::SequenceProto& sp) {
  if (sp.elem_type() != onnx::SequenceProto::TENSOR && sp.elem_type() != onnx::SequenceProto::UNDEFINED)
    return unsupported("only sequences of tensors are supported");
  TensorSequence seq;
  for (const auto& tp : sp.tensor_values()) {
    KILN_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(tp, {}));
    seq.elem_type = t.dtype();
    seq.items.push_back(std::move(t));
  }
  return RuntimeValue(std::move(seq));
}

}  // namespace

Result<RuntimeValue> read_value_pb(const std::string& path, ir::ValueKind kind) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  const std::string bad = "'" + path + "' is not a valid protobuf value";
  switch (kind) {
    case ir::ValueKind::kSequence: {
      onnx::SequenceProto sp;
      if (!sp.ParseFromString(bytes)) return invalid_argument(bad);
      return from_sequence(sp);
    }
    case ir::ValueKind::kOptionalTensor:
    case ir::ValueKind::kOptionalSequence: {
      onnx::OptionalProto op;
      if (!op.ParseFromString(bytes)) return invalid_argument(bad);
      if (op.has_tensor_value()) {
        KILN_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(op.tensor_value(), {}));
        return RuntimeValue(std::move(t));
      }
      if (op.has_sequence_value()) return from_sequence(op.sequence_value());
      return RuntimeValue();
    }
    default: {
      onnx::TensorProto tp;
      if (!tp.ParseFromString(bytes)) return invalid_argument(bad);
      KILN_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(tp, {}));
      return RuntimeValue(std::move(t));
    }
  }
}

}  // namespace kiln::importer
