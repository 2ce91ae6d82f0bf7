// cuda.split: Split along one axis into outputs whose static shapes the graph already holds
// (split sizes from the attribute, an input or num_outputs all end up there): one
// strided 2-D device copy per output, for any dtype of whole bytes.
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

struct SplitPlan {
  int64_t outer = 0;            // rows: the product of the dims before the axis
  size_t in_row_bytes = 0;      // one input row: axis dim * inner * element size
  std::vector<size_t> offsets;  // byte offset of each output within an input row
  std::vector<size_t> widths;   // bytes of each output row
};

bool plan_of(const ir::Node& n, SplitPlan& p) {
  if (n.op_type() != "Split" || !n.domain().empty() || n.num_inputs() < 1 || n.num_outputs() < 1 || !all_static(n))
    return false;
  // The split sizes (attribute, or input 1, constant or not) are already in the outputs' static
  // shapes, which must tile the axis exactly; those are what the engine binds.
  DataType dt = dtype_of(n.input(0));
  if (is_sub_byte(dt) || dt == DataType::kString || dtype_size(dt) == 0) return false;
  auto x = dims_of(n.input(0));
  int64_t rank = static_cast<int64_t>(x.size());
  if (rank == 0) return false;
  int64_t axis = n.attrs().get_int("axis", 0);
  if (axis < -rank || axis >= rank) return false;
  if (axis < 0) axis += rank;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x[static_cast<size_t>(d)];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= x[static_cast<size_t>(d)];
  const size_t es = dtype_size(dt);
  int64_t at = 0;
  p.offsets.clear();
  p.widths.clear();
  for (const ir::Value* o : n.outputs()) {
    if (!o || dtype_of(o) != dt) return false;
    auto od = dims_of(o);
    if (od.size() != x.size()) return false;
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis && od[static_cast<size_t>(d)] != x[static_cast<size_t>(d)]) return false;
    p.offsets.push_back(static_cast<size_t>(at * inner) * es);
    p.widths.push_back(static_cast<size_t>(od[static_cast<size_t>(axis)] * inner) * es);
    at += od[static_cast<size_t>(axis)];
  }
  if (at != x[static_cast<size_t>(axis)]) return false;
  p.outer = outer;
  p.in_row_bytes = static_cast<size_t>(x[static_cast<size_t>(axis)] * inner) * es;
  return true;
}

class SplitKernel : public runtime::Kernel {
 public:
  explicit SplitKernel(SplitPlan p) : p_(std::move(p)) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    auto s = static_cast<cudaStream_t>(launch.stream);
    const char* src = static_cast<const char*>(in[0].data);
    for (size_t i = 0; i < p_.widths.size() && i < out.size(); ++i) {
      if (p_.widths[i] == 0 || p_.outer == 0 || !out[i].data) continue;
      KILN_CUDA_CHECK(cudaMemcpy2DAsync(out[i].data, p_.widths[i], src + p_.offsets[i], p_.in_row_bytes, p_.widths[i],
                                        static_cast<size_t>(p_.outer), cudaMemcpyDeviceToDevice, s));
    }
    return Status::ok();
  }

 private:
  SplitPlan p_;
};

class SplitTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.split"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    SplitPlan p;
    return plan_of(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    SplitPlan p;
    if (!plan_of(*spec.node, p))
      return unsupported(spec.node->describe() + ": not supported by cuda.split (static shapes that tile the axis)");
    return std::unique_ptr<runtime::Kernel>(new SplitKernel(std::move(p)));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaSplit, std::make_unique<SplitTactic>());

}  // namespace kiln::cuda
