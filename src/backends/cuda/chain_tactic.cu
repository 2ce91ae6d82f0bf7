// cuda.elementwise_chain: kiln::ElementwiseChain (docs/FUSED_OPS.md) in one kernel: the chain's
// steps run in float registers, each extra operand read with its own broadcast strides.
#include <map>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/pointwise_ops.h"
#include "backends/cuda/tactic_util.h"
#include "ops/common/broadcast.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

constexpr int kMaxSteps = 16;
constexpr int kMaxOperands = 8;  // inputs 1..8 (GPT-2 writes tanh-GELU with five)

struct ChainProgram {
  int steps = 0;
  PointwiseOp op[kMaxSteps];
  int operand[kMaxSteps];  // -1 unary, else input index
  bool swapped[kMaxSteps];
  int inputs = 1;
  int rank = 0;
  int64_t dims[kMaxRank];
  int64_t strides[kMaxOperands + 1][kMaxRank];
};

template <typename T>
struct ChainArgs {
  const T* in[kMaxOperands + 1];
};

// The operand `k` of the chain at offsets `off`, with `k` known only at run time: a chain of
// constant-index selects, so `off` stays in registers (a dynamically indexed array would live in
// local memory, which made this kernel ~10x slower than its memory traffic).
template <typename T, typename I>
__device__ __forceinline__ float operand(const ChainArgs<T>& args, const I (&off)[kMaxOperands + 1], int k) {
  float v = 0.f;
#pragma unroll
  for (int j = 0; j < kMaxOperands + 1; ++j)
    if (j == k) v = to_float(args.in[j][off[j]]);
  return v;
}

// I: the index type; 32-bit division is several times cheaper than 64-bit, and index math is
// what bounds these memory-bound kernels, so tensors under 2^31 elements use int32. `dense`:
// every operand has the output's shape (no broadcast), so every offset is the output index.
template <typename T, typename I, bool kDense>
__global__ void chain_kernel(ChainArgs<T> args, T* out, I n, ChainProgram p) {
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n; i += static_cast<I>(gridDim.x) * blockDim.x) {
    I off[kMaxOperands + 1];
#pragma unroll
    for (int k = 0; k < kMaxOperands + 1; ++k) off[k] = kDense ? i : 0;
    if (!kDense) {
      I rem = i;
      for (int d = p.rank - 1; d >= 0; --d) {
        I dim = static_cast<I>(p.dims[d]);
        I idx = rem % dim;
        rem /= dim;
#pragma unroll
        for (int k = 0; k < kMaxOperands + 1; ++k)
          if (k < p.inputs) off[k] += idx * static_cast<I>(p.strides[k][d]);
      }
    }
    float acc = to_float(args.in[0][off[0]]);
    PointwiseParams none;
    for (int s = 0; s < p.steps; ++s) {
      if (p.operand[s] < 0) {
        acc = apply_pointwise(p.op[s], acc, 0.f, none);
      } else {
        float v = operand(args, off, p.operand[s]);
        acc = p.swapped[s] ? apply_pointwise(p.op[s], v, acc, none) : apply_pointwise(p.op[s], acc, v, none);
      }
    }
    out[i] = from_float<T>(acc);
  }
}

// The dense case over Vec16 units (every operand has the output's shape; n a multiple of the
// width, pointers 16-byte aligned). Operands are picked with constant-index selects, as above.
template <typename T>
__global__ void chain_vec_kernel(ChainArgs<T> args, T* out, int64_t units, ChainProgram p) {
  using V = Vec16<T>;
  for (int64_t u = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; u < units;
       u += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    V in[kMaxOperands + 1];
#pragma unroll
    for (int k = 0; k < kMaxOperands + 1; ++k)
      if (k < p.inputs) in[k] = reinterpret_cast<const V*>(args.in[k])[u];
    V o;
    PointwiseParams none;
#pragma unroll
    for (int e = 0; e < V::kWidth; ++e) {
      float acc = to_float(in[0].v[e]);
      for (int s = 0; s < p.steps; ++s) {
        if (p.operand[s] < 0) {
          acc = apply_pointwise(p.op[s], acc, 0.f, none);
          continue;
        }
        float v = 0.f;
#pragma unroll
        for (int j = 1; j < kMaxOperands + 1; ++j)
          if (j == p.operand[s]) v = to_float(in[j].v[e]);
        acc = p.swapped[s] ? apply_pointwise(p.op[s], v, acc, none) : apply_pointwise(p.op[s], acc, v, none);
      }
      o.v[e] = from_float<T>(acc);
    }
    reinterpret_cast<V*>(out)[u] = o;
  }
}

bool op_of(const std::string& name, PointwiseOp& op) {
  static const std::map<std::string, PointwiseOp> ops = {
      {"Add", PointwiseOp::kAdd}, {"Sub", PointwiseOp::kSub}, {"Mul", PointwiseOp::kMul}, {"Div", PointwiseOp::kDiv},
      {"Relu", PointwiseOp::kRelu}, {"Sigmoid", PointwiseOp::kSigmoid}, {"Tanh", PointwiseOp::kTanh},
      {"Exp", PointwiseOp::kExp}, {"Log", PointwiseOp::kLog}, {"Neg", PointwiseOp::kNeg}, {"Abs", PointwiseOp::kAbs},
      {"Sqrt", PointwiseOp::kSqrt}, {"Erf", PointwiseOp::kErf}, {"Reciprocal", PointwiseOp::kReciprocal}};
  auto it = ops.find(name);
  if (it == ops.end()) return false;
  op = it->second;
  return true;
}

bool compile(const ir::Node& n, ChainProgram& p) {
  if (n.domain() != "kiln" || n.op_type() != "ElementwiseChain" || !all_static(n)) return false;
  auto names = n.attrs().get_strings("ops");
  auto operands = n.attrs().get_ints("operands");
  auto swapped = n.attrs().get_ints("swapped");
  if (names.empty() || names.size() > kMaxSteps || operands.size() != names.size() || swapped.size() != names.size())
    return false;
  if (n.num_inputs() > kMaxOperands + 1) return false;
  DataType dt = dtype_of(n.output(0));
  if (!is_kernel_float(dt)) return false;
  for (size_t i = 0; i < n.num_inputs(); ++i)
    if (!n.input(i) || dtype_of(n.input(i)) != dt) return false;
  std::vector<std::vector<int64_t>> in;
  std::vector<int64_t> out;
  if (!elementwise_dims(n, in, out)) return false;  // channels-last operands in NHWC order
  if (out.size() > static_cast<size_t>(kMaxRank)) return false;
  p.steps = static_cast<int>(names.size());
  for (int s = 0; s < p.steps; ++s) {
    if (!op_of(names[s], p.op[s])) return false;
    p.operand[s] = static_cast<int>(operands[s]);
    if (p.operand[s] >= static_cast<int>(n.num_inputs()) || p.operand[s] == 0) return false;
    p.swapped[s] = swapped[s] != 0;
  }
  p.inputs = static_cast<int>(n.num_inputs());
  p.rank = static_cast<int>(out.size());
  for (int d = 0; d < p.rank; ++d) p.dims[d] = out[d];
  for (int k = 0; k < p.inputs; ++k) {
    auto strides = ops::broadcast_strides(in[k], out);
    for (int d = 0; d < p.rank; ++d) p.strides[k][d] = strides[d];
  }
  return true;
}

class ChainKernel : public runtime::Kernel {
 public:
  ChainKernel(ChainProgram p, DataType dt, int64_t n) : p_(p), dt_(dt), n_(n) {
    // Dense when no operand broadcasts: each stride set equals the output's packed strides.
    dense_ = true;
    int64_t packed = 1;
    for (int d = p_.rank - 1; d >= 0; --d) {
      for (int k = 0; k < p_.inputs; ++k)
        if (p_.dims[d] != 1 && p_.strides[k][d] != packed) dense_ = false;
      packed *= p_.dims[d];
    }
  }
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (n_ == 0) return Status::ok();
    int grid = static_cast<int>(std::min<int64_t>((n_ + 255) / 256, 132 * 32));
    auto stream = static_cast<cudaStream_t>(launch.stream);
    auto run = [&](auto tag) {
      using T = decltype(tag);
      ChainArgs<T> args{};
      for (int k = 0; k < p_.inputs; ++k) args.in[k] = static_cast<const T*>(in[k].data);
      T* y = static_cast<T*>(out[0].data);
      const bool small = n_ < (int64_t{1} << 31);
      bool aligned = vec16_ok<T>(n_, {y});
      for (int k = 0; k < p_.inputs; ++k) aligned = aligned && vec16_ok<T>(n_, {args.in[k]});
      if (dense_ && aligned)
        chain_vec_kernel<T><<<grid_for_units(n_ / Vec16<T>::kWidth), 256, 0, stream>>>(args, y, n_ / Vec16<T>::kWidth, p_);
      else if (dense_ && small) chain_kernel<T, int32_t, true><<<grid, 256, 0, stream>>>(args, y, static_cast<int32_t>(n_), p_);
      else if (small) chain_kernel<T, int32_t, false><<<grid, 256, 0, stream>>>(args, y, static_cast<int32_t>(n_), p_);
      else chain_kernel<T, int64_t, false><<<grid, 256, 0, stream>>>(args, y, n_, p_);
    };
    if (dt_ == DataType::kFloat32) run(float{});
    else if (dt_ == DataType::kFloat16) run(__half{});
    else run(__nv_bfloat16{});
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  ChainProgram p_;
  DataType dt_;
  int64_t n_;
  bool dense_ = false;
};

class ChainTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.elementwise_chain"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool handles_channels_last() const override { return true; }
  bool supports(const ir::Node& n) const override {
    ChainProgram p;
    return compile(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    ChainProgram p;
    if (!compile(*spec.node, p)) return unsupported(spec.node->describe() + ": not supported by cuda.elementwise_chain");
    int64_t n = 1;
    for (int64_t d : dims_of(spec.node->output(0))) n *= d;
    return std::unique_ptr<runtime::Kernel>(new ChainKernel(p, dtype_of(spec.node->output(0)), n));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaElementwiseChain, std::make_unique<ChainTactic>());

}  // namespace kiln::cuda
