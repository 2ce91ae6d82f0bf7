// cuda.attention: kiln::Attention (docs/FUSED_OPS.md): softmax(Q KT * scale + mask) V in one
// kernel, one block per query row: the scores stay in shared memory, so the [S, S] matrix never
// reaches device memory. CUDA cores, float accumulation. Reads Q/KT/V/Y through strides, so the
// perm_* layouts (e.g. [B, S, H, D]) need no copies. The tensor-core tactic cuda.cudnn.sdpa
// (attention_cudnn.cpp) is registered here, before this one, so it is preferred whenever it
// supports a node (registration order within one file is defined); it falls back to this kernel
// when cuDNN refuses the graph at load time.
#include <cfloat>

#include "backends/cuda/attention_shape.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int64_t kMaxKeys = 8192;  // scores in shared memory: 32 KiB
constexpr int64_t kMaxHeadDim = 256;

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
  const T* qp = q + b * a.q_stride[0] + h * a.q_stride[1] + row * a.q_stride[2];
  const T* kp = kt + b * a.kt_stride[0] + h * a.kt_stride[1];
  const T* vp = v + b * a.v_stride[0] + h * a.v_stride[1];
  for (int64_t i = threadIdx.x; i < a.d; i += kThreads) qrow[i] = to_float(qp[i * a.q_stride[3]]);
  __syncthreads();
  float m = -FLT_MAX;
  for (int64_t j = threadIdx.x; j < a.sk; j += kThreads) {
    float acc = 0.f;
    for (int64_t i = 0; i < a.d; ++i) acc += qrow[i] * to_float(kp[i * a.kt_stride[2] + j * a.kt_stride[3]]);
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
  T* op = out + b * a.y_stride[0] + h * a.y_stride[1] + row * a.y_stride[2];
  for (int64_t c = threadIdx.x; c < a.dv; c += kThreads) {
    float acc = 0.f;
    for (int64_t j = 0; j < a.sk; ++j) acc += scores[j] * to_float(vp[j * a.v_stride[2] + c * a.v_stride[3]]);
    op[c * a.y_stride[3]] = from_float<T>(acc * inv);
  }
}

bool shape_of(const ir::Node& n, AttentionShape& a) {
  return read_attention(n, a) && a.sk <= kMaxKeys && a.d <= kMaxHeadDim;
}

// Copies a strided 4-D view into a buffer with other strides (element size 2 or 4 bytes).
template <typename T>
__global__ void strided_copy_kernel(const T* src, T* dst, StridedCopy c, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t r = i, so = 0, dof = 0;
    for (int k = 3; k >= 0; --k) {
      int64_t idx = r % c.dims[k];
      r /= c.dims[k];
      so += idx * c.src_strides[k];
      dof += idx * c.dst_strides[k];
    }
    dst[dof] = src[so];
  }
}

class AttentionKernel : public runtime::Kernel {
 public:
  explicit AttentionKernel(AttentionShape a) : a_(a) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (a_.batch_heads == 0 || a_.s == 0 || a_.dv == 0) return Status::ok();
    dim3 grid(static_cast<unsigned>(a_.s), static_cast<unsigned>(a_.batch_heads));
    size_t smem = static_cast<size_t>(a_.sk + a_.d) * sizeof(float);
    auto stream = static_cast<cudaStream_t>(launch.stream);
    auto run = [&](auto tag) {
      using T = decltype(tag);
      const T* mask = a_.mask ? static_cast<const T*>(in[3].data) : nullptr;
      attention_kernel<T><<<grid, kThreads, smem, stream>>>(static_cast<const T*>(in[0].data) + a_.q_offset,
                                                            static_cast<const T*>(in[1].data) + a_.kt_offset,
                                                            static_cast<const T*>(in[2].data) + a_.v_offset,
                                                            mask, static_cast<T*>(out[0].data), a_);
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

Status launch_strided_copy(const void* src, void* dst, const StridedCopy& c, size_t elem_bytes, cudaStream_t stream) {
  int64_t n = c.dims[0] * c.dims[1] * c.dims[2] * c.dims[3];
  if (n == 0) return Status::ok();
  int64_t blocks = std::min<int64_t>((n + 255) / 256, 65535);
  if (elem_bytes == 2) {
    strided_copy_kernel<uint16_t><<<static_cast<unsigned>(blocks), 256, 0, stream>>>(
        static_cast<const uint16_t*>(src), static_cast<uint16_t*>(dst), c, n);
  } else if (elem_bytes == 4) {
    strided_copy_kernel<uint32_t><<<static_cast<unsigned>(blocks), 256, 0, stream>>>(
        static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), c, n);
  } else {
    return internal_error("launch_strided_copy: unsupported element size");
  }
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

std::unique_ptr<runtime::Tactic> make_cudnn_sdpa_tactic();  // attention_cudnn.cpp

// Preference order: cuda.cudnn.sdpa first (the builder takes the first candidate that fits the
// workspace limit), then the CUDA-core kernel, which takes every node the cuDNN tactic takes.
KILN_REGISTER_TACTIC(CudnnSdpa, make_cudnn_sdpa_tactic());
KILN_REGISTER_TACTIC(CudaAttention, std::make_unique<AttentionTactic>());

}  // namespace kiln::cuda
