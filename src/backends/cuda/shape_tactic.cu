// cuda.shape: Shape (start/end) and Size of a static input, and Dropout in inference (no
// training_mode, or a constant false one: the output is the input, the mask all true). Their
// results are known at build time; the kernel copies them from host memory it owns.
#include <algorithm>
#include <cstring>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

struct ShapePlan {
  bool dropout = false;
  std::vector<int64_t> values;  // Shape / Size: the output
  size_t copy_bytes = 0;        // Dropout: bytes of X
  size_t mask_bytes = 0;        // Dropout: bool mask elements (0: no mask wanted)
};

bool plan_of(const ir::Node& n, ShapePlan& p) {
  const std::string& t = n.op_type();
  if (!n.domain().empty() || n.num_inputs() < 1 || !n.input(0) || !n.output(0) || !all_static(n)) return false;
  auto x = dims_of(n.input(0));
  const int64_t rank = static_cast<int64_t>(x.size());
  int64_t out_numel = 1;
  for (int64_t d : dims_of(n.output(0))) out_numel *= d;
  if (t == "Shape" || t == "Size") {
    if (n.num_outputs() != 1 || dtype_of(n.output(0)) != DataType::kInt64) return false;
    p.values.clear();
    if (t == "Size") {
      int64_t numel = 1;
      for (int64_t d : x) numel *= d;
      p.values.push_back(numel);
    } else {
      int64_t start = n.attrs().get_int("start", 0), end = n.attrs().get_int("end", rank);
      if (start < 0) start += rank;
      if (end < 0) end += rank;
      start = std::clamp<int64_t>(start, 0, rank);
      end = std::clamp<int64_t>(end, 0, rank);
      for (int64_t d = start; d < end; ++d) p.values.push_back(x[static_cast<size_t>(d)]);
    }
    return static_cast<int64_t>(p.values.size()) == out_numel;
  }
  if (t != "Dropout") return false;
  const ir::Graph* g = n.owner();
  const int64_t opset = g ? g->opset("") : 0;
  if (opset < 7 && n.attrs().get_int("is_test", 0) == 0) return false;  // training in opset 1-6
  if (n.num_inputs() > 2 && n.input(2)) {  // training_mode
    const ir::Value* tm = n.input(2);
    if (!tm->is_constant() || tm->constant().numel() != 1 || tm->constant().to_i64()[0] != 0) return false;
  }
  // The ratio (input 1, constant or not) does not matter in inference.
  if (dtype_of(n.output(0)) != dtype_of(n.input(0)) || dims_of(n.output(0)) != x) return false;
  p.dropout = true;
  p.copy_bytes = static_cast<size_t>(out_numel) * dtype_size(dtype_of(n.input(0)));
  p.mask_bytes = 0;
  if (n.num_outputs() > 1 && n.output(1)) {
    if (dtype_of(n.output(1)) != DataType::kBool) return false;  // opset 7-9 masks in X's dtype
    p.mask_bytes = static_cast<size_t>(out_numel);
  }
  return true;
}

class ShapeKernel : public runtime::Kernel {
 public:
  explicit ShapeKernel(ShapePlan p) : p_(std::move(p)) {}
  ~ShapeKernel() override {
    if (values_) cudaFree(values_);
  }
  // The values go to device memory once, here: a copy from pageable host memory inside enqueue
  // could not be captured into a CUDA graph (the context would fall back to plain launches).
  Status init() {
    if (p_.dropout || p_.values.empty()) return Status::ok();
    const size_t bytes = p_.values.size() * sizeof(int64_t);
    KILN_CUDA_CHECK(cudaMalloc(&values_, bytes));
    KILN_CUDA_CHECK(cudaMemcpy(values_, p_.values.data(), bytes, cudaMemcpyHostToDevice));
    return Status::ok();
  }
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    auto s = static_cast<cudaStream_t>(launch.stream);
    if (p_.dropout) {
      if (p_.copy_bytes && out[0].data != in[0].data)
        KILN_CUDA_CHECK(cudaMemcpyAsync(out[0].data, in[0].data, p_.copy_bytes, cudaMemcpyDeviceToDevice, s));
      if (p_.mask_bytes && out.size() > 1 && out[1].data) KILN_CUDA_CHECK(cudaMemsetAsync(out[1].data, 1, p_.mask_bytes, s));
      return Status::ok();
    }
    if (values_)
      KILN_CUDA_CHECK(cudaMemcpyAsync(out[0].data, values_, p_.values.size() * sizeof(int64_t),
                                      cudaMemcpyDeviceToDevice, s));
    return Status::ok();
  }

 private:
  ShapePlan p_;
  void* values_ = nullptr;  // device copy of p_.values
};

class ShapeTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.shape"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    ShapePlan p;
    return plan_of(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    ShapePlan p;
    if (!plan_of(*spec.node, p))
      return unsupported(spec.node->describe() + ": not supported by cuda.shape (static shapes; Dropout in inference only)");
    auto kernel = std::make_unique<ShapeKernel>(std::move(p));
    KILN_RETURN_IF_ERROR(kernel->init().with_context(spec.node->describe()));
    return std::unique_ptr<runtime::Kernel>(std::move(kernel));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaShape, std::make_unique<ShapeTactic>());

}  // namespace kiln::cuda
