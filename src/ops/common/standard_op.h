// Runs a standard (ai.onnx) op's reference kernel or shape inference on given tensors / types
// and attributes: how the kiln:: fused ops build their reference semantics from the ops they
// replace, so they are right by construction.
#pragma once
#include <string>
#include <vector>

#include "ir/attribute.h"
#include "ops/infer_context.h"

namespace kiln::ops {

// The op at its latest implemented version. A nullptr input is an omitted optional input.
Tensor run_standard_op(const std::string& op, const ir::Attributes& attrs, const std::vector<const Tensor*>& inputs,
                       const std::string& node_name = "");

// Output 0's type; throws Error (kInvalidModel) when inference rejects the inputs.
ir::ValueType infer_standard_op(const std::string& op, const ir::Attributes& attrs,
                                const std::vector<const ir::ValueType*>& types,
                                const std::vector<const Tensor*>& constants = {});

}  // namespace kiln::ops
