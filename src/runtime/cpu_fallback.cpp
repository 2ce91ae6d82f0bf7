#include "runtime/cpu_fallback.h"

#include <new>

#include "runtime/device.h"
#include "runtime/tactic.h"

namespace kiln::runtime {
namespace {

// Looked up when needed (not cached: registration order between files is unspecified).
const Tactic* reference_tactic() { return TacticRegistry::global().find("cpu.reference"); }

class CpuFallbackKernel final : public Kernel {
 public:
  CpuFallbackKernel(const ir::Node& node, std::shared_ptr<Device> device, std::unique_ptr<Kernel> cpu)
      : node_(node), device_(std::move(device)), cpu_(std::move(cpu)) {}

  Status enqueue(const std::vector<TensorRef>& inputs, const std::vector<TensorRef>& outputs,
                 const LaunchContext& launch) const override {
    try {
      return run(inputs, outputs, launch.stream);
    } catch (const Error& e) {
      return Status(e.code(), node_.describe() + " (CPU fallback): " + e.what());
    } catch (const std::bad_alloc&) {
      return Status(StatusCode::kOutOfMemory, node_.describe() + " (CPU fallback): out of host memory");
    }
  }

 private:
  Status run(const std::vector<TensorRef>& inputs, const std::vector<TensorRef>& outputs, Stream stream) const {
    auto fail = [&](const Status& st) { return st.with_context(node_.describe() + " (CPU fallback)"); };
    // Host staging, per call (contexts may run this layer at once).
    std::vector<Tensor> host_in(inputs.size()), host_out(outputs.size());
    std::vector<TensorRef> in_refs(inputs.size()), out_refs(outputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const TensorRef& r = inputs[i];
      if (r.dtype == DataType::kUndefined) continue;  // omitted optional input
      if (r.layout != ir::Layout::kRowMajor) return internal_error(node_.describe() + ": CPU fallback got a channels-last input");
      host_in[i] = Tensor(r.dtype, r.dims);
      if (host_in[i].nbytes()) {
        Status st = device_->copy_device_to_host(host_in[i].raw(), r.data, host_in[i].nbytes(), stream);
        if (!st.is_ok()) return fail(st);
      }
      in_refs[i] = TensorRef{r.dtype, r.dims, r.layout, host_in[i].raw()};
    }
    for (size_t o = 0; o < outputs.size(); ++o) {
      const TensorRef& r = outputs[o];
      if (r.dtype == DataType::kUndefined) continue;
      if (r.layout != ir::Layout::kRowMajor) return internal_error(node_.describe() + ": CPU fallback got a channels-last output");
      host_out[o] = Tensor(r.dtype, r.dims);
      out_refs[o] = TensorRef{r.dtype, r.dims, r.layout, host_out[o].raw()};
    }
    // Everything queued before this layer (its producers, the input copies) must be done.
    if (Status st = device_->synchronize(stream); !st.is_ok()) return fail(st);
    KILN_RETURN_IF_ERROR(cpu_->enqueue(in_refs, out_refs, LaunchContext{}));
    for (size_t o = 0; o < outputs.size(); ++o) {
      if (outputs[o].dtype == DataType::kUndefined || !host_out[o].nbytes()) continue;
      Status st = device_->copy_host_to_device(outputs[o].data, host_out[o].raw(), host_out[o].nbytes(), stream);
      if (!st.is_ok()) return fail(st);
    }
    // The staging tensors die on return: wait for the copies that read them.
    if (Status st = device_->synchronize(stream); !st.is_ok()) return fail(st);
    return Status::ok();
  }

  const ir::Node& node_;
  std::shared_ptr<Device> device_;
  std::unique_ptr<Kernel> cpu_;
};

class CpuFallbackTactic final : public Tactic {
 public:
  std::string_view id() const override { return kCpuFallbackTactic; }
  Backend backend() const override { return Backend::kCuda; }
  // Last resort: only nodes the builder marked (see cpu_fallback.h).
  int preference() const override { return -1000000; }
  bool supports(const ir::Node& node) const override {
    return node.attrs().has(kCpuFallbackAttr) && cpu_reference_supports(node);
  }
  Result<std::unique_ptr<Kernel>> create(const KernelSpec& spec) const override {
    if (!spec.node) return internal_error("cuda.cpu_fallback: no node given");
    if (!supports(*spec.node)) return unsupported(spec.node->describe() + " is not marked for the CPU fallback");
    KernelSpec cpu_spec{spec.node, ""};
    const Tactic* reference = reference_tactic();
    if (!reference) return internal_error("cuda.cpu_fallback: the cpu.reference tactic is not registered");
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> cpu, reference->create(cpu_spec));
    KILN_ASSIGN_OR_RETURN(std::shared_ptr<Device> device, make_device(Backend::kCuda));
    return std::unique_ptr<Kernel>(std::make_unique<CpuFallbackKernel>(*spec.node, std::move(device), std::move(cpu)));
  }
};

}  // namespace

bool cpu_reference_supports(const ir::Node& node) {
  const Tactic* t = reference_tactic();
  return t && t->supports(node);
}

void mark_cpu_fallback(ir::Node& node) { node.attrs().set(kCpuFallbackAttr, static_cast<int64_t>(1)); }

size_t cpu_fallback_layers(const plan::EngineDesc& desc) {
  size_t n = 0;
  for (const plan::Layer& l : desc.layers) n += l.tactic == kCpuFallbackTactic;
  return n;
}

KILN_REGISTER_TACTIC(CudaCpuFallback, std::make_unique<CpuFallbackTactic>());

}  // namespace kiln::runtime
