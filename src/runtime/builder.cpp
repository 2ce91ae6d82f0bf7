#include "runtime/builder.h"

#include <unordered_set>

#include "passes/pass_manager.h"
#include "plan/memory_planner.h"

namespace kiln::runtime {
namespace {

// Every value the engine touches must be a tensor with a static shape.
Status check_static(const ir::Graph& g) {
  std::unordered_set<const ir::Value*> seen;
  auto check = [&](const ir::Value* v, const std::string& where) -> Status {
    if (!v || !seen.insert(v).second) return Status::ok();
    const ir::ValueType& t = v->type();
    if (t.kind != ir::ValueKind::kTensor)
      return unsupported("value '" + v->name() + "' (" + where + ") is " + t.to_string() +
                         "; engines hold tensors only (sequences and optionals are not supported yet)");
    if (!t.has_static_shape())
      return unsupported("dynamic shapes are not supported yet (arrive with optimization profiles): value '" +
                         v->name() + "' (" + where + ") has shape " + t.to_string());
    return Status::ok();
  };
  for (const ir::Value* v : g.inputs()) KILN_RETURN_IF_ERROR(check(v, "a graph input"));
  for (const auto& node : g.nodes()) {
    for (const ir::Value* v : node->inputs()) KILN_RETURN_IF_ERROR(check(v, "read by " + node->describe()));
    for (const ir::Value* v : node->outputs()) KILN_RETURN_IF_ERROR(check(v, "written by " + node->describe()));
  }
  for (const ir::Value* v : g.outputs()) KILN_RETURN_IF_ERROR(check(v, "a graph output"));
  return Status::ok();
}

}  // namespace

Result<plan::EngineDesc> Builder::build_desc(ir::Model& model, const BuilderConfig& config, const TargetInfo& target) {
  if (!model.graph) return invalid_argument("the model has no graph");
  ir::Graph& g = *model.graph;
  auto log = [&](const std::string& m) {
    if (config.verbose && config.log) config.log(m);
  };
  auto progress = [&](const std::string& phase, size_t done, size_t total) {
    if (config.progress) config.progress(phase, done, total);
  };
  plan::EngineDesc desc;
  desc.builder_version = plan::builder_version();
  desc.target = target;
  desc.config = {config.fp16, config.bf16, config.tf32, config.workspace_mib, config.disabled_passes};
  desc.source_node_count = static_cast<int64_t>(g.nodes().size());

  try {
    progress("optimize", 0, 1);
    passes::PassOptions popts;
    popts.disabled = config.disabled_passes;
    popts.log = log;
    KILN_RETURN_IF_ERROR(passes::optimize(g, popts));
    KILN_RETURN_IF_ERROR(g.topological_sort());
    progress("optimize", 1, 1);
    log("optimizer: " + std::to_string(desc.source_node_count) + " nodes -> " + std::to_string(g.nodes().size()) +
        " layers");
    if (config.fp16 || config.bf16 || config.tf32)
      log("precision: flags recorded in the engine; no precision lowering yet on backend '" +
          std::string(backend_name(config.backend)) + "', layers run in their model dtypes");

    KILN_RETURN_IF_ERROR(check_static(g));

    const size_t limit = config.workspace_mib > 0 ? static_cast<size_t>(config.workspace_mib) << 20 : SIZE_MAX;
    const auto& nodes = g.nodes();
    for (size_t i = 0; i < nodes.size(); ++i) {
      const ir::Node& node = *nodes[i];
      progress("lower", i, nodes.size());
      auto candidates = TacticRegistry::global().candidates(config.backend, node);
      if (candidates.empty())
        return unsupported(node.describe() + " (domain '" + node.domain() + "') has no kernel on backend '" +
                           backend_name(config.backend) + "'");
      const Tactic* chosen = nullptr;
      plan::Layer layer;
      for (const Tactic* t : candidates) {
        KernelSpec spec{&node, t->candidate_params(node).front()};
        size_t ws = t->workspace_bytes(spec);
        if (ws > limit) {
          log(node.describe() + ": tactic " + std::string(t->id()) + " needs " + std::to_string(ws >> 20) +
              " MiB of workspace, over the limit");
          continue;
        }
        chosen = t;
        layer = {std::string(t->id()), spec.params, ws};
        break;
      }
      if (!chosen)
        return unsupported(node.describe() + ": every kernel needs more workspace than --workspace allows");
      desc.workspace_bytes = std::max(desc.workspace_bytes, layer.workspace_bytes);
      log("layer " + std::to_string(i) + ": " + node.describe() + " -> " + layer.tactic);
      desc.layers.push_back(std::move(layer));
    }
    progress("lower", nodes.size(), nodes.size());

    progress("plan", 0, 1);
    KILN_ASSIGN_OR_RETURN(desc.memory, plan::plan_memory(g, 256));
    log("memory plan: arena " + std::to_string(desc.memory.arena_bytes) + " bytes for " +
        std::to_string(desc.memory.slots.size()) + " intermediates (naive sum " +
        std::to_string(desc.memory.naive_bytes) + " bytes)");
    KILN_ASSIGN_OR_RETURN(desc.weights, plan::pack_weights(g));
    log("weights: " + std::to_string(desc.weights.bytes) + " bytes");
    progress("plan", 1, 1);
  } catch (const Error& e) {
    return e.to_status();
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "out of host memory while building");
  }
  desc.graph = model.graph;
  return desc;
}

Result<std::shared_ptr<Engine>> Builder::build(ir::Model& model, const BuilderConfig& config,
                                               std::shared_ptr<Device> device) {
  if (!device) {
    KILN_ASSIGN_OR_RETURN(device, make_device(config.backend));
  }
  if (device->backend() != config.backend) return invalid_argument("the device is not of the configured backend");
  KILN_ASSIGN_OR_RETURN(plan::EngineDesc desc, build_desc(model, config, device->target()));
  if (config.progress) config.progress("prepare", 0, 1);
  auto engine = Engine::create(std::move(desc), device);
  if (config.progress) config.progress("prepare", 1, 1);
  return engine;
}

}  // namespace kiln::runtime
