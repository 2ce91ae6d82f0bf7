#include "plan/views.h"

#include "plan/memory_planner.h"

namespace kiln::plan {

bool is_view_node(const ir::Node& node) {
  const std::string& op = node.op_type();
  const bool onnx = node.domain().empty() || node.domain() == "ai.onnx";
  const bool view_op = (onnx && (op == "Reshape" || op == "Squeeze" || op == "Unsqueeze" || op == "Flatten" ||
                                 op == "Identity")) ||
                       (node.domain() == "kiln" && op == "Reformat");
  if (!view_op || node.num_inputs() < 1 || node.num_outputs() != 1) return false;
  const ir::Value* in = node.input(0);
  const ir::Value* out = node.output(0);
  if (!in || !out || in == out) return false;
  const ir::ValueType &a = in->type(), &b = out->type();
  if (a.dtype != b.dtype || a.layout != ir::Layout::kRowMajor || b.layout != ir::Layout::kRowMajor) return false;
  auto in_bytes = value_bytes(*in);
  auto out_bytes = value_bytes(*out);
  return in_bytes.is_ok() && out_bytes.is_ok() && in_bytes.value() == out_bytes.value();
}

}  // namespace kiln::plan
