#include "runtime/builder.h"

#include <algorithm>
#include <unordered_set>
#include <set>

#include "ops/shape_inference.h"
#include "passes/channels_last.h"
#include "passes/fp16_overflow.h"
#include "passes/input_layout.h"
#include "passes/pass_manager.h"
#include "passes/precision.h"
#include "plan/memory_planner.h"
#include "plan/views.h"
#include "runtime/cpu_fallback.h"
#include "runtime/io_format.h"

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

// A hint for the commonest reasons no tactic takes a node.
std::string why_unsupported(const ir::Node& node) {
  for (const auto& [name, attr] : node.attrs().all())
    if (std::holds_alternative<std::shared_ptr<ir::Graph>>(attr) ||
        std::holds_alternative<std::vector<std::shared_ptr<ir::Graph>>>(attr))
      return " (control flow with subgraphs is not supported in engines yet)";
  auto odd = [](const ir::Value* v) { return v && v->type().dtype == DataType::kString; };
  for (const ir::Value* v : node.inputs())
    if (odd(v)) return " (string tensors are not supported in engines yet: '" + v->name() + "')";
  for (const ir::Value* v : node.outputs())
    if (odd(v)) return " (string tensors are not supported in engines yet: '" + v->name() + "')";
  return "";
}

// Replaces the named symbolic dims of the graph inputs by values and re-infers every shape.
Status bind_symbolic_dims(ir::Graph& g, const std::map<std::string, int64_t>& dims) {
  for (const auto& [name, value] : dims)
    if (value < 1) return invalid_argument("--shape " + name + "=" + std::to_string(value) + ": dims must be positive");
  std::set<std::string> used;
  for (ir::Value* in : g.inputs()) {
    auto& shape = in->type().shape;
    if (!shape) continue;
    for (size_t i = 0; i < shape->rank(); ++i) {
      const Dim& d = (*shape)[i];
      if (!d.is_symbolic()) continue;
      auto it = dims.find(d.symbol_name());
      if (it == dims.end()) continue;
      used.insert(it->first);
      (*shape)[i] = Dim(it->second);
    }
  }
  for (const auto& [name, value] : dims)
    if (!used.count(name)) return invalid_argument("--shape " + name + ": no model input has a dim named '" + name + "'");
  return ops::infer_shapes(g);
}

// ---- FP16 overflow check (passes/fp16_overflow.h) ----------------------------------------
// The reduced-size probe: `unbound` (a copy made before --shape binding) with every --shape dim
// bound to 1, optimized like the real graph. nullptr (and a log line) when that fails.
std::unique_ptr<ir::Graph> overflow_probe(std::unique_ptr<ir::Graph> unbound, const BuilderConfig& config,
                                          const std::function<void(const std::string&)>& log) {
  std::map<std::string, int64_t> ones;
  for (const auto& [name, value] : config.dims) ones[name] = 1;
  passes::PassOptions popts;
  popts.disabled = config.disabled_passes;
  Status st = bind_symbolic_dims(*unbound, ones);
  if (st.is_ok()) st = passes::optimize(*unbound, popts);
  if (st.is_ok()) st = unbound->topological_sort();
  if (st.is_ok()) return unbound;
  log("fp16 overflow check: the model does not optimize with its --shape dims at 1 (" + st.message() +
      "); checking at the full dims");
  return nullptr;
}

std::set<const ir::Node*> fp16_overflow_check(const ir::Graph& g, std::unique_ptr<ir::Graph> unbound,
                                              const BuilderConfig& config,
                                              const std::function<void(const std::string&)>& log) {
  passes::OverflowCheckOptions o;
  o.sample_inputs = config.sample_inputs;
  // Samples come in the model's form; the graph's rank-4 inputs may be bound channels-last.
  if (config.input_layout == ir::Layout::kNHWC)
    for (auto& [name, value] : o.sample_inputs)
      if (value.is_tensor() && value.tensor().rank() == 4) value = RuntimeValue(nchw_to_nhwc(value.tensor()));
  o.time_budget_s = config.overflow_check_budget_s;
  o.max_gflop = config.overflow_check_max_gflop;
  o.log = log;
  o.warn = [&config](const std::string& m) {
    if (config.warn) config.warn(m);
    else if (config.log) config.log("warning: " + m);
  };
  // The real graph when it is cheap enough, else the probe.
  std::unique_ptr<ir::Graph> probe;
  if (unbound && passes::estimate_gflop(g) > o.max_gflop) probe = overflow_probe(std::move(unbound), config, log);
  passes::OverflowCheckResult r = passes::check_fp16_overflow(g, probe.get(), o);
  if (config.report) {
    config.report->float32_layers = static_cast<int64_t>(r.keep.size());
    config.report->overflow_check = r.summary;
  }
  return std::move(r.keep);
}

// ---- CPU fallback (runtime/cpu_fallback.h) -----------------------------------------------
Status mark_cpu_fallback_nodes(ir::Graph& g, const BuilderConfig& config,
                               const std::function<bool(const ir::Node&)>& has_kernel,
                               const std::function<void(const std::string&)>& log) {
  for (const auto& n : g.nodes()) {
    if (has_kernel(*n)) continue;
    if (!cpu_reference_supports(*n)) break;  // the lowering loop reports it
    if (!config.allow_cpu_fallback)
      return unsupported(n->describe() + " (domain '" + n->domain() + "') has no kernel on backend '" +
                         backend_name(config.backend) + "'; --allow-cpu-fallback runs it on the CPU inside the engine");
    mark_cpu_fallback(*n);
    std::string m = n->describe() + " has no CUDA kernel: it runs on the CPU reference (--allow-cpu-fallback)";
    if (config.warn) config.warn(m);
    else log("warning: " + m);
    if (config.report) ++config.report->cpu_fallback_layers;
  }
  return Status::ok();
}

// --io-dtype must name the build's reduced precision (or float32, the default).
Status check_io_formats(const BuilderConfig& config) {
  const DataType io = config.io_dtype;
  if (io == DataType::kFloat16 && !config.fp16)
    return invalid_argument("--io-dtype float16 needs --fp16: the I/O dtype must be the engine's precision");
  if (io == DataType::kBFloat16 && !config.bf16)
    return invalid_argument("--io-dtype bfloat16 needs --bf16: the I/O dtype must be the engine's precision");
  if (io != DataType::kFloat32 && io != DataType::kFloat16 && io != DataType::kBFloat16)
    return invalid_argument("--io-dtype takes float32, float16 or bfloat16, not " + std::string(dtype_name(io)));
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
  if (config.report) *config.report = {};
  plan::EngineDesc desc;
  desc.builder_version = plan::builder_version();
  desc.target = target;
  // Tactics tied to one architecture (tactic.h) decide for the target, not for this machine's GPU.
  ScopedTargetCapability target_capability(target.compute_major, target.compute_minor);
  desc.config = {config.fp16,           config.bf16,     config.tf32,         config.workspace_mib,
                 config.disabled_passes, config.io_dtype, config.input_layout};
  desc.source_node_count = static_cast<int64_t>(g.nodes().size());
  KILN_RETURN_IF_ERROR(check_io_formats(config));

  try {
    if (config.input_layout == ir::Layout::kNHWC) KILN_RETURN_IF_ERROR(passes::bind_inputs_channels_last(g, log).status());
    // FP16 overflow check: a copy before --shape binding, for its reduced-size probe.
    const bool overflow_check = config.fp16 && !config.bf16 && config.overflow_check;
    std::unique_ptr<ir::Graph> unbound;
    if (overflow_check && !config.dims.empty() && config.sample_inputs.empty() && g.subgraphs().empty())
      unbound = passes::clone_graph(g);
    if (!config.dims.empty()) KILN_RETURN_IF_ERROR(bind_symbolic_dims(g, config.dims));
    progress("optimize", 0, 1);
    passes::PassOptions popts;
    popts.disabled = config.disabled_passes;
    popts.log = log;
    KILN_RETURN_IF_ERROR(passes::optimize(g, popts));
    KILN_RETURN_IF_ERROR(g.topological_sort());
    progress("optimize", 1, 1);
    log("optimizer: " + std::to_string(desc.source_node_count) + " nodes -> " + std::to_string(g.nodes().size()) +
        " layers");
    if (config.fp16 && config.bf16) return invalid_argument("--fp16 and --bf16 exclude each other");
    if (config.fp16 || config.bf16) {
      std::set<const ir::Node*> float32_nodes;
      if (overflow_check) {
        progress("overflow", 0, 1);
        float32_nodes = fp16_overflow_check(g, std::move(unbound), config, log);
        progress("overflow", 1, 1);
      }
      progress("precision", 0, 1);
      KILN_RETURN_IF_ERROR(passes::lower_precision(g, config.fp16 ? DataType::kFloat16 : DataType::kBFloat16, log,
                                                   float32_nodes, config.io_dtype != DataType::kFloat32));
      progress("precision", 1, 1);
    }

    KILN_RETURN_IF_ERROR(check_static(g));

    // The registry's candidates for a node, less the tactics the user disabled.
    auto usable_tactics = [&](const ir::Node& n) {
      auto c = TacticRegistry::global().candidates(config.backend, n);
      const auto& off = config.disabled_tactics;
      c.erase(std::remove_if(c.begin(), c.end(),
                             [&](const Tactic* t) { return std::find(off.begin(), off.end(), t->id()) != off.end(); }),
              c.end());
      return c;
    };
    for (const std::string& id : config.disabled_tactics)
      if (!TacticRegistry::global().find(id)) return invalid_argument("--disable-tactic " + id + ": no such tactic");

    // Channels-last where the tensor cores want it (reduced precision or TF32), unless disabled.
    bool channels_last = config.backend == Backend::kCuda && (config.fp16 || config.bf16 || config.tf32) &&
                         std::find(config.disabled_passes.begin(), config.disabled_passes.end(),
                                   passes::kChannelsLastPass) == config.disabled_passes.end();
    if (channels_last) {
      progress("layout", 0, 1);
      auto supported = [&](const ir::Node& n) { return !usable_tactics(n).empty(); };
      KILN_RETURN_IF_ERROR(passes::assign_channels_last(g, supported, log).status());
      progress("layout", 1, 1);
    }

    // Views (plan/views.h): a row-major Reshape/Squeeze/Unsqueeze/Flatten/Identity's output is
    // its input's bytes, so it runs no kernel and the memory plan makes it an alias. A graph
    // output keeps its copy kernel: it must land in the caller's buffer.
    std::unordered_set<const ir::Node*> views;
    if (std::find(config.disabled_passes.begin(), config.disabled_passes.end(), plan::kViewAliasPass) ==
        config.disabled_passes.end()) {
      std::unordered_set<const ir::Value*> graph_outputs(g.outputs().begin(), g.outputs().end());
      for (const auto& n : g.nodes())
        if (plan::is_view_node(*n) && !graph_outputs.count(n->output(0))) views.insert(n.get());
      if (!views.empty())
        log("views: " + std::to_string(views.size()) + " layers alias their input's bytes (no kernel)");
    }
    auto is_view = [&](const ir::Node& n) { return views.count(&n) > 0; };

    // CPU fallback (runtime/cpu_fallback.h): nodes without a CUDA kernel that the CPU reference
    // runs are marked for the fallback tactic, or named with a hint when it is not allowed.
    if (config.backend == Backend::kCuda)
      KILN_RETURN_IF_ERROR(mark_cpu_fallback_nodes(
          g, config, [&](const ir::Node& n) { return is_view(n) || !usable_tactics(n).empty(); }, log));

    const size_t limit = config.workspace_mib > 0 ? static_cast<size_t>(config.workspace_mib) << 20 : SIZE_MAX;
    const auto& nodes = g.nodes();
    for (size_t i = 0; i < nodes.size(); ++i) {
      const ir::Node& node = *nodes[i];
      progress("lower", i, nodes.size());
      if (is_view(node)) {
        desc.layers.push_back({plan::kAliasTactic, "", 0, {}});
        log("layer " + std::to_string(i) + ": " + node.describe() + " -> " + plan::kAliasTactic);
        continue;
      }
      auto candidates = usable_tactics(node);
      if (candidates.empty())
        return unsupported(node.describe() + " (domain '" + node.domain() + "') has no kernel on backend '" +
                           backend_name(config.backend) + "'" + why_unsupported(node));
      const Tactic* chosen = nullptr;
      plan::Layer layer;
      for (const Tactic* t : candidates) {
        // Until the tuner times them, the first parameter set, or TF32 where allowed.
        auto params = t->candidate_params(node);
        std::string chosen_params = params.front();
        if (config.tf32)
          for (const auto& p : params)
            if (p == "tf32") chosen_params = p;
        KernelSpec spec{&node, chosen_params};
        size_t ws = t->workspace_bytes(spec);
        if (ws > limit) {
          log(node.describe() + ": tactic " + std::string(t->id()) + " needs " + std::to_string(ws >> 20) +
              " MiB of workspace, over the limit");
          continue;
        }
        chosen = t;
        layer = {std::string(t->id()), spec.params, ws, {}};
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
    KILN_ASSIGN_OR_RETURN(desc.memory, plan::plan_memory(g, 256, nullptr, is_view));
    log("memory plan: arena " + std::to_string(desc.memory.arena_bytes) + " bytes for " +
        std::to_string(desc.memory.slots.size()) + " intermediates and " +
        std::to_string(desc.memory.aliases.size()) + " aliases (naive sum " +
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
