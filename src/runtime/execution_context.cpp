#include "runtime/execution_context.h"

#include <cstring>

namespace kiln::runtime {

ExecutionContext::~ExecutionContext() {
  if (!engine_) return;
  Device& d = engine_->device();
  if (stream_) (void)d.synchronize(stream_);
  if (backend_state_) d.destroy_backend_state(backend_state_);
  if (stream_) d.destroy_stream(stream_);
}

Status ExecutionContext::enqueue(const std::vector<TensorRef>& inputs, const std::vector<TensorRef>& outputs,
                                 Stream stream) {
  const Engine& e = *engine_;
  auto check = [](const char* kind, const BindingInfo& b, const TensorRef& r) -> Status {
    if (r.dtype != b.dtype || r.dims != b.dims)
      return invalid_argument(std::string(kind) + " '" + b.name + "' is " + std::string(dtype_name(r.dtype)) +
                              dims_to_string(r.dims) + ", the engine expects " + std::string(dtype_name(b.dtype)) +
                              dims_to_string(b.dims));
    if (!r.data && b.nbytes) return invalid_argument(std::string(kind) + " '" + b.name + "' has no data");
    return Status::ok();
  };
  if (inputs.size() != e.inputs_.size() || outputs.size() != e.outputs_.size())
    return invalid_argument("the engine takes " + std::to_string(e.inputs_.size()) + " inputs and " +
                            std::to_string(e.outputs_.size()) + " outputs, got " + std::to_string(inputs.size()) +
                            " and " + std::to_string(outputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) KILN_RETURN_IF_ERROR(check("input", e.inputs_[i], inputs[i]));
  for (size_t i = 0; i < outputs.size(); ++i) KILN_RETURN_IF_ERROR(check("output", e.outputs_[i], outputs[i]));

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
  // or one value bound to several outputs) are copied.
  for (size_t o = 0; o < outputs.size(); ++o) {
    void* src = ptrs_[e.output_slots_[o]];
    if (src != outputs[o].data && e.outputs_[o].nbytes)
      KILN_RETURN_IF_ERROR(engine_->device().copy_device_to_device(outputs[o].data, src, e.outputs_[o].nbytes, stream));
  }
  return Status::ok();
}

Result<std::vector<Tensor>> ExecutionContext::run(const std::map<std::string, Tensor>& host_inputs) {
  const Engine& e = *engine_;
  Device& d = e.device();
  try {
    for (const auto& [name, t] : host_inputs) {
      bool known = false;
      for (const BindingInfo& b : e.inputs_) known |= b.name == name;
      if (!known) return invalid_argument("the engine has no input named '" + name + "'");
    }
    std::vector<DeviceBuffer> buffers;
    std::vector<TensorRef> in_refs, out_refs;
    for (const BindingInfo& b : e.inputs_) {
      auto it = host_inputs.find(b.name);
      if (it == host_inputs.end()) return invalid_argument("input '" + b.name + "' is missing");
      const Tensor& t = it->second;
      if (t.dtype() != b.dtype || t.dims() != b.dims)
        return invalid_argument("input '" + b.name + "' is " + t.describe() + ", the engine expects " +
                                std::string(dtype_name(b.dtype)) + dims_to_string(b.dims));
      KILN_ASSIGN_OR_RETURN(DeviceBuffer buf, DeviceBuffer::allocate(e.device_ptr(), b.nbytes));
      KILN_RETURN_IF_ERROR(d.copy_host_to_device(buf.data(), t.raw(), b.nbytes, stream_));
      in_refs.push_back({b.dtype, b.dims, ir::Layout::kRowMajor, buf.data()});
      buffers.push_back(std::move(buf));
    }
    for (const BindingInfo& b : e.outputs_) {
      KILN_ASSIGN_OR_RETURN(DeviceBuffer buf, DeviceBuffer::allocate(e.device_ptr(), b.nbytes));
      out_refs.push_back({b.dtype, b.dims, ir::Layout::kRowMajor, buf.data()});
      buffers.push_back(std::move(buf));
    }
    KILN_RETURN_IF_ERROR(enqueue(in_refs, out_refs, stream_));
    std::vector<Tensor> results;
    for (size_t o = 0; o < e.outputs_.size(); ++o) {
      const BindingInfo& b = e.outputs_[o];
      Tensor t(b.dtype, b.dims);
      KILN_RETURN_IF_ERROR(d.copy_device_to_host(t.raw(), out_refs[o].data, b.nbytes, stream_));
      results.push_back(std::move(t));
    }
    KILN_RETURN_IF_ERROR(d.synchronize(stream_));
    return results;
  } catch (const Error& err) {
    return err.to_status();
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "out of host memory");
  }
}

}  // namespace kiln::runtime
