// cuda.cutlass.matmul_gelu: kiln::FusedMatMul with the erf GELU activation in float16 as one
// CUTLASS Hopper kernel whose epilogue applies bias and GELU in registers (cutlass_gemm_gelu.h).
// cuBLASLt's epilogue has only the tanh GELU (up to 5% off the erf form near x = -2.7), so
// cuda.cublaslt.matmul runs the product, then a second pass over Y for the activation; this
// tactic writes Y once. Taken before cuBLASLt (preference 1) for exactly: A [.., K] row-major
// (leading dims folded into M), B [K, N], optional bias [N], no residual Z, K and N multiples of
// 8 (16-byte TMA rows), on compute capability 9.0 only (the kernel is sm_90a SASS).
#include <mutex>

#include "backends/cuda/cutlass_gemm_gelu.h"
#include "backends/cuda/device_info.h"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

constexpr const char* kTacticId = "cuda.cutlass.matmul_gelu";

struct GeluGemmNode {
  GeluGemmShape shape;
  bool bias = false;
};

bool describe(const ir::Node& n, GeluGemmNode& g) {
  if (n.domain() != "kiln" || n.op_type() != "FusedMatMul") return false;
  if (!all_static(n) || any_nhwc(n) || n.num_outputs() != 1 || !n.input(0) || !n.input(1) || !n.output(0)) return false;
  if (n.input(3)) return false;  // the residual Z stays cuBLASLt's (its C operand)
  if (n.attrs().get_string("activation", "") != "Gelu") return false;
  const DataType dt = DataType::kFloat16;
  if (dtype_of(n.input(0)) != dt || dtype_of(n.input(1)) != dt || dtype_of(n.output(0)) != dt) return false;
  auto a = dims_of(n.input(0)), b = dims_of(n.input(1)), y = dims_of(n.output(0));
  if (a.size() < 2 || b.size() != 2 || b[0] != a.back()) return false;
  const int64_t K = b[0], N = b[1];
  int64_t M = 1;
  for (size_t i = 0; i + 1 < a.size(); ++i) M *= a[i];
  std::vector<int64_t> expect(a.begin(), a.end() - 1);
  expect.push_back(N);
  if (y != expect) return false;
  if (M < 1 || K < 8 || N < 8 || K % 8 != 0 || N % 8 != 0 || M > INT32_MAX || K > INT32_MAX || N > INT32_MAX) return false;
  if (const ir::Value* bias = n.input(2)) {
    if (dims_of(bias) != std::vector<int64_t>{N} || dtype_of(bias) != dt) return false;
    g.bias = true;
  }
  g.shape = {M, N, K};
  return true;
}

// The compute capability the kernel would run on: the build's or load's target (tactic.h), else
// (registry queries outside a build, as in tests) the current GPU's; 0.0 without one.
runtime::ComputeCapability capability() {
  runtime::ComputeCapability cc = runtime::target_compute_capability();
  if (cc.major != 0) return cc;
  static runtime::ComputeCapability device = [] {
    auto info = query_device(0);
    return info.is_ok() ? runtime::ComputeCapability{info->cc_major, info->cc_minor} : runtime::ComputeCapability{};
  }();
  return device;
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

class CutlassGeluKernel : public runtime::Kernel {
 public:
  CutlassGeluKernel(GeluGemmNode g, size_t workspace, int sm_count) : g_(g), workspace_(workspace), sm_count_(sm_count) {}

  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (in.size() < 2 || out.empty() || (g_.bias && in.size() < 3))
      return internal_error(std::string(kTacticId) + ": missing inputs or outputs");
    const void* bias = g_.bias ? in[2].data : nullptr;
    // TMA descriptors need 16-byte aligned addresses (the planner aligns to 256, weights to 64);
    // checked so that a violation is an error, not a fault.
    for (const void* p : {static_cast<const void*>(in[0].data), static_cast<const void*>(in[1].data),
                          static_cast<const void*>(out[0].data)})
      if (!p || !aligned16(p)) return internal_error(std::string(kTacticId) + ": operand not 16-byte aligned");
    if (g_.bias && (!bias || !aligned16(bias)))
      return internal_error(std::string(kTacticId) + ": bias not 16-byte aligned");
    if (workspace_ && (!launch.workspace || launch.workspace_bytes < workspace_))
      return internal_error(std::string(kTacticId) + ": workspace too small");
    return cutlass_gelu_gemm_run(g_.shape, in[0].data, in[1].data, bias, out[0].data, launch.workspace,
                                 launch.workspace_bytes, sm_count_, static_cast<cudaStream_t>(launch.stream));
  }

 private:
  GeluGemmNode g_;
  size_t workspace_;
  int sm_count_;
};

class CutlassGeluTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return kTacticId; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  int preference() const override { return 1; }  // over cuda.cublaslt.matmul (product + GELU pass)
  bool supports(const ir::Node& n) const override {
    GeluGemmNode g;
    size_t ws = 0;
    runtime::ComputeCapability cc = capability();
    return cc.major == 9 && cc.minor == 0 && describe(n, g) && cutlass_gelu_gemm_check(g.shape, &ws).is_ok();
  }
  size_t workspace_bytes(const runtime::KernelSpec& spec) const override {
    GeluGemmNode g;
    size_t ws = 0;
    if (!describe(*spec.node, g) || !cutlass_gelu_gemm_check(g.shape, &ws).is_ok()) return 0;
    return ws;
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    GeluGemmNode g;
    if (!describe(*spec.node, g))
      return unsupported(spec.node->describe() + ": not a float16 FusedMatMul + erf GELU that " + kTacticId + " runs");
    size_t ws = 0;
    KILN_RETURN_IF_ERROR(cutlass_gelu_gemm_check(g.shape, &ws).with_context(spec.node->describe()));
    int sm_count = 0;
    KILN_RETURN_IF_ERROR(cutlass_gelu_gemm_prepare(&sm_count).with_context(spec.node->describe()));
    return std::unique_ptr<runtime::Kernel>(new CutlassGeluKernel(g, ws, sm_count));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CutlassMatmulGelu, std::make_unique<CutlassGeluTactic>());

}  // namespace kiln::cuda
