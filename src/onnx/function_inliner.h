// Model-local functions (ModelProto.functions): every call in the main graph and in subgraphs
// is replaced by the function's body before import, so nothing downstream knows functions.
#pragma once
#include "core/status.h"

namespace onnx {
class ModelProto;
}

namespace kiln::importer {

// Inlines calls recursively (nested calls up to a depth limit): formal inputs and outputs map
// to the call's actual names, internal values get unique names, attributes referring to the
// caller's (ref_attr_name) are resolved, and the functions' opset imports are added to the
// model's. A domain imported at two different versions is refused (Kiln runs one opset per
// domain). The used functions are removed from the model.
Status inline_functions(onnx::ModelProto& model);

}  // namespace kiln::importer
