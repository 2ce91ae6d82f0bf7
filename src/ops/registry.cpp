#include "ops/registry.h"

#include <algorithm>

namespace kiln::ops {

OpRegistry& OpRegistry::global() {
  static OpRegistry registry;
  return registry;
}

void OpRegistry::add(OpSchema schema) {
  auto key = std::make_pair(schema.domain, schema.op_type);
  schemas_[key] = std::move(schema);
}

const OpSchema* OpRegistry::find(const std::string& domain, const std::string& op_type) const {
  std::string d = domain == "ai.onnx" ? "" : domain;
  auto it = schemas_.find({d, op_type});
  return it == schemas_.end() ? nullptr : &it->second;
}

namespace {

using VersionTable = std::map<std::pair<std::string, std::string>, std::vector<int>>;

const VersionTable& onnx_versions() {
  static const VersionTable table = [] {
    VersionTable t;
#define KILN_ONNX_OP(domain, name, ...) t[{domain, name}] = std::vector<int> __VA_ARGS__;
#include "ops/onnx_op_versions.inc"
#undef KILN_ONNX_OP
    return t;
  }();
  return table;
}

std::string join_versions(const std::vector<int>& vs) {
  std::string s;
  for (int v : vs) s += (s.empty() ? "" : ", ") + std::to_string(v);
  return s;
}

}  // namespace

Result<int> OpRegistry::resolve(const ir::Node& node, int64_t opset) const {
  std::string domain = node.domain() == "ai.onnx" ? "" : node.domain();
  std::string dom = domain.empty() ? "ai.onnx" : domain;
  std::string where = " (domain " + dom + ", opset " + std::to_string(opset) + ") of node '" + node.name() + "'";
  const OpSchema* s = find(domain, node.op_type());
  if (!s) return unsupported("operator " + node.op_type() + where + " is not supported by Kiln");
  // The spec version in force: ONNX's own history when the op is a standard one.
  const std::vector<int>* history = &s->versions;
  auto it = onnx_versions().find({domain, node.op_type()});
  if (it != onnx_versions().end()) history = &it->second;
  int in_force = -1;
  for (int v : *history)
    if (v <= opset && v > in_force) in_force = v;
  if (in_force < 0)
    return invalid_model("operator " + node.op_type() + where + " does not exist at that opset");
  for (int v : s->versions)
    if (v == in_force) return in_force;
  return unsupported("operator " + node.op_type() + where + " follows spec version " + std::to_string(in_force) +
                     ", which Kiln does not implement (it implements versions " + join_versions(s->versions) + ")");
}

int64_t max_supported_opset(const std::string& domain) {
  std::string d = domain == "ai.onnx" ? "" : domain;
  int64_t best = 0;
  for (const auto& [key, vs] : onnx_versions())
    if (key.first == d)
      for (int v : vs) best = std::max<int64_t>(best, v);
  return best;
}

const ir::ValueType& InferenceContext::input_type(size_t i) const {
  if (!has_input(i)) fail("input " + std::to_string(i) + " is required");
  return *input_types_[i];
}

const Shape* InferenceContext::input_shape(size_t i) const {
  if (!has_input(i)) return nullptr;
  const auto& t = *input_types_[i];
  return t.shape ? &*t.shape : nullptr;
}

void InferenceContext::set_output(size_t i, ir::ValueType type) {
  if (i >= outputs_.size()) return;  // the model did not ask for this optional output
  outputs_[i] = std::move(type);
}

Dim InferenceContext::new_symbol() { return Dim::symbol("unk__" + std::to_string((*symbol_counter_)++)); }

void InferenceContext::fail(const std::string& message) const {
  throw_error(StatusCode::kInvalidModel, node_.describe() + ": " + message);
}

const RuntimeValue& KernelContext::input_value(size_t i) const {
  static const RuntimeValue kNone;
  if (i >= inputs_.size() || !inputs_[i]) return kNone;
  return *inputs_[i];
}

const Tensor& KernelContext::input(size_t i) const {
  if (!has_input(i)) fail("input " + std::to_string(i) + " is required");
  if (!inputs_[i]->is_tensor()) fail("input " + std::to_string(i) + " must be a tensor");
  return inputs_[i]->tensor();
}

Tensor& KernelContext::allocate_output(size_t i, DataType dtype, std::vector<int64_t> dims) {
  if (i >= outputs_.size()) fail("output " + std::to_string(i) + " does not exist");
  outputs_[i] = RuntimeValue(Tensor(dtype, std::move(dims)));
  return outputs_[i].tensor();
}

void KernelContext::set_output(size_t i, RuntimeValue value) {
  if (i >= outputs_.size()) fail("output " + std::to_string(i) + " does not exist");
  outputs_[i] = std::move(value);
}

void KernelContext::fail(const std::string& message) const {
  throw_error(StatusCode::kInvalidArgument, message);
}

}  // namespace kiln::ops
