// cuda.norm: InstanceNormalization, GroupNormalization (scale/bias per group as in opset 18 or
// per channel as in 21: told apart by their size) and RMSNormalization (one output, scale of
// the normalized dims' size or a single value). One block per normalized row: the mean (not for
// RMS), then the variance around it, both accumulated in float, then the affine write. Also
// LayerNormalization where the Mean / InvStdDev outputs are wanted (float32 stash) or
// cuda.rowwise does not take the node.
#include <cfloat>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

enum class NormKind : int { kInstance, kGroup, kRms, kLayer };

struct NormPlan {
  NormKind kind = NormKind::kInstance;
  int64_t rows = 0, len = 0;
  int64_t groups = 1;       // rows per sample (instance: C, group: num_groups, RMS: 1)
  int64_t spatial = 1;      // elements per channel (instance/group)
  int64_t per_group = 1;    // channels per group
  bool per_group_params = false;
  bool scalar_scale = false;  // RMS scale of one element
  bool bias = false;
  bool mean_out = false, inv_out = false;  // LayerNormalization's optional outputs (float32)
  float eps = 1e-5f;
  DataType dt = DataType::kFloat32;
};

int64_t numel_of(const ir::Value* v) {
  int64_t n = 1;
  for (int64_t d : dims_of(v)) n *= d;
  return n;
}

bool plan_of(const ir::Node& n, NormPlan& p) {
  const std::string& t = n.op_type();
  if (!n.domain().empty() || !all_static(n) || n.num_outputs() < 1 || !n.output(0) || n.num_inputs() < 2) return false;
  if (t == "InstanceNormalization") p.kind = NormKind::kInstance;
  else if (t == "GroupNormalization") p.kind = NormKind::kGroup;
  else if (t == "RMSNormalization") p.kind = NormKind::kRms;
  else if (t == "LayerNormalization") p.kind = NormKind::kLayer;
  else return false;
  p.mean_out = p.inv_out = false;
  for (size_t i = 1; i < n.num_outputs(); ++i) {
    if (!n.output(i)) continue;
    if (p.kind != NormKind::kLayer || i > 2 || dtype_of(n.output(i)) != DataType::kFloat32) return false;
    (i == 1 ? p.mean_out : p.inv_out) = true;
  }
  if (p.kind == NormKind::kLayer && !p.mean_out && !p.inv_out) {
    // One output: cuda.rowwise's (the faster, fused one) where it takes the node.
    const runtime::Tactic* rowwise = runtime::TacticRegistry::global().find("cuda.rowwise");
    if (rowwise && rowwise->supports(n)) return false;
  }
  DataType dt = dtype_of(n.input(0));
  if (!is_kernel_float(dt) || dtype_of(n.output(0)) != dt) return false;
  for (size_t i = 1; i < n.num_inputs(); ++i)
    if (n.input(i) && dtype_of(n.input(i)) != dt) return false;
  auto x = dims_of(n.input(0));
  const int64_t rank = static_cast<int64_t>(x.size());
  p.eps = n.attrs().get_float("epsilon", 1e-5f);
  p.dt = dt;
  if (p.kind == NormKind::kRms || p.kind == NormKind::kLayer) {
    const size_t max_inputs = p.kind == NormKind::kRms ? 2 : 3;
    if (rank < 1 || n.num_inputs() > max_inputs || !n.input(1)) return false;
    int64_t axis = n.attrs().get_int("axis", -1);
    if (axis < -rank || axis >= rank) return false;
    if (axis < 0) axis += rank;
    p.rows = 1;
    p.len = 1;
    for (int64_t d = 0; d < rank; ++d) (d < axis ? p.rows : p.len) *= x[static_cast<size_t>(d)];
    int64_t s = numel_of(n.input(1));
    // Scale broadcasts to the normalized dims: all of them, or one value.
    auto sd = dims_of(n.input(1));
    if (s == p.len) {
      if (sd.size() > static_cast<size_t>(rank - axis)) return false;
      for (size_t i = 0; i < sd.size(); ++i)
        if (sd[sd.size() - 1 - i] != x[x.size() - 1 - i]) return false;
    } else if (s != 1) {
      return false;
    }
    p.scalar_scale = s == 1 && p.len != 1;
    p.bias = p.kind == NormKind::kLayer && n.num_inputs() > 2 && n.input(2);
    if (p.bias && (numel_of(n.input(2)) != s || dims_of(n.input(2)) != sd)) return false;
    return p.len > 0 || p.rows == 0;
  }
  if (rank < 2 || n.num_inputs() != 3 || !n.input(1) || !n.input(2)) return false;
  const int64_t batch = x[0], channels = x[1];
  p.spatial = 1;
  for (int64_t d = 2; d < rank; ++d) p.spatial *= x[static_cast<size_t>(d)];
  if (p.kind == NormKind::kInstance) {
    p.groups = channels;
  } else {
    p.groups = n.attrs().get_int("num_groups", 0);
    if (p.groups <= 0 || channels % p.groups != 0) return false;
  }
  p.per_group = p.groups ? channels / p.groups : 0;
  const int64_t s = numel_of(n.input(1)), b = numel_of(n.input(2));
  if (s != b) return false;
  if (s == channels) p.per_group_params = false;
  else if (p.kind == NormKind::kGroup && s == p.groups) p.per_group_params = true;
  else return false;
  p.rows = batch * p.groups;
  p.len = p.per_group * p.spatial;
  p.bias = true;
  return true;
}

constexpr int kThreads = 256;

__device__ float block_sum(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = threadIdx.x < blockDim.x / 32 ? shared[threadIdx.x] : 0.f;
  if (warp == 0)
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
  if (threadIdx.x == 0) shared[0] = v;
  __syncthreads();
  float r = shared[0];
  __syncthreads();
  return r;
}

// Which scale/bias element element i of row r uses.
__host__ __device__ inline int64_t param_index(const NormPlan& p, int64_t r, int64_t i) {
  if (p.kind == NormKind::kRms || p.kind == NormKind::kLayer) return p.scalar_scale ? 0 : i;
  const int64_t g = r % p.groups;
  return p.per_group_params ? g : g * p.per_group + i / p.spatial;
}

template <typename T>
__global__ void norm_kernel(const T* x, const T* scale, const T* bias, T* y, float* mean_out, float* inv_out,
                            NormPlan p) {
  __shared__ float shared[32];
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const T* row = x + r * p.len;
    T* out = y + r * p.len;
    float mean = 0.f;
    if (p.kind != NormKind::kRms) {
      float s = 0.f;
      for (int64_t i = threadIdx.x; i < p.len; i += blockDim.x) s += to_float(row[i]);
      mean = block_sum(s, shared) / static_cast<float>(p.len);
    }
    float v = 0.f;
    for (int64_t i = threadIdx.x; i < p.len; i += blockDim.x) {
      float d = to_float(row[i]) - mean;
      v += d * d;
    }
    const float inv = rsqrtf(block_sum(v, shared) / static_cast<float>(p.len) + p.eps);
    if (threadIdx.x == 0) {
      if (mean_out) mean_out[r] = mean;
      if (inv_out) inv_out[r] = inv;
    }
    for (int64_t i = threadIdx.x; i < p.len; i += blockDim.x) {
      const int64_t q = param_index(p, r, i);
      float o = (to_float(row[i]) - mean) * inv * to_float(scale[q]);
      if (p.bias) o += to_float(bias[q]);
      out[i] = from_float<T>(o);
    }
  }
}

class NormKernel : public runtime::Kernel {
 public:
  explicit NormKernel(NormPlan p) : p_(p) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (p_.rows == 0 || p_.len == 0) return Status::ok();
    const int grid = static_cast<int>(std::min<int64_t>(p_.rows, 132 * 16));
    auto s = static_cast<cudaStream_t>(launch.stream);
    const void* bias = p_.bias ? in[2].data : nullptr;
    float* mean = p_.mean_out && out.size() > 1 ? static_cast<float*>(out[1].data) : nullptr;
    float* inv = p_.inv_out && out.size() > 2 ? static_cast<float*>(out[2].data) : nullptr;
    switch (p_.dt) {
      case DataType::kFloat32:
        norm_kernel<float><<<grid, kThreads, 0, s>>>(static_cast<const float*>(in[0].data), static_cast<const float*>(in[1].data),
                                                     static_cast<const float*>(bias), static_cast<float*>(out[0].data), mean, inv, p_);
        break;
      case DataType::kFloat16:
        norm_kernel<__half><<<grid, kThreads, 0, s>>>(static_cast<const __half*>(in[0].data), static_cast<const __half*>(in[1].data),
                                                      static_cast<const __half*>(bias), static_cast<__half*>(out[0].data), mean, inv, p_);
        break;
      default:
        norm_kernel<__nv_bfloat16><<<grid, kThreads, 0, s>>>(
            static_cast<const __nv_bfloat16*>(in[0].data), static_cast<const __nv_bfloat16*>(in[1].data),
            static_cast<const __nv_bfloat16*>(bias), static_cast<__nv_bfloat16*>(out[0].data), mean, inv, p_);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  NormPlan p_;
};

class NormTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.norm"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    NormPlan p;
    return plan_of(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    NormPlan p;
    if (!plan_of(*spec.node, p))
      return unsupported(spec.node->describe() + ": not supported by cuda.norm (float, static shapes, one output)");
    return std::unique_ptr<runtime::Kernel>(new NormKernel(p));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaNorm, std::make_unique<NormTactic>());

}  // namespace kiln::cuda
