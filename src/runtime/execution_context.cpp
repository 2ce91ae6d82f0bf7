#include "runtime/execution_context.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "runtime/cpu_fallback.h"
#include "runtime/io_format.h"

namespace kiln::runtime {

ExecutionContext::ExecutionContext(std::shared_ptr<const Engine> engine) : engine_(std::move(engine)) {
  const Device& d = engine_->device();
  // Layers on the CPU synchronize the stream mid-call, which a capture does not allow.
  graphs_possible_ = d.backend() == Backend::kCuda && d.supports_graphs() && cpu_fallback_layers(engine_->desc()) == 0;
  stage_through_host_ = d.backend() != Backend::kCpu;
}

ExecutionContext::~ExecutionContext() {
  if (!engine_) return;
  Device& d = engine_->device();
  if (stream_) (void)d.synchronize(stream_);
  destroy_graphs();  // before the arena, workspace and handles the graphs refer to
  if (backend_state_) d.destroy_backend_state(backend_state_);
  if (stream_) d.destroy_stream(stream_);
}

Status ExecutionContext::enqueue(const std::vector<TensorRef>& inputs, const std::vector<TensorRef>& outputs,
                                 Stream stream) {
  const Engine& e = *engine_;
  auto check = [](const char* kind, const BindingInfo& b, const TensorRef& r) -> Status {
    if (r.dtype != b.dtype || r.dims != b.dims)
      return invalid_argument(std::string(kind) + " '" + b.name + "' is " + std::string(dtype_name(r.dtype)) +
                              dims_to_string(r.dims) + ", the engine expects " + binding_type(b));
    if (!r.data && b.nbytes) return invalid_argument(std::string(kind) + " '" + b.name + "' has no data");
    return Status::ok();
  };
  if (inputs.size() != e.inputs_.size() || outputs.size() != e.outputs_.size())
    return invalid_argument("the engine takes " + std::to_string(e.inputs_.size()) + " inputs and " +
                            std::to_string(e.outputs_.size()) + " outputs, got " + std::to_string(inputs.size()) +
                            " and " + std::to_string(outputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) KILN_RETURN_IF_ERROR(check("input", e.inputs_[i], inputs[i]));
  for (size_t i = 0; i < outputs.size(); ++i) KILN_RETURN_IF_ERROR(check("output", e.outputs_[i], outputs[i]));

  ++calls_;
  last_launch_ = Launch::kPlain;
  Device& d = e.device();
  if (!graphs_on_ || !graphs_possible_ || !graph_error_.empty() || hook_ || !d.can_capture(stream))
    return launch_layers(inputs, outputs, stream);

  std::vector<void*> key;
  key.reserve(inputs.size() + outputs.size());
  for (const TensorRef& r : inputs) key.push_back(r.data);
  for (const TensorRef& r : outputs) key.push_back(r.data);

  for (Graph& g : graphs_) {
    if (g.pointers != key) continue;
    g.last_used = calls_;
    Status st = d.launch_graph(g.exec, stream);
    if (st.is_ok()) {
      last_launch_ = Launch::kReplayed;
      return st;
    }
    give_up_graphs(st);
    return launch_layers(inputs, outputs, stream);
  }
  // First call with these pointers: plainly (kernels may do lazy work a capture forbids).
  auto seen = std::find(seen_.begin(), seen_.end(), key);
  if (seen == seen_.end()) {
    seen_.push_back(key);
    if (seen_.size() > 2 * kMaxGraphs) seen_.erase(seen_.begin());
    return launch_layers(inputs, outputs, stream);
  }
  seen_.erase(seen);

  // Second call: capture into a new graph, or into the least recently used one (updated in place).
  Graph* slot = nullptr;
  if (graphs_.size() < kMaxGraphs) {
    graphs_.emplace_back();
    slot = &graphs_.back();
  } else {
    slot = &*std::min_element(graphs_.begin(), graphs_.end(),
                              [](const Graph& a, const Graph& b) { return a.last_used < b.last_used; });
  }
  slot->pointers.clear();  // matches no call until the capture succeeds
  Status st = d.begin_capture(stream);
  if (st.is_ok()) {
    Status launched = launch_layers(inputs, outputs, stream);
    Status ended = d.end_capture(stream, slot->exec);  // ends the capture whatever happened
    st = launched.is_ok() ? ended : launched;
    if (st.is_ok()) {
      slot->pointers = std::move(key);
      slot->last_used = calls_;
      st = d.launch_graph(slot->exec, stream);
      if (st.is_ok()) {
        last_launch_ = Launch::kCaptured;
        return st;
      }
    }
  }
  // Nothing captured ran: the call runs plainly, and so do all later ones.
  give_up_graphs(st);
  return launch_layers(inputs, outputs, stream);
}

Status ExecutionContext::launch_layers(const std::vector<TensorRef>& inputs, const std::vector<TensorRef>& outputs,
                                       Stream stream) {
  const Engine& e = *engine_;
  uint8_t* arena = static_cast<uint8_t*>(arena_.data());
  for (size_t s = 0; s < e.slots_.size(); ++s) {
    const Engine::Slot& slot = e.slots_[s];
    switch (slot.where) {
      case Engine::Where::kArena: ptrs_[s] = arena + slot.offset; break;
      case Engine::Where::kWeights: ptrs_[s] = const_cast<uint8_t*>(e.weights_ + slot.offset); break;
      case Engine::Where::kInput: ptrs_[s] = inputs[slot.offset].data; break;
      case Engine::Where::kOutput: ptrs_[s] = outputs[slot.offset].data; break;
      case Engine::Where::kAlias: ptrs_[s] = ptrs_[slot.offset]; break;  // an earlier slot
    }
  }
  LaunchContext launch{stream, workspace_.data(), workspace_.size(), backend_state_};
  std::vector<TensorRef> ins, outs;
  auto ref = [&](int id) {
    if (id < 0) return TensorRef{};
    const Engine::Slot& s = e.slots_[id];
    return TensorRef{s.dtype, s.dims, s.layout, ptrs_[id]};
  };
  // Views run nothing; a profiler still sees each layer of the engine once.
  if (hook_)
    for (size_t l : e.view_layers_) {
      hook_(l, false, stream);
      hook_(l, true, stream);
    }
  for (size_t k = 0; k < e.layers_.size(); ++k) {
    const Engine::LayerRun& layer = e.layers_[k];
    ins.clear();
    outs.clear();
    for (int id : layer.inputs) ins.push_back(ref(id));
    for (int id : layer.outputs) outs.push_back(ref(id));
    if (hook_) hook_(e.layer_index_[k], false, stream);
    KILN_RETURN_IF_ERROR(layer.kernel->enqueue(ins, outs, launch));
    if (hook_) hook_(e.layer_index_[k], true, stream);
  }
  // Outputs no layer wrote into the caller's buffer (a graph input or constant passed through,
  // or one value bound to several outputs) are copied; stream work, so a graph captures them.
  for (size_t o = 0; o < outputs.size(); ++o) {
    void* src = ptrs_[e.output_slots_[o]];
    if (src != outputs[o].data && e.outputs_[o].nbytes)
      KILN_RETURN_IF_ERROR(e.device().copy_device_to_device(outputs[o].data, src, e.outputs_[o].nbytes, stream));
  }
  return Status::ok();
}

void ExecutionContext::give_up_graphs(const Status& why) {
  graph_error_ = why.to_string();
  if (graph_error_.empty()) graph_error_ = "unknown error";
  destroy_graphs();
  seen_.clear();
  static std::once_flag reported;
  std::call_once(reported, [&] {
    std::fprintf(stderr, "kiln: CUDA-graph capture failed (%s); this context launches layer by layer from now on "
                 "(reported once)\n", graph_error_.c_str());
  });
}

void ExecutionContext::destroy_graphs() {
  for (Graph& g : graphs_) engine_->device().destroy_graph(g.exec);
  graphs_.clear();
}

Status ExecutionContext::prepare_staging() {
  const Engine& e = *engine_;
  if (in_device_.size() == e.inputs_.size() && out_device_.size() == e.outputs_.size()) return Status::ok();
  // All or nothing: a failed allocation leaves the context as it was.
  std::vector<DeviceBuffer> in_device, out_device;
  std::vector<HostBuffer> in_host, out_host;
  for (const BindingInfo& b : e.inputs_) {
    KILN_ASSIGN_OR_RETURN(DeviceBuffer buf, DeviceBuffer::allocate(e.device_ptr(), b.nbytes));
    in_device.push_back(std::move(buf));
    if (stage_through_host_) {
      KILN_ASSIGN_OR_RETURN(HostBuffer host, HostBuffer::allocate(e.device_ptr(), b.nbytes));
      in_host.push_back(std::move(host));
    }
  }
  for (const BindingInfo& b : e.outputs_) {
    KILN_ASSIGN_OR_RETURN(DeviceBuffer buf, DeviceBuffer::allocate(e.device_ptr(), b.nbytes));
    out_device.push_back(std::move(buf));
    if (stage_through_host_) {
      KILN_ASSIGN_OR_RETURN(HostBuffer host, HostBuffer::allocate(e.device_ptr(), b.nbytes));
      out_host.push_back(std::move(host));
    }
  }
  in_device_ = std::move(in_device);
  out_device_ = std::move(out_device);
  in_host_ = std::move(in_host);
  out_host_ = std::move(out_host);
  return Status::ok();
}

Result<std::vector<Tensor>> ExecutionContext::run(const std::map<std::string, Tensor>& host_inputs) {
  const Engine& e = *engine_;
  Device& d = e.device();
  try {
    // Every check before any work, so a bad call leaves nothing in flight.
    for (const auto& [name, t] : host_inputs) {
      bool known = false;
      for (const BindingInfo& b : e.inputs_) known |= b.name == name;
      if (!known) return invalid_argument("the engine has no input named '" + name + "'");
    }
    std::vector<const Tensor*> tensors;
    for (const BindingInfo& b : e.inputs_) {
      auto it = host_inputs.find(b.name);
      if (it == host_inputs.end()) return invalid_argument("input '" + b.name + "' is missing");
      const Tensor& t = it->second;
      if (t.dtype() != b.dtype || t.dims() != b.dims)
        return invalid_argument("input '" + b.name + "' is " + t.describe() + ", the engine expects " +
                                binding_type(b));
      if (b.nbytes && !t.raw()) return invalid_argument("input '" + b.name + "' has no data");
      tensors.push_back(&t);
    }
    KILN_RETURN_IF_ERROR(prepare_staging());

    // Copies may be in flight once the first is enqueued: on an error, wait for them before
    // returning, so the next call can reuse the staging buffers.
    auto stage = [&]() -> Status {
      std::vector<TensorRef> in_refs, out_refs;
      for (size_t i = 0; i < e.inputs_.size(); ++i) {
        const BindingInfo& b = e.inputs_[i];
        void* dev = in_device_[i].data();
        if (b.nbytes) {
          const void* src = tensors[i]->raw();
          if (stage_through_host_) {
            std::memcpy(in_host_[i].data(), src, b.nbytes);
            src = in_host_[i].data();
          }
          KILN_RETURN_IF_ERROR(d.copy_host_to_device(dev, src, b.nbytes, stream_));
        }
        in_refs.push_back({b.dtype, b.dims, ir::Layout::kRowMajor, dev});
      }
      for (size_t o = 0; o < e.outputs_.size(); ++o) {
        const BindingInfo& b = e.outputs_[o];
        out_refs.push_back({b.dtype, b.dims, ir::Layout::kRowMajor, out_device_[o].data()});
      }
      KILN_RETURN_IF_ERROR(enqueue(in_refs, out_refs, stream_));
      if (stage_through_host_)
        for (size_t o = 0; o < e.outputs_.size(); ++o)
          if (e.outputs_[o].nbytes)
            KILN_RETURN_IF_ERROR(
                d.copy_device_to_host(out_host_[o].data(), out_device_[o].data(), e.outputs_[o].nbytes, stream_));
      return d.synchronize(stream_);
    };
    if (Status st = stage(); !st.is_ok()) {
      (void)d.synchronize(stream_);
      return st;
    }
    std::vector<Tensor> results;
    for (size_t o = 0; o < e.outputs_.size(); ++o) {
      const BindingInfo& b = e.outputs_[o];
      Tensor t(b.dtype, b.dims);
      const void* src = stage_through_host_ ? out_host_[o].data() : out_device_[o].data();
      if (b.nbytes && t.raw()) std::memcpy(t.raw(), src, b.nbytes);
      results.push_back(std::move(t));
    }
    return results;
  } catch (const Error& err) {
    return err.to_status();
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "out of host memory");
  }
}

}  // namespace kiln::runtime
