// cuda.pool_nd: MaxPool (with its Indices output, storage_order), AveragePool (count_include_pad)
// and LpPool over 1 to 3 spatial dims, for the nodes cuda.pool does not take (1-D, 3-D, indices,
// LpPool, dilated average pools...). The window geometry (auto_pad, ceil_mode, dilations) is
// resolved on the host with the CPU reference's own helpers (ops/common/window.h); each output
// element walks its window, accumulating in float (double for float64).
#include <cmath>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "ops/common/window.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

constexpr int kMaxSpatial = 3;
enum class PoolOp : int { kMax, kAverage, kLp };

struct PoolNdPlan {
  PoolOp op = PoolOp::kMax;
  int nd = 0;
  int64_t channels = 0;
  int64_t in[kMaxSpatial], out[kMaxSpatial], kernel[kMaxSpatial], stride[kMaxSpatial], dilation[kMaxSpatial],
      pad_begin[kMaxSpatial], pad_end[kMaxSpatial];
  bool include_pad = false, indices = false, col_major = false;
  double p = 2;
  DataType dt = DataType::kFloat32;
};

bool plan_of(const ir::Node& n, PoolNdPlan& p) {
  const std::string& t = n.op_type();
  if (t == "MaxPool") p.op = PoolOp::kMax;
  else if (t == "AveragePool") p.op = PoolOp::kAverage;
  else if (t == "LpPool") p.op = PoolOp::kLp;
  else return false;
  if (!n.domain().empty() || n.num_inputs() != 1 || !n.input(0) || !n.output(0) || !all_static(n)) return false;
  if (const runtime::Tactic* pool = runtime::TacticRegistry::global().find("cuda.pool"); pool && pool->supports(n)) return false;
  DataType dt = dtype_of(n.input(0));
  if ((!is_kernel_float(dt) && dt != DataType::kFloat64) || dtype_of(n.output(0)) != dt) return false;
  p.dt = dt;
  p.indices = n.num_outputs() > 1 && n.output(1);
  if (p.indices && (p.op != PoolOp::kMax || dtype_of(n.output(1)) != DataType::kInt64)) return false;
  auto x = dims_of(n.input(0)), y = dims_of(n.output(0));
  if (x.size() < 3 || x.size() > 2 + kMaxSpatial || y.size() != x.size() || y[0] != x[0] || y[1] != x[1]) return false;
  p.nd = static_cast<int>(x.size() - 2);
  p.channels = x[0] * x[1];
  const ir::Graph* g = n.owner();
  const int64_t opset = g ? g->opset("") : 0;
  const bool dilations_allowed = p.op == PoolOp::kMax ? opset >= 10 : p.op == PoolOp::kAverage ? opset >= 19 : opset >= 18;
  std::vector<int64_t> in(x.begin() + 2, x.end()), out;
  ops::WindowParams w;
  try {
    w = ops::read_window_params(n.attrs(), in.size(), {}, true);
    if (!dilations_allowed) w.dilations.assign(in.size(), 1);
    out = ops::resolve_window(w, in);
  } catch (const std::exception&) {
    return false;
  }
  for (int d = 0; d < p.nd; ++d) {
    if (out[static_cast<size_t>(d)] != y[static_cast<size_t>(d) + 2]) return false;
    p.in[d] = in[static_cast<size_t>(d)];
    p.out[d] = out[static_cast<size_t>(d)];
    p.kernel[d] = w.kernel[static_cast<size_t>(d)];
    p.stride[d] = w.strides[static_cast<size_t>(d)];
    p.dilation[d] = w.dilations[static_cast<size_t>(d)];
    p.pad_begin[d] = w.pads[static_cast<size_t>(d)];
    p.pad_end[d] = w.pads[static_cast<size_t>(d + p.nd)];
  }
  p.include_pad = n.attrs().get_int("count_include_pad", 0) != 0;
  p.col_major = n.attrs().get_int("storage_order", 0) != 0;
  if (p.op == PoolOp::kLp) {
    // LpPool-1 took p as a float; later versions as an int.
    const ir::Attribute* pa = n.attrs().find("p");
    p.p = 2;
    if (pa) p.p = opset < 2 ? n.attrs().get_float("p", 2.f) : static_cast<double>(n.attrs().get_int("p", 2));
    if (!(p.p > 0)) return false;
  }
  return true;
}

struct PoolResult {
  double value;
  int64_t best;  // MaxPool: row-major spatial offset of the maximum, -1 when the window is empty
};

// Output element o (spatial index within a channel) of one channel whose input starts at xc.
template <typename Load>
__host__ __device__ PoolResult pool_value(const PoolNdPlan& p, int64_t o, Load load) {
  int64_t oc[kMaxSpatial] = {0, 0, 0};
  for (int d = p.nd - 1; d >= 0; --d) {
    oc[d] = o % p.out[d];
    o /= p.out[d];
  }
  int64_t k_total = 1;
  for (int d = 0; d < p.nd; ++d) k_total *= p.kernel[d];
  double acc = 0, bv = 0;
  int64_t best = -1, valid_count = 0, covered = 0;
  for (int64_t k = 0; k < k_total; ++k) {
    int64_t krest = k, off = 0;
    int64_t kc[kMaxSpatial] = {0, 0, 0};
    for (int d = p.nd - 1; d >= 0; --d) {
      kc[d] = krest % p.kernel[d];
      krest /= p.kernel[d];
    }
    bool valid = true, inside = true;
    for (int d = 0; d < p.nd; ++d) {
      const int64_t i = oc[d] * p.stride[d] - p.pad_begin[d] + kc[d] * p.dilation[d];
      if (i < 0 || i >= p.in[d]) valid = false;
      if (i >= p.in[d] + p.pad_end[d]) inside = false;
      off = off * p.in[d] + i;
    }
    covered += inside;
    if (!valid) continue;
    ++valid_count;
    const double v = load(off);
    if (p.op == PoolOp::kMax) {
      if (best < 0 || v > bv) {
        best = off;
        bv = v;
      }
    } else if (p.op == PoolOp::kAverage) {
      acc += v;
    } else {
      acc += pow(fabs(v), p.p);
    }
  }
  if (p.op == PoolOp::kMax) return {best < 0 ? 0.0 : bv, best};
  if (p.op == PoolOp::kAverage) {
    const int64_t count = p.include_pad ? covered : valid_count;
    return {count > 0 ? acc / static_cast<double>(count) : NAN, -1};
  }
  return {pow(acc, 1.0 / p.p), -1};
}

__host__ __device__ inline int64_t column_major(int64_t off, const PoolNdPlan& p) {
  int64_t coord[kMaxSpatial] = {0, 0, 0};
  for (int d = p.nd - 1; d >= 0; --d) {
    coord[d] = off % p.in[d];
    off /= p.in[d];
  }
  int64_t result = 0, stride = 1;
  for (int d = 0; d < p.nd; ++d) {
    result += coord[d] * stride;
    stride *= p.in[d];
  }
  return result;
}

__device__ inline double to_d(double v) { return v; }
template <typename T>
__device__ inline double to_d(T v) { return to_float(v); }
template <typename T>
__device__ inline T from_d(double v) {
  if constexpr (std::is_same_v<T, double>) return v;
  else return from_float<T>(static_cast<float>(v));
}

template <typename T>
__global__ void pool_nd_kernel(const T* x, T* y, int64_t* indices, PoolNdPlan p) {
  int64_t in_size = 1, out_size = 1;
  for (int d = 0; d < p.nd; ++d) {
    in_size *= p.in[d];
    out_size *= p.out[d];
  }
  const int64_t total = p.channels * out_size;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = i / out_size, o = i % out_size;
    const T* xc = x + c * in_size;
    PoolResult r = pool_value(p, o, [xc](int64_t off) { return to_d(xc[off]); });
    // MaxPool copies the input element itself (no rounding through double for halves).
    y[i] = p.op == PoolOp::kMax && r.best >= 0 ? xc[r.best] : from_d<T>(r.value);
    if (indices) indices[i] = r.best < 0 ? -1 : c * in_size + (p.col_major ? column_major(r.best, p) : r.best);
  }
}

class PoolNdKernel : public runtime::Kernel {
 public:
  explicit PoolNdKernel(PoolNdPlan p) : p_(p) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    int64_t total = p_.channels;
    for (int d = 0; d < p_.nd; ++d) total *= p_.out[d];
    if (total == 0) return Status::ok();
    int grid = static_cast<int>(std::min<int64_t>((total + 255) / 256, 132 * 32));
    auto s = static_cast<cudaStream_t>(launch.stream);
    int64_t* idx = p_.indices && out.size() > 1 ? static_cast<int64_t*>(out[1].data) : nullptr;
    switch (p_.dt) {
      case DataType::kFloat32: pool_nd_kernel<float><<<grid, 256, 0, s>>>(static_cast<const float*>(in[0].data), static_cast<float*>(out[0].data), idx, p_); break;
      case DataType::kFloat16: pool_nd_kernel<__half><<<grid, 256, 0, s>>>(static_cast<const __half*>(in[0].data), static_cast<__half*>(out[0].data), idx, p_); break;
      case DataType::kBFloat16:
        pool_nd_kernel<__nv_bfloat16><<<grid, 256, 0, s>>>(static_cast<const __nv_bfloat16*>(in[0].data), static_cast<__nv_bfloat16*>(out[0].data), idx, p_);
        break;
      default: pool_nd_kernel<double><<<grid, 256, 0, s>>>(static_cast<const double*>(in[0].data), static_cast<double*>(out[0].data), idx, p_);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  PoolNdPlan p_;
};

class PoolNdTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.pool_nd"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    PoolNdPlan p;
    return plan_of(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    PoolNdPlan p;
    if (!plan_of(*spec.node, p))
      return unsupported(spec.node->describe() + ": not supported by cuda.pool_nd (1-3 spatial dims, float, static shapes)");
    return std::unique_ptr<runtime::Kernel>(new PoolNdKernel(p));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaPoolNd, std::make_unique<PoolNdTactic>());

}  // namespace kiln::cuda
