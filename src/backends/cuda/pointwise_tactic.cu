// cuda.pointwise: unary and binary elementwise ONNX ops (float32/float16/bfloat16) with numpy
// broadcasting, computed in float registers. One kernel per node for now; fused chains come from
// the elementwise-fusion pass.
#include <cmath>
#include <map>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/pointwise_ops.h"
#include "backends/cuda/tactic_util.h"
#include "ops/common/broadcast.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

template <typename T, typename I>
__global__ void pointwise_kernel(const T* a, const T* b, T* out, I n, IndexMap map, bool contiguous,
                                 PointwiseOp op, PointwiseParams p) {
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n; i += static_cast<I>(gridDim.x) * blockDim.x) {
    I off[2] = {i, i};
    if (!contiguous) broadcast_offsets(map, i, b ? 2 : 1, off);
    float x = to_float(a[off[0]]);
    float y = b ? to_float(b[off[1]]) : 0.f;
    out[i] = from_float<T>(apply_pointwise(op, x, y, p));
  }
}

// Over Vec16 units (n a multiple of the width, pointers 16-byte aligned). An operand whose
// period is 0 has the output's shape; otherwise it repeats every `period` units (it broadcasts
// over leading dims only: ViT's position embedding, a bias over the last dim of 8k elements).
template <typename T>
__global__ void pointwise_vec_kernel(const T* a, const T* b, T* out, int64_t units, int64_t a_period,
                                     int64_t b_period, PointwiseOp op, PointwiseParams p) {
  using V = Vec16<T>;
  for (int64_t u = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; u < units;
       u += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    V x = reinterpret_cast<const V*>(a)[a_period ? u % a_period : u];
    V y{};
    if (b) y = reinterpret_cast<const V*>(b)[b_period ? u % b_period : u];
#pragma unroll
    for (int e = 0; e < V::kWidth; ++e)
      x.v[e] = from_float<T>(apply_pointwise(op, to_float(x.v[e]), b ? to_float(y.v[e]) : 0.f, p));
    reinterpret_cast<V*>(out)[u] = x;
  }
}

// An operand's period in elements for the vectorized path: 0 when it has the output's shape, its
// size when it equals the output's trailing dims (1s before them), -1 otherwise.
int64_t period_of(const std::vector<int64_t>& in, const std::vector<int64_t>& out) {
  if (in == out) return 0;
  if (in.size() > out.size()) return -1;
  const size_t lead = out.size() - in.size();
  size_t first = 0;  // in's first dim that is not a leading 1
  while (first < in.size() && in[first] == 1) ++first;
  int64_t m = 1;
  for (size_t d = first; d < in.size(); ++d) {
    if (in[d] != out[lead + d]) return -1;
    m *= in[d];
  }
  return m;
}

int grid_for(int64_t n) {
  int64_t blocks = (n + 255) / 256;
  return static_cast<int>(blocks < 132 * 32 ? (blocks > 0 ? blocks : 1) : 132 * 32);
}

const std::map<std::string, PointwiseOp>& binary_ops() {
  static const std::map<std::string, PointwiseOp> m = {
      {"Add", PointwiseOp::kAdd}, {"Sub", PointwiseOp::kSub}, {"Mul", PointwiseOp::kMul},
      {"Div", PointwiseOp::kDiv}, {"Pow", PointwiseOp::kPow}, {"Max", PointwiseOp::kMax},
      {"Min", PointwiseOp::kMin}, {"PRelu", PointwiseOp::kPRelu}};
  return m;
}

const std::map<std::string, PointwiseOp>& unary_ops() {
  static const std::map<std::string, PointwiseOp> m = {
      {"Identity", PointwiseOp::kIdentity}, {"Relu", PointwiseOp::kRelu}, {"Sigmoid", PointwiseOp::kSigmoid},
      {"Tanh", PointwiseOp::kTanh}, {"Exp", PointwiseOp::kExp}, {"Log", PointwiseOp::kLog},
      {"Sqrt", PointwiseOp::kSqrt}, {"Abs", PointwiseOp::kAbs}, {"Neg", PointwiseOp::kNeg},
      {"Erf", PointwiseOp::kErf}, {"Reciprocal", PointwiseOp::kReciprocal}, {"Gelu", PointwiseOp::kGelu},
      {"LeakyRelu", PointwiseOp::kLeakyRelu}, {"HardSigmoid", PointwiseOp::kHardSigmoid},
      {"HardSwish", PointwiseOp::kHardSwish}, {"Clip", PointwiseOp::kClip}, {"Softplus", PointwiseOp::kSoftplus},
      {"Elu", PointwiseOp::kElu}, {"Ceil", PointwiseOp::kCeil}, {"Floor", PointwiseOp::kFloor},
      {"Sin", PointwiseOp::kSin}, {"Cos", PointwiseOp::kCos}, {"Softsign", PointwiseOp::kSoftsign},
      {"Selu", PointwiseOp::kSelu}, {"Celu", PointwiseOp::kCelu}, {"Mish", PointwiseOp::kMish},
      {"Swish", PointwiseOp::kSwish}, {"ThresholdedRelu", PointwiseOp::kThresholdedRelu},
      {"Round", PointwiseOp::kRound}, {"Sign", PointwiseOp::kSign}};
  return m;
}

// A constant scalar input (Clip's min/max) as float; `fallback` when the input is omitted.
bool constant_scalar(const ir::Node& n, size_t i, float fallback, float& out) {
  const ir::Value* v = n.input(i);
  if (!v) {
    out = fallback;
    return true;
  }
  if (!v->is_constant() || v->constant().numel() != 1) return false;
  out = static_cast<float>(v->constant().to_f64()[0]);
  return true;
}

bool params_for(const ir::Node& n, PointwiseOp op, PointwiseParams& p) {
  const auto& a = n.attrs();
  switch (op) {
    case PointwiseOp::kLeakyRelu: p.alpha = a.get_float("alpha", 0.01f); return true;
    case PointwiseOp::kHardSigmoid: p.alpha = a.get_float("alpha", 0.2f); p.beta = a.get_float("beta", 0.5f); return true;
    case PointwiseOp::kElu: p.alpha = a.get_float("alpha", 1.f); return true;
    case PointwiseOp::kCelu: p.alpha = a.get_float("alpha", 1.f); return true;
    case PointwiseOp::kSwish: p.alpha = a.get_float("alpha", 1.f); return true;
    case PointwiseOp::kThresholdedRelu: p.alpha = a.get_float("alpha", 1.f); return true;
    case PointwiseOp::kSelu:
      p.alpha = a.get_float("alpha", 1.67326319217681884765625f);
      p.beta = a.get_float("gamma", 1.05070102214813232421875f);
      return true;
    case PointwiseOp::kClip:
      if (a.has("min") || a.has("max")) {  // opset < 11
        p.alpha = a.get_float("min", -INFINITY);
        p.beta = a.get_float("max", INFINITY);
        return true;
      }
      return constant_scalar(n, 1, -INFINITY, p.alpha) && constant_scalar(n, 2, INFINITY, p.beta);
    default: return true;
  }
}

class PointwiseKernel : public runtime::Kernel {
 public:
  PointwiseKernel(PointwiseOp op, PointwiseParams p, DataType dt, IndexMap map, bool contiguous, bool binary,
                  int64_t period_a, int64_t period_b)
      : op_(op), p_(p), dt_(dt), map_(map), contiguous_(contiguous), binary_(binary), period_{period_a, period_b} {}

  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    auto stream = static_cast<cudaStream_t>(launch.stream);
    int64_t n = out[0].numel();
    if (n == 0) return Status::ok();
    switch (dt_) {
      case DataType::kFloat32: launch_typed<float>(in, out, n, stream); break;
      case DataType::kFloat16: launch_typed<__half>(in, out, n, stream); break;
      case DataType::kBFloat16: launch_typed<__nv_bfloat16>(in, out, n, stream); break;
      default: return internal_error("cuda.pointwise: unexpected dtype");
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  template <typename T>
  void launch_typed(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out, int64_t n,
                    cudaStream_t stream) const {
    const T* b = binary_ ? static_cast<const T*>(in[1].data) : nullptr;
    constexpr int64_t W = Vec16<T>::kWidth;
    const bool periods_fit = period_[0] >= 0 && period_[1] >= 0 && period_[0] % W == 0 && period_[1] % W == 0;
    if (periods_fit && vec16_ok<T>(n, {in[0].data, b, out[0].data})) {
      int64_t units = n / W;
      pointwise_vec_kernel<T><<<grid_for_units(units), 256, 0, stream>>>(
          static_cast<const T*>(in[0].data), b, static_cast<T*>(out[0].data), units, period_[0] / W, period_[1] / W, op_, p_);
    } else if (n < (int64_t{1} << 31))
      pointwise_kernel<T, int32_t><<<grid_for(n), 256, 0, stream>>>(static_cast<const T*>(in[0].data), b,
                                                                     static_cast<T*>(out[0].data), static_cast<int32_t>(n),
                                                                     map_, contiguous_, op_, p_);
    else
      pointwise_kernel<T, int64_t><<<grid_for(n), 256, 0, stream>>>(static_cast<const T*>(in[0].data), b,
                                                                     static_cast<T*>(out[0].data), n, map_, contiguous_,
                                                                     op_, p_);
  }

  PointwiseOp op_;
  PointwiseParams p_;
  DataType dt_;
  IndexMap map_;
  bool contiguous_, binary_;
  int64_t period_[2] = {-1, -1};  // per operand, see period_of (in elements)
};

class PointwiseTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.pointwise"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool handles_channels_last() const override { return true; }

  bool supports(const ir::Node& n) const override {
    if (!all_static(n) || n.num_outputs() != 1) return false;
    PointwiseOp op;
    bool binary;
    if (!lookup(n, op, binary)) return false;
    DataType dt = dtype_of(n.output(0));
    if (!is_kernel_float(dt) || dtype_of(n.input(0)) != dt) return false;
    if (binary && (!n.input(1) || dtype_of(n.input(1)) != dt)) return false;
    std::vector<std::vector<int64_t>> in;
    std::vector<int64_t> out;
    if (!elementwise_dims(n, in, out) || out.size() > static_cast<size_t>(kMaxRank)) return false;
    PointwiseParams p;
    return params_for(n, op, p);
  }

  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    const ir::Node& n = *spec.node;
    PointwiseOp op;
    bool binary;
    lookup(n, op, binary);
    PointwiseParams p;
    params_for(n, op, p);
    std::vector<std::vector<int64_t>> in_dims;
    std::vector<int64_t> out_dims;
    if (!elementwise_dims(n, in_dims, out_dims)) return unsupported(n.describe() + ": operand layouts differ");
    IndexMap map;
    map.rank = static_cast<int>(out_dims.size());
    bool contiguous = true;
    for (int k = 0; k < (binary ? 2 : 1); ++k) {
      contiguous &= in_dims[k] == out_dims;
      auto strides = ops::broadcast_strides(in_dims[k], out_dims);
      for (int d = 0; d < map.rank; ++d) map.strides[k][d] = strides[d];
    }
    for (int d = 0; d < map.rank; ++d) map.dims[d] = out_dims[d];
    const int64_t pa = period_of(in_dims[0], out_dims), pb = binary ? period_of(in_dims[1], out_dims) : 0;
    return std::unique_ptr<runtime::Kernel>(
        new PointwiseKernel(op, p, dtype_of(n.output(0)), map, contiguous, binary, pa, pb));
  }

 private:
  static bool lookup(const ir::Node& n, PointwiseOp& op, bool& binary) {
    if (n.domain() == "kiln" && n.op_type() == "Gelu") {  // docs/FUSED_OPS.md
      op = n.attrs().get_string("approximate", "none") == "tanh" ? PointwiseOp::kGeluTanh : PointwiseOp::kGelu;
      binary = false;
      return true;
    }
    if (!n.domain().empty()) return false;
    auto b = binary_ops().find(n.op_type());
    if (b != binary_ops().end() && n.num_inputs() == 2) {
      op = b->second;
      binary = true;
      return true;
    }
    auto u = unary_ops().find(n.op_type());
    if (u == unary_ops().end()) return false;
    op = u->second;
    if (op == PointwiseOp::kGelu && n.attrs().get_string("approximate", "none") == "tanh") op = PointwiseOp::kGeluTanh;
    binary = false;
    return true;
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaPointwise, std::make_unique<PointwiseTactic>());

}  // namespace kiln::cuda
