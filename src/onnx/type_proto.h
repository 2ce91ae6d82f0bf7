// TypeProto -> ir::ValueType.
#pragma once
#include "core/status.h"
#include "ir/value_type.h"

namespace onnx {
class TypeProto;
}

namespace kiln::importer {

Result<ir::ValueType> value_type_from_proto(const onnx::TypeProto& type, const std::string& who);

}  // namespace kiln::importer
