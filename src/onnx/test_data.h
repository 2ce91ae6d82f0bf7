// Reads the protobuf files of ONNX test data sets (input_N.pb / output_N.pb): a TensorProto,
// SequenceProto or OptionalProto, chosen by the kind the model declares for that value.
#pragma once
#include <string>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/value_type.h"

namespace kiln::importer {

Result<RuntimeValue> read_value_pb(const std::string& path, ir::ValueKind kind);

}  // namespace kiln::importer
