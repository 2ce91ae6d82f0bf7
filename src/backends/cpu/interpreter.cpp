#include "backends/cpu/interpreter.h"

#include <new>

#include "ops/registry.h"

namespace kiln::cpu {

struct Interpreter::Scope {
  const Scope* parent = nullptr;
  std::unordered_map<const ir::Value*, RuntimeValue> values;

  const RuntimeValue* find(const ir::Value* v) const {
    for (const Scope* s = this; s; s = s->parent) {
      auto it = s->values.find(v);
      if (it != s->values.end()) return &it->second;
    }
    return nullptr;
  }
};

Result<std::unique_ptr<Interpreter>> Interpreter::create(std::shared_ptr<const ir::Graph> graph) {
  std::unique_ptr<Interpreter> interp(new Interpreter(std::move(graph)));
  KILN_RETURN_IF_ERROR(interp->resolve_versions(*interp->graph_));
  return interp;
}

Status Interpreter::resolve_versions(const ir::Graph& g) {
  const auto& registry = ops::OpRegistry::global();
  for (const auto& node : g.nodes()) {
    auto version = registry.resolve(*node, g.opset(node->domain()));
    if (!version.is_ok()) return version.status();
    const ops::OpSchema* schema = registry.find(node->domain(), node->op_type());
    if (!schema->cpu)
      return unsupported(node->describe() + " has no CPU reference kernel");
    versions_[node.get()] = version.value();
    for (const auto& [name, attr] : node->attrs().all()) {
      if (auto* sub = std::get_if<std::shared_ptr<ir::Graph>>(&attr))
        KILN_RETURN_IF_ERROR(resolve_versions(**sub));
      if (auto* subs = std::get_if<std::vector<std::shared_ptr<ir::Graph>>>(&attr))
        for (const auto& s : *subs) KILN_RETURN_IF_ERROR(resolve_versions(*s));
    }
  }
  return Status::ok();
}

Status check_input(const ir::Value& declared, const RuntimeValue& given,
                   std::map<std::string, int64_t>& symbols) {
  const ir::ValueType& type = declared.type();
  const std::string who = "input '" + declared.name() + "'";
  bool optional = type.kind == ir::ValueKind::kOptionalTensor || type.kind == ir::ValueKind::kOptionalSequence;
  if (given.is_none()) {
    if (optional) return Status::ok();
    return invalid_argument(who + " is missing");
  }
  bool want_seq = type.kind == ir::ValueKind::kSequence || type.kind == ir::ValueKind::kOptionalSequence;
  if (want_seq != given.is_sequence())
    return invalid_argument(who + " must be a " + (want_seq ? "sequence" : "tensor"));
  if (given.is_sequence()) return Status::ok();
  const Tensor& t = given.tensor();
  if (type.dtype != DataType::kUndefined && t.dtype() != type.dtype)
    return invalid_argument(who + " has dtype " + std::string(dtype_name(t.dtype())) + ", the model expects " +
                            std::string(dtype_name(type.dtype)));
  if (!type.shape) return Status::ok();
  const Shape& s = *type.shape;
  auto mismatch = [&] {
    return invalid_argument(who + " has shape " + dims_to_string(t.dims()) + ", the model expects " + s.to_string());
  };
  if (s.rank() != t.rank()) return mismatch();
  for (size_t i = 0; i < s.rank(); ++i) {
    const Dim& d = s[i];
    if (d.is_constant() && d.value() != t.dim(i)) return mismatch();
    if (d.is_symbolic()) {
      auto [it, inserted] = symbols.emplace(d.symbol_name(), t.dim(i));
      if (!inserted && it->second != t.dim(i))
        return invalid_argument(who + " has " + std::to_string(t.dim(i)) + " for dim '" + d.symbol_name() +
                                "', which another input set to " + std::to_string(it->second));
    }
  }
  return Status::ok();
}

std::vector<RuntimeValue> Interpreter::run_graph(const ir::Graph& g, const Scope* parent,
                                                 const std::vector<RuntimeValue>& inputs) const {
  Scope scope;
  scope.parent = parent;
  if (inputs.size() > g.inputs().size())
    throw_error(StatusCode::kInvalidArgument, "graph '" + g.name() + "' takes " + std::to_string(g.inputs().size()) +
                                                  " inputs, got " + std::to_string(inputs.size()));
  for (size_t i = 0; i < g.inputs().size(); ++i)
    scope.values[g.inputs()[i]] = i < inputs.size() ? inputs[i] : RuntimeValue();

  // Last top-level reader of each value, so intermediates are freed as soon as possible.
  std::unordered_map<const ir::Value*, size_t> last_use;
  const auto& nodes = g.nodes();
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const ir::Value* v : nodes[i]->inputs())
      if (v) last_use[v] = i;
  // Subgraphs may read any outer value at any time: keep everything alive then.
  bool has_subgraphs = !g.subgraphs().empty();

  auto value_of = [&](const ir::Value* v) -> const RuntimeValue* {
    if (const RuntimeValue* r = scope.find(v)) return r;
    if (v->is_constant()) {
      scope.values[v] = RuntimeValue(v->constant());
      return &scope.values[v];
    }
    return nullptr;
  };

  ops::SubgraphRunner runner = [&](const ir::Graph& body, const std::vector<RuntimeValue>& in) {
    return run_graph(body, &scope, in);
  };

  for (size_t i = 0; i < nodes.size(); ++i) {
    const ir::Node& node = *nodes[i];
    std::vector<const RuntimeValue*> node_inputs;
    for (const ir::Value* v : node.inputs()) {
      if (!v) {
        node_inputs.push_back(nullptr);
        continue;
      }
      const RuntimeValue* r = value_of(v);
      if (!r) throw_error(StatusCode::kInvalidModel, node.describe() + " reads '" + v->name() + "', which has no value");
      node_inputs.push_back(r);
    }
    const ops::OpSchema* schema = ops::OpRegistry::global().find(node.domain(), node.op_type());
    ops::KernelContext ctx(node, versions_.at(&node), std::move(node_inputs), runner);
    try {
      schema->cpu(ctx);
    } catch (const Error& e) {
      throw Error(e.code(), node.describe() + ": " + e.what());
    } catch (const std::bad_alloc&) {
      throw Error(StatusCode::kOutOfMemory, node.describe() + ": out of host memory");
    }
    for (size_t o = 0; o < node.num_outputs(); ++o) {
      const ir::Value* out = node.output(o);
      if (!out) continue;
      scope.values[out] = std::move(ctx.outputs()[o]);
    }
    if (!has_subgraphs)
      for (const ir::Value* v : node.inputs())
        if (v && last_use[v] == i && v->owner() == &g && !v->is_constant()) {
          bool is_output = false;
          for (const ir::Value* go : g.outputs()) is_output |= go == v;
          if (!is_output) scope.values.erase(v);
        }
  }
  std::vector<RuntimeValue> outputs;
  for (const ir::Value* v : g.outputs()) {
    const RuntimeValue* r = value_of(v);
    if (!r) throw_error(StatusCode::kInvalidModel, "graph output '" + v->name() + "' has no value");
    outputs.push_back(*r);
  }
  return outputs;
}

Result<std::vector<RuntimeValue>> Interpreter::run(const std::vector<RuntimeValue>& inputs) const {
  const auto& declared = graph_->inputs();
  if (inputs.size() != declared.size())
    return invalid_argument("the model takes " + std::to_string(declared.size()) + " inputs, got " +
                            std::to_string(inputs.size()));
  std::map<std::string, int64_t> symbols;
  for (size_t i = 0; i < inputs.size(); ++i) KILN_RETURN_IF_ERROR(check_input(*declared[i], inputs[i], symbols));
  try {
    return run_graph(*graph_, nullptr, inputs);
  } catch (const Error& e) {
    return e.to_status();
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "out of host memory");
  } catch (const std::exception& e) {
    return internal_error(e.what());
  }
}

Result<std::vector<RuntimeValue>> Interpreter::run(const std::map<std::string, RuntimeValue>& inputs) const {
  std::vector<RuntimeValue> ordered;
  for (const ir::Value* v : graph_->inputs()) {
    auto it = inputs.find(v->name());
    if (it == inputs.end()) {
      bool optional = v->type().kind == ir::ValueKind::kOptionalTensor ||
                      v->type().kind == ir::ValueKind::kOptionalSequence;
      if (!optional) return invalid_argument("input '" + v->name() + "' is missing");
      ordered.emplace_back();
      continue;
    }
    ordered.push_back(it->second);
  }
  for (const auto& [name, value] : inputs) {
    bool known = false;
    for (const ir::Value* v : graph_->inputs()) known |= v->name() == name;
    if (!known) return invalid_argument("the model has no input named '" + name + "'");
  }
  return run(ordered);
}

}  // namespace kiln::cpu
