#include "ops/shape_inference.h"

#include "ops/registry.h"

namespace kiln::ops {

Status merge_types(ir::ValueType& declared, const ir::ValueType& inferred, const std::string& what) {
  if (inferred.kind == ir::ValueKind::kUnknown) return Status::ok();
  if (declared.kind == ir::ValueKind::kUnknown) {
    declared = inferred;
    return Status::ok();
  }
  if (declared.dtype == DataType::kUndefined) declared.dtype = inferred.dtype;
  else if (inferred.dtype != DataType::kUndefined && inferred.dtype != declared.dtype)
    return invalid_model(what + " is declared " + std::string(dtype_name(declared.dtype)) + " but computes " +
                         std::string(dtype_name(inferred.dtype)));
  if (!inferred.shape) return Status::ok();
  if (!declared.shape) {
    declared.shape = inferred.shape;
    return Status::ok();
  }
  Shape& d = *declared.shape;
  const Shape& s = *inferred.shape;
  if (d.rank() != s.rank())
    return invalid_model(what + " is declared with shape " + d.to_string() + " but computes " + s.to_string());
  for (size_t i = 0; i < d.rank(); ++i) {
    if (d[i].is_constant() && s[i].is_constant() && d[i].value() != s[i].value())
      return invalid_model(what + " is declared with shape " + d.to_string() + " but computes " + s.to_string());
    if (!d[i].is_constant() && s[i].is_constant()) d[i] = s[i];
    else if (d[i].is_unknown() && s[i].is_symbolic()) d[i] = s[i];
  }
  return Status::ok();
}

namespace {

Status infer_graph(ir::Graph& g, int& symbols) {
  const auto& registry = OpRegistry::global();
  for (ir::Node* node : g.node_list()) {
    for (ir::Graph* sub : [&] {
           std::vector<ir::Graph*> subs;
           for (const auto& [name, attr] : node->attrs().all()) {
             if (auto* s = std::get_if<std::shared_ptr<ir::Graph>>(&attr)) subs.push_back(s->get());
             if (auto* ss = std::get_if<std::vector<std::shared_ptr<ir::Graph>>>(&attr))
               for (auto& s : *ss) subs.push_back(s.get());
           }
           return subs;
         }())
      KILN_RETURN_IF_ERROR(infer_graph(*sub, symbols));
    auto version = registry.resolve(*node, g.opset(node->domain()));
    if (!version.is_ok()) return version.status();
    const OpSchema* schema = registry.find(node->domain(), node->op_type());
    if (!schema->infer) continue;
    std::vector<const ir::ValueType*> types;
    std::vector<const Tensor*> constants;
    for (ir::Value* v : node->inputs()) {
      types.push_back(v ? &v->type() : nullptr);
      constants.push_back(v && v->is_constant() ? &v->constant() : nullptr);
    }
    InferenceContext ctx(*node, version.value(), std::move(types), std::move(constants), &symbols);
    try {
      schema->infer(ctx);
    } catch (const Error& e) {
      std::string msg = e.what();
      if (msg.find(node->name()) == std::string::npos) msg = node->describe() + ": " + msg;
      return Status(e.code() == StatusCode::kInvalidArgument ? StatusCode::kInvalidModel : e.code(), msg);
    }
    for (size_t i = 0; i < node->num_outputs(); ++i) {
      ir::Value* out = node->output(i);
      if (!out) continue;
      KILN_RETURN_IF_ERROR(merge_types(out->type(), ctx.outputs()[i],
                                       "output '" + out->name() + "' of " + node->describe()));
    }
  }
  return Status::ok();
}

}  // namespace

Status infer_shapes(ir::Graph& graph) {
  int symbols = 0;
  return infer_graph(graph, symbols);
}

}  // namespace kiln::ops
