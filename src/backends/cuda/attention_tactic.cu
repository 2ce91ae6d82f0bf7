// cuda.attention: kiln::Attention (docs/FUSED_OPS.md): softmax(Q KT * scale + mask) V in one
// kernel, one block per query row: the scores stay in shared memory, so the [S, S] matrix never
// reaches device memory. CUDA cores, float accumulation; a tensor-core (flash-attention or cuDNN
// SDPA) tactic is the next step for long sequences.
#include <cfloat>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "ops/common/broadcast.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int64_t kMaxKeys = 8192;  // scores in shared memory: 32 KiB
constexpr int64_t kMaxHeadDim = 256;

struct AttentionShape {
  int64_t batch_heads, heads, s, sk, d, dv;
  float scale;
  bool mask;
  int64_t mask_stride[4];  // strides of the mask broadcast to [B, H, S, Sk]
  DataType dt;
};

__device__ float block_sum(float v, float* red) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
  __syncthreads();
  float t = 0.f;
  for (int w = 0; w < kThreads / 32; ++w) t += red[w];
  __syncthreads();
  return t;
}

__device__ float block_max(float v, float* red) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
  __syncthreads();
  float t = -FLT_MAX;
  for (int w = 0; w < kThreads / 32; ++w) t = fmaxf(t, red[w]);
  __syncthreads();
  return t;
}

template <typename T>
__global__ void attention_kernel(const T* q, const T* kt, const T* v, const T* mask, T* out, AttentionShape a) {
  extern __shared__ float smem[];
  float* scores = smem;          // [sk]
  float* qrow = smem + a.sk;     // [d]
  __shared__ float red[kThreads / 32];
  int64_t row = blockIdx.x, bh = blockIdx.y;
  int64_t b = bh / a.heads, h = bh % a.heads;
  const T* qp = q + (bh * a.s + row) * a.d;
  const T* kp = kt + bh * a.d * a.sk;
  const T* vp = v + bh * a.sk * a.dv;
  for (int64_t i = threadIdx.x; i < a.d; i += kThreads) qrow[i] = to_float(qp[i]);
  __syncthreads();
  float m = -FLT_MAX;
  for (int64_t j = threadIdx.x; j < a.sk; j += kThreads) {
    float acc = 0.f;
    for (int64_t i = 0; i < a.d; ++i) acc += qrow[i] * to_float(kp[i * a.sk + j]);
    acc *= a.scale;
    if (a.mask)
      acc += to_float(mask[b * a.mask_stride[0] + h * a.mask_stride[1] + row * a.mask_stride[2] + j * a.mask_stride[3]]);
    scores[j] = acc;
    m = fmaxf(m, acc);
  }
  m = block_max(m, red);
  float sum = 0.f;
  for (int64_t j = threadIdx.x; j < a.sk; j += kThreads) {
    float e = m == -INFINITY ? 0.f : expf(scores[j] - m);
    scores[j] = e;
    sum += e;
  }
  sum = block_sum(sum, red);
  float inv = sum > 0.f ? 1.f / sum : 0.f;
  T* op = out + (bh * a.s + row) * a.dv;
  for (int64_t c = threadIdx.x; c < a.dv; c += kThreads) {
    float acc = 0.f;
    for (int64_t j = 0; j < a.sk; ++j) acc += scores[j] * to_float(vp[j * a.dv + c]);
    op[c] = from_float<T>(acc * inv);
  }
}

bool shape_of(const ir::Node& n, AttentionShape& a) {
  if (n.domain() != "kiln" || n.op_type() != "Attention" || !all_static(n)) return false;
  if (!n.input(0) || !n.input(1) || !n.input(2)) return false;
  DataType dt = dtype_of(n.output(0));
  if (!is_kernel_float(dt)) return false;
  auto q = dims_of(n.input(0)), kt = dims_of(n.input(1)), v = dims_of(n.input(2)), y = dims_of(n.output(0));
  if (q.size() != 4 || kt.size() != 4 || v.size() != 4 || y.size() != 4) return false;
  for (int i = 0; i < 2; ++i)
    if (kt[i] != q[i] || v[i] != q[i]) return false;  // no broadcast over batch/heads here
  if (kt[2] != q[3] || v[2] != kt[3]) return false;
  for (int i = 0; i < 3; ++i)
    if (dtype_of(n.input(i)) != dt) return false;
  a = {q[0] * q[1], q[1], q[2], kt[3], q[3], v[3], n.attrs().get_float("scale", 1.f), false, {0, 0, 0, 0}, dt};
  if (a.sk > kMaxKeys || a.d > kMaxHeadDim) return false;
  if (const ir::Value* m = n.input(3)) {
    if (dtype_of(m) != dt) return false;
    auto md = dims_of(m);
    if (md.size() > 4) return false;
    auto strides = ops::broadcast_strides(md, {q[0], q[1], q[2], kt[3]});
    for (int i = 0; i < 4; ++i) a.mask_stride[i] = strides[i];
    a.mask = true;
  }
  return true;
}

class AttentionKernel : public runtime::Kernel {
 public:
  explicit AttentionKernel(AttentionShape a) : a_(a) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (a_.batch_heads == 0 || a_.s == 0) return Status::ok();
    dim3 grid(static_cast<unsigned>(a_.s), static_cast<unsigned>(a_.batch_heads));
    size_t smem = static_cast<size_t>(a_.sk + a_.d) * sizeof(float);
    auto stream = static_cast<cudaStream_t>(launch.stream);
    auto run = [&](auto tag) {
      using T = decltype(tag);
      const T* mask = a_.mask ? static_cast<const T*>(in[3].data) : nullptr;
      attention_kernel<T><<<grid, kThreads, smem, stream>>>(static_cast<const T*>(in[0].data),
                                                            static_cast<const T*>(in[1].data),
                                                            static_cast<const T*>(in[2].data), mask,
                                                            static_cast<T*>(out[0].data), a_);
    };
    if (a_.dt == DataType::kFloat32) run(float{});
    else if (a_.dt == DataType::kFloat16) run(__half{});
    else run(__nv_bfloat16{});
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  AttentionShape a_;
};

class AttentionTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.attention"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    AttentionShape a;
    return shape_of(n, a) && a.s < 65536 && a.batch_heads < 65536;
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    AttentionShape a;
    if (!shape_of(*spec.node, a)) return unsupported(spec.node->describe() + ": not supported by cuda.attention");
    return std::unique_ptr<runtime::Kernel>(new AttentionKernel(a));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaAttention, std::make_unique<AttentionTactic>());

}  // namespace kiln::cuda
