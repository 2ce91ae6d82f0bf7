// "cpu.reference": runs a node with the op registry's reference CPU kernel, reading and
// writing the engine's planned buffers. It supports every tensor-only node whose op has a
// reference kernel, so any graph the interpreter runs (without control flow) can be built
// into a CPU engine; faster CPU tactics register before it and win where they apply.
#include <cstring>
#include <new>

#include "ops/registry.h"
#include "runtime/tactic.h"

namespace kiln::cpu {
namespace {

using runtime::Backend;
using runtime::Kernel;
using runtime::KernelSpec;
using runtime::LaunchContext;
using runtime::Tactic;
using runtime::TensorRef;

bool is_plain_tensor(const ir::Value* v) {
  return !v || (v->type().kind == ir::ValueKind::kTensor && v->type().dtype != DataType::kString &&
                v->type().dtype != DataType::kUndefined);
}

bool has_subgraph(const ir::Node& node) {
  for (const auto& [name, attr] : node.attrs().all())
    if (std::holds_alternative<std::shared_ptr<ir::Graph>>(attr) ||
        std::holds_alternative<std::vector<std::shared_ptr<ir::Graph>>>(attr))
      return true;
  return false;
}

class ReferenceKernel final : public Kernel {
 public:
  ReferenceKernel(const ir::Node& node, int version, ops::CpuKernelFn fn)
      : node_(node), version_(version), fn_(fn) {}

  Status enqueue(const std::vector<TensorRef>& inputs, const std::vector<TensorRef>& outputs,
                 const LaunchContext&) const override {
    try {
      return run(inputs, outputs);
    } catch (const Error& e) {
      return Status(e.code(), node_.describe() + ": " + e.what());
    } catch (const std::bad_alloc&) {
      return Status(StatusCode::kOutOfMemory, node_.describe() + ": out of host memory");
    }
  }

 private:
  Status run(const std::vector<TensorRef>& inputs, const std::vector<TensorRef>& outputs) const {
    if (inputs.size() != node_.num_inputs() || outputs.size() != node_.num_outputs())
      return internal_error(node_.describe() + ": got " + std::to_string(inputs.size()) + " inputs and " +
                            std::to_string(outputs.size()) + " outputs, the node has " +
                            std::to_string(node_.num_inputs()) + " and " + std::to_string(node_.num_outputs()));
    std::vector<RuntimeValue> values(inputs.size());
    std::vector<const RuntimeValue*> ptrs(inputs.size(), nullptr);
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!node_.input(i) || inputs[i].dtype == DataType::kUndefined) continue;
      values[i] = RuntimeValue(Tensor::view(inputs[i].dtype, inputs[i].dims, inputs[i].data));
      ptrs[i] = &values[i];
    }
    ops::SubgraphRunner no_subgraphs = [this](const ir::Graph&, const std::vector<RuntimeValue>&)
        -> std::vector<RuntimeValue> {
      throw_error(StatusCode::kUnsupported, node_.describe() + ": subgraphs are not supported by cpu.reference");
    };
    ops::KernelContext ctx(node_, version_, std::move(ptrs), no_subgraphs);
    fn_(ctx);
    for (size_t o = 0; o < outputs.size(); ++o) {
      if (!node_.output(o)) continue;
      const RuntimeValue& produced = ctx.outputs()[o];
      const TensorRef& planned = outputs[o];
      if (!produced.is_tensor())
        return internal_error(node_.describe() + " produced no tensor for output '" + node_.output(o)->name() + "'");
      const Tensor& t = produced.tensor();
      if (t.dtype() != planned.dtype || t.dims() != planned.dims)
        return internal_error(node_.describe() + " produced " + t.describe() + " for output '" +
                              node_.output(o)->name() + "', the plan expects " +
                              std::string(dtype_name(planned.dtype)) + dims_to_string(planned.dims));
      if (t.nbytes() && t.raw() != planned.data) std::memmove(planned.data, t.raw(), t.nbytes());
    }
    return Status::ok();
  }

  const ir::Node& node_;
  int version_;
  ops::CpuKernelFn fn_;
};

class ReferenceTactic final : public Tactic {
 public:
  std::string_view id() const override { return "cpu.reference"; }
  Backend backend() const override { return Backend::kCpu; }

  bool supports(const ir::Node& node) const override {
    const ops::OpSchema* schema = ops::OpRegistry::global().find(node.domain(), node.op_type());
    if (!schema || !schema->cpu || has_subgraph(node)) return false;
    for (const ir::Value* v : node.inputs())
      if (!is_plain_tensor(v)) return false;
    for (const ir::Value* v : node.outputs())
      if (!is_plain_tensor(v)) return false;
    return true;
  }

  Result<std::unique_ptr<Kernel>> create(const KernelSpec& spec) const override {
    if (!spec.node) return internal_error("cpu.reference: no node given");
    const ir::Node& node = *spec.node;
    if (!supports(node)) return unsupported(node.describe() + " is not supported by cpu.reference");
    int64_t opset = node.owner() ? node.owner()->opset(node.domain()) : 0;
    KILN_ASSIGN_OR_RETURN(int version, ops::OpRegistry::global().resolve(node, opset));
    const ops::OpSchema* schema = ops::OpRegistry::global().find(node.domain(), node.op_type());
    return std::unique_ptr<Kernel>(std::make_unique<ReferenceKernel>(node, version, schema->cpu));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CpuReference, std::make_unique<ReferenceTactic>());

}  // namespace kiln::cpu
