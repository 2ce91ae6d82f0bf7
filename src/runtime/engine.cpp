#include "runtime/engine.h"

#include <chrono>
#include <functional>
#include <unordered_map>

#include "plan/views.h"
#include "runtime/execution_context.h"
#include "runtime/io_format.h"

namespace kiln::runtime {
namespace {

Result<Backend> backend_from_name(const std::string& name) {
  if (name == "cpu") return Backend::kCpu;
  if (name == "cuda") return Backend::kCuda;
  return invalid_argument("the engine is for unknown backend '" + name + "'");
}

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

Result<std::shared_ptr<Engine>> load_from(const plan::EngineBytes& bytes, std::shared_ptr<Device> device,
                                          LoadProfile* profile) {
  // Pick the device from the engine's target, then check the target against that device.
  plan::ReadTimings timings;
  KILN_ASSIGN_OR_RETURN(plan::EngineDesc desc, plan::read_engine_any_target(bytes, profile ? &timings : nullptr));
  if (profile) {
    profile->file_bytes = bytes.size;
    profile->checksum_ms = timings.checksum_ms;
    profile->verify_ms = timings.verify_ms;
    profile->parse_ms = timings.parse_ms;
  }
  if (!device) {
    auto t = Clock::now();
    KILN_ASSIGN_OR_RETURN(Backend b, backend_from_name(desc.target.backend));
    KILN_ASSIGN_OR_RETURN(device, make_device(b));
    if (profile) profile->device_ms = ms_since(t);
  }
  std::string diff = plan::target_mismatch(desc.target, device->target());
  if (!diff.empty())
    return invalid_argument("the engine was built for another target (" + diff + "); rebuild it on this machine");
  return Engine::create(std::move(desc), device, profile);
}

}  // namespace

Result<std::shared_ptr<Engine>> Engine::load(const std::string& path, std::shared_ptr<Device> device,
                                             LoadProfile* profile) {
  auto start = Clock::now();
  KILN_ASSIGN_OR_RETURN(plan::EngineBytes bytes, plan::map_engine_file(path));
  if (profile) profile->read_ms = ms_since(start);
  auto engine = load_from(bytes, std::move(device), profile);
  if (!engine.is_ok()) return engine.status().with_context("loading '" + path + "'");
  engine.value()->load_ms_ = ms_since(start);
  if (profile) profile->total_ms = engine.value()->load_ms_;
  return engine;
}

Result<std::shared_ptr<Engine>> Engine::load(std::vector<uint8_t> bytes, std::shared_ptr<Device> device,
                                             LoadProfile* profile) {
  auto start = Clock::now();
  plan::EngineBytes aligned = plan::engine_bytes(std::move(bytes));
  if (profile) profile->read_ms = ms_since(start);
  auto engine = load_from(aligned, std::move(device), profile);
  if (engine.is_ok()) {
    engine.value()->load_ms_ = ms_since(start);
    if (profile) profile->total_ms = engine.value()->load_ms_;
  }
  return engine;
}

Result<std::shared_ptr<Engine>> Engine::create(plan::EngineDesc desc, std::shared_ptr<Device> device,
                                               LoadProfile* profile) {
  if (!device) return invalid_argument("no device given");
  std::shared_ptr<Engine> e(new Engine());
  e->desc_ = std::move(desc);
  e->device_ = std::move(device);
  try {
    KILN_RETURN_IF_ERROR(e->prepare(profile));
  } catch (const Error& err) {
    return err.to_status();
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "out of host memory while preparing the engine");
  }
  return e;
}

Status Engine::prepare(LoadProfile* profile) {
  if (!desc_.graph) return internal_error("engine without a graph");
  const ir::Graph& g = *desc_.graph;
  if (desc_.layers.size() != g.nodes().size()) return internal_error("engine layers do not match its nodes");

  // Weights: in place on the CPU, one device allocation elsewhere.
  auto weights_start = Clock::now();
  if (device_->backend() == Backend::kCpu) {
    weights_ = desc_.weights.data.get();
  } else if (desc_.weights.bytes) {
    KILN_ASSIGN_OR_RETURN(weights_buffer_, DeviceBuffer::allocate(device_, desc_.weights.bytes));
    KILN_RETURN_IF_ERROR(
        device_->copy_host_to_device(weights_buffer_.data(), desc_.weights.data.get(), desc_.weights.bytes, nullptr));
    KILN_RETURN_IF_ERROR(device_->synchronize(nullptr));
    weights_ = static_cast<const uint8_t*>(weights_buffer_.data());
  }
  if (profile) {
    profile->weights_bytes = desc_.weights.bytes;
    profile->weights_ms = ms_since(weights_start);
    profile->layers.clear();
    profile->kernels_ms = 0;
  }

  std::unordered_map<const ir::Value*, int> ids;
  std::function<Result<int>(const ir::Value*)> slot_of = [&](const ir::Value* v) -> Result<int> {
    auto it = ids.find(v);
    if (it != ids.end()) return it->second;
    Slot s;
    s.dtype = v->type().dtype;
    s.dims = v->type().shape->static_dims();
    s.layout = v->type().layout;
    if (auto a = desc_.memory.aliases.find(v); a != desc_.memory.aliases.end()) {
      // The root's slot first, so that enqueue resolves slots in order. Roots are no aliases.
      if (desc_.memory.aliases.count(a->second)) return internal_error("'" + v->name() + "' aliases an alias");
      KILN_ASSIGN_OR_RETURN(int root, slot_of(a->second));
      s.where = Where::kAlias;
      s.offset = static_cast<size_t>(root);
    } else if (v->is_constant()) {
      auto w = desc_.weights.offsets.find(v);
      if (w == desc_.weights.offsets.end()) return internal_error("constant '" + v->name() + "' has no weights");
      s.where = Where::kWeights;
      s.offset = w->second;
    } else if (const plan::ValueSlot* a = desc_.memory.find(v)) {
      s.where = Where::kArena;
      s.offset = a->offset;
    } else {
      bool found = false;
      for (size_t k = 0; k < g.inputs().size() && !found; ++k)
        if (g.inputs()[k] == v) s = {Where::kInput, k, s.dtype, s.dims, s.layout}, found = true;
      for (size_t k = 0; k < g.outputs().size() && !found; ++k)
        if (g.outputs()[k] == v) s = {Where::kOutput, k, s.dtype, s.dims, s.layout}, found = true;
      if (!found) return internal_error("value '" + v->name() + "' has no storage in the engine");
    }
    int id = static_cast<int>(slots_.size());
    slots_.push_back(std::move(s));
    ids[v] = id;
    return id;
  };

  for (const ir::Value* v : g.inputs()) {
    KILN_ASSIGN_OR_RETURN(int id, slot_of(v));
    (void)id;
    inputs_.push_back(input_binding(*v, desc_.config.input_layout));
  }
  for (const ir::Value* v : g.outputs()) {
    KILN_ASSIGN_OR_RETURN(int id, slot_of(v));
    output_slots_.push_back(id);
    outputs_.push_back({v->name(), v->type().dtype, v->type().shape->static_dims(), 0});
  }
  for (auto* list : {&inputs_, &outputs_})
    for (BindingInfo& b : *list)
      b.nbytes = static_cast<size_t>(checked_element_count(b.dims).value_or(0)) * dtype_size(b.dtype);

  const Backend backend = device_->backend();
  // The engine's target (checked against the device when the file was read), for the tactics'
  // supports() and create() below.
  ScopedTargetCapability target_capability(desc_.target.compute_major, desc_.target.compute_minor);
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const ir::Node& node = *g.nodes()[i];
    const plan::Layer& layer = desc_.layers[i];
    if (layer.tactic == plan::kAliasTactic) {
      // A view: no kernel, its output is its input's bytes (the plan made it an alias).
      if (!plan::is_view_node(node) || desc_.memory.root_of(node.output(0)) == node.output(0) ||
          desc_.memory.root_of(node.output(0)) != desc_.memory.root_of(node.input(0)))
        return invalid_argument(node.describe() + " is an alias layer but not a view of its input");
      for (const ir::Value* v : {node.input(0), node.output(0)}) {
        KILN_ASSIGN_OR_RETURN(int id, slot_of(v));
        (void)id;
      }
      view_layers_.push_back(i);
      continue;
    }
    const Tactic* tactic = TacticRegistry::global().find(layer.tactic);
    if (!tactic)
      return unsupported(node.describe() + " uses kernel '" + layer.tactic + "', which this Kiln does not have");
    if (tactic->backend() != backend || !tactic->supports(node))
      return invalid_argument(node.describe() + ": kernel '" + layer.tactic + "' cannot run it on backend '" +
                              backend_name(backend) + "'");
    auto layer_start = Clock::now();
    const bool had_state = !layer.kernel_state.empty();
    KernelSpec spec{&node, layer.params, &layer.kernel_state};
    auto kernel = tactic->create(spec);
    if (!kernel.is_ok()) return kernel.status().with_context("preparing " + node.describe());
    // A freshly built engine keeps its kernels' prepared state for the engine file.
    if (!had_state) desc_.layers[i].kernel_state = kernel.value()->serialize();
    if (profile) {
      // Count work a kernel queued while being created (uploads) in its own time.
      KILN_RETURN_IF_ERROR(device_->synchronize(nullptr));
      LayerLoadTime t;
      t.layer = i;
      t.tactic = layer.tactic;
      t.ms = ms_since(layer_start);
      t.state = !had_state                              ? LayerLoadTime::State::kNone
                : kernel.value()->restored_from_state() ? LayerLoadTime::State::kRestored
                                                        : LayerLoadTime::State::kRebuilt;
      profile->kernels_ms += t.ms;
      profile->layers.push_back(std::move(t));
    }
    LayerRun run;
    run.kernel = kernel.value().get();
    kernels_.push_back(std::move(kernel).value());
    for (const ir::Value* v : node.inputs()) {
      int id = -1;
      if (v) {
        KILN_ASSIGN_OR_RETURN(id, slot_of(v));
      }
      run.inputs.push_back(id);
    }
    for (const ir::Value* v : node.outputs()) {
      int id = -1;
      if (v) {
        KILN_ASSIGN_OR_RETURN(id, slot_of(v));
      }
      run.outputs.push_back(id);
    }
    layers_.push_back(std::move(run));
    layer_index_.push_back(i);
  }
  return Status::ok();
}

Result<std::vector<uint8_t>> Engine::serialize() const { return plan::write_engine(desc_); }

Status Engine::save(const std::string& path) const { return plan::write_engine_file(desc_, path); }

Result<std::unique_ptr<ExecutionContext>> Engine::create_context(ContextProfile* profile) const {
  auto start = Clock::now(), step = start;
  // Profiling: wait for the device, then the time since the previous step.
  auto lap = [&](double ContextProfile::*field) -> Status {
    if (!profile) return Status::ok();
    KILN_RETURN_IF_ERROR(device_->synchronize(nullptr));
    profile->*field = ms_since(step);
    step = Clock::now();
    return Status::ok();
  };
  std::unique_ptr<ExecutionContext> ctx(new ExecutionContext(shared_from_this()));
  if (desc_.memory.arena_bytes) {
    KILN_ASSIGN_OR_RETURN(ctx->arena_, DeviceBuffer::allocate(device_, desc_.memory.arena_bytes));
  }
  KILN_RETURN_IF_ERROR(lap(&ContextProfile::arena_ms));
  if (desc_.workspace_bytes) {
    KILN_ASSIGN_OR_RETURN(ctx->workspace_, DeviceBuffer::allocate(device_, desc_.workspace_bytes));
  }
  KILN_RETURN_IF_ERROR(lap(&ContextProfile::workspace_ms));
  KILN_ASSIGN_OR_RETURN(ctx->stream_, device_->create_stream());
  KILN_RETURN_IF_ERROR(lap(&ContextProfile::stream_ms));
  KILN_ASSIGN_OR_RETURN(ctx->backend_state_, device_->create_backend_state(ctx->stream_));
  KILN_RETURN_IF_ERROR(lap(&ContextProfile::backend_state_ms));
  ctx->ptrs_.resize(slots_.size());
  if (profile) {
    profile->arena_bytes = ctx->arena_.size();
    profile->workspace_bytes = ctx->workspace_.size();
    profile->total_ms = ms_since(start);
  }
  return ctx;
}

}  // namespace kiln::runtime
