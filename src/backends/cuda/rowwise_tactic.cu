// cuda.rowwise: ops that reduce along one axis of a [outer, axis, inner] view and write back:
// Softmax, LogSoftmax (opset 13+ single-axis form), LayerNormalization / kiln::LayerNorm (one
// output), and the global pools GlobalAveragePool / GlobalMaxPool (NCHW). One block per row;
// float accumulation for every dtype. LayerNorm rows of up to 4096 elements whose length is a
// multiple of 16 bytes take a faster kernel: one warp per row, the row held in registers, every
// access 16 bytes wide (one read of x instead of three, no block barriers).
#include <cfloat>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

enum class RowOp { kSoftmax, kLogSoftmax, kLayerNorm, kGlobalAvg, kGlobalMax };

constexpr int kThreads = 256;

__device__ float block_reduce(float v, bool is_max, float* shared) {
  for (int o = 16; o > 0; o >>= 1) {
    float other = __shfl_xor_sync(0xffffffff, v, o);
    v = is_max ? fmaxf(v, other) : v + other;
  }
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  int warps = blockDim.x / 32;
  v = threadIdx.x < warps ? shared[threadIdx.x] : (is_max ? -FLT_MAX : 0.f);
  if (warp == 0)
    for (int o = 16; o > 0; o >>= 1) {
      float other = __shfl_xor_sync(0xffffffff, v, o);
      v = is_max ? fmaxf(v, other) : v + other;
    }
  if (threadIdx.x == 0) shared[0] = v;
  __syncthreads();
  float result = shared[0];
  __syncthreads();
  return result;
}

// Row r of the [outer, len, inner] view: element j is at (r / inner) * len * inner + j * inner + r % inner.
template <typename T>
__global__ void rowwise_kernel(const T* x, const T* gamma, const T* beta, T* y, int64_t len, int64_t inner,
                               RowOp op, float eps) {
  __shared__ float shared[32];
  int64_t r = blockIdx.x;
  int64_t base = (r / inner) * len * inner + r % inner;
  auto at = [&](int64_t j) { return base + j * inner; };
  if (op == RowOp::kSoftmax || op == RowOp::kLogSoftmax) {
    float m = -FLT_MAX;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) m = fmaxf(m, to_float(x[at(j)]));
    m = block_reduce(m, true, shared);
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) s += expf(to_float(x[at(j)]) - m);
    s = block_reduce(s, false, shared);
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
      float v = to_float(x[at(j)]) - m;
      y[at(j)] = from_float<T>(op == RowOp::kSoftmax ? expf(v) / s : v - logf(s));
    }
  } else if (op == RowOp::kLayerNorm) {  // inner == 1: normalized axes are the trailing ones
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) s += to_float(x[at(j)]);
    float mean = block_reduce(s, false, shared) / len;
    float v = 0.f;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
      float d = to_float(x[at(j)]) - mean;
      v += d * d;
    }
    float rstd = rsqrtf(block_reduce(v, false, shared) / len + eps);
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
      float out = (to_float(x[at(j)]) - mean) * rstd * to_float(gamma[j]);
      if (beta) out += to_float(beta[j]);
      y[at(j)] = from_float<T>(out);
    }
  } else {  // global pools: one value per row
    bool is_max = op == RowOp::kGlobalMax;
    float acc = is_max ? -FLT_MAX : 0.f;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
      float v = to_float(x[at(j)]);
      acc = is_max ? fmaxf(acc, v) : acc + v;
    }
    acc = block_reduce(acc, is_max, shared);
    if (threadIdx.x == 0) y[r] = from_float<T>(is_max ? acc : acc / len);
  }
}

// LayerNorm, one warp per row: each lane holds kVecs 16-byte vectors of the row (len must be a
// multiple of the vector width and at most 32 * kVecs vectors). Mean, then the variance of
// (x - mean) like the reference, both from registers.
template <typename T, int kVecs>
__global__ void layernorm_warp_kernel(const T* __restrict__ x, const T* __restrict__ gamma,
                                      const T* __restrict__ beta, T* __restrict__ y, int64_t rows, int len,
                                      float eps) {
  constexpr int kWidth = 16 / sizeof(T);
  struct alignas(16) Vec {
    T v[kWidth];
  };
  const int lane = threadIdx.x % 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (row >= rows) return;
  const int vecs = len / kWidth;
  const Vec* xr = reinterpret_cast<const Vec*>(x + row * len);
  float v[kVecs][kWidth];
  float sum = 0.f;
#pragma unroll
  for (int k = 0; k < kVecs; ++k) {
    int idx = lane + k * 32;
    if (idx < vecs) {
      Vec in = xr[idx];
#pragma unroll
      for (int e = 0; e < kWidth; ++e) {
        v[k][e] = to_float(in.v[e]);
        sum += v[k][e];
      }
    }
  }
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffff, sum, o);
  const float mean = sum / len;
  float var = 0.f;
#pragma unroll
  for (int k = 0; k < kVecs; ++k)
    if (lane + k * 32 < vecs)
#pragma unroll
      for (int e = 0; e < kWidth; ++e) {
        float d = v[k][e] - mean;
        var += d * d;
      }
  for (int o = 16; o > 0; o >>= 1) var += __shfl_xor_sync(0xffffffff, var, o);
  const float rstd = rsqrtf(var / len + eps);
  Vec* yr = reinterpret_cast<Vec*>(y + row * len);
  const Vec* g = reinterpret_cast<const Vec*>(gamma);
  const Vec* b = reinterpret_cast<const Vec*>(beta);
#pragma unroll
  for (int k = 0; k < kVecs; ++k) {
    int idx = lane + k * 32;
    if (idx < vecs) {
      Vec gv = g[idx], out;
      Vec bv{};
      if (beta) bv = b[idx];
#pragma unroll
      for (int e = 0; e < kWidth; ++e) {
        float r = (v[k][e] - mean) * rstd * to_float(gv.v[e]);
        if (beta) r += to_float(bv.v[e]);
        out.v[e] = from_float<T>(r);
      }
      yr[idx] = out;
    }
  }
}

// Launches the warp-per-row LayerNorm when the row fits; false (nothing launched) otherwise.
template <typename T>
bool launch_layernorm_warp(const T* x, const T* gamma, const T* beta, T* y, int64_t rows, int64_t len, float eps,
                           cudaStream_t stream) {
  constexpr int kWidth = 16 / sizeof(T);
  auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (len % kWidth != 0 || len > 32 * 8 * kWidth || !aligned(x) || !aligned(y) || !aligned(gamma) ||
      (beta && !aligned(beta)))
    return false;
  const int64_t vecs = len / kWidth;
  constexpr int kWarps = 4;
  const unsigned blocks = static_cast<unsigned>((rows + kWarps - 1) / kWarps);
  const int n = static_cast<int>(len);
  if (vecs <= 32) layernorm_warp_kernel<T, 1><<<blocks, kWarps * 32, 0, stream>>>(x, gamma, beta, y, rows, n, eps);
  else if (vecs <= 64) layernorm_warp_kernel<T, 2><<<blocks, kWarps * 32, 0, stream>>>(x, gamma, beta, y, rows, n, eps);
  else if (vecs <= 128) layernorm_warp_kernel<T, 4><<<blocks, kWarps * 32, 0, stream>>>(x, gamma, beta, y, rows, n, eps);
  else layernorm_warp_kernel<T, 8><<<blocks, kWarps * 32, 0, stream>>>(x, gamma, beta, y, rows, n, eps);
  return true;
}

struct RowPlan {
  RowOp op;
  int64_t rows, len, inner;
  float eps;
  DataType dt;
};

bool plan_row(const ir::Node& n, RowPlan& p) {
  if (!all_static(n) || !n.input(0) || !n.output(0)) return false;
  DataType dt = dtype_of(n.input(0));
  if (!is_kernel_float(dt) || dtype_of(n.output(0)) != dt) return false;
  auto x = dims_of(n.input(0));
  const std::string& op = n.op_type();
  int64_t rank = static_cast<int64_t>(x.size());
  auto split = [&](int64_t first, int64_t last) {  // [first, last) is the row
    p.rows = 1;
    p.len = 1;
    p.inner = 1;
    for (int64_t d = 0; d < first; ++d) p.rows *= x[d];
    for (int64_t d = first; d < last; ++d) p.len *= x[d];
    for (int64_t d = last; d < rank; ++d) p.inner *= x[d];
    p.rows *= p.inner;
  };
  p.dt = dt;
  p.eps = 0;
  bool onnx = n.domain().empty();
  if (onnx && (op == "Softmax" || op == "LogSoftmax")) {
    if (n.owner() && n.owner()->opset("") < 13) return false;  // older opsets flatten to 2-D
    int64_t axis = n.attrs().get_int("axis", -1);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return false;
    p.op = op == "Softmax" ? RowOp::kSoftmax : RowOp::kLogSoftmax;
    split(axis, axis + 1);
    return true;
  }
  if ((onnx && op == "LayerNormalization") || (n.domain() == "kiln" && op == "LayerNorm")) {
    if (n.num_outputs() > 1 && (n.output(1) || n.output(2))) return false;
    int64_t axis = n.attrs().get_int("axis", -1);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank || !n.input(1)) return false;
    p.op = RowOp::kLayerNorm;
    p.eps = n.attrs().get_float("epsilon", 1e-5f);
    split(axis, rank);
    auto g = dims_of(n.input(1));
    int64_t gn = 1;
    for (int64_t d : g) gn *= d;
    if (gn != p.len || dtype_of(n.input(1)) != dt) return false;
    if (const ir::Value* b = n.input(2)) {
      auto bd = dims_of(b);
      int64_t bn = 1;
      for (int64_t d : bd) bn *= d;
      if (bn != p.len || dtype_of(b) != dt) return false;
    }
    return true;
  }
  if (onnx && (op == "GlobalAveragePool" || op == "GlobalMaxPool")) {
    if (rank < 3) return false;
    p.op = op == "GlobalAveragePool" ? RowOp::kGlobalAvg : RowOp::kGlobalMax;
    split(2, rank);
    return true;
  }
  return false;
}

class RowKernel : public runtime::Kernel {
 public:
  explicit RowKernel(RowPlan p) : p_(p) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (p_.rows == 0) return Status::ok();
    auto stream = static_cast<cudaStream_t>(launch.stream);
    auto launch_typed = [&](auto tag) {
      using T = decltype(tag);
      const T* gamma = in.size() > 1 ? static_cast<const T*>(in[1].data) : nullptr;
      const T* beta = in.size() > 2 ? static_cast<const T*>(in[2].data) : nullptr;
      if (p_.op == RowOp::kLayerNorm && p_.inner == 1 &&
          launch_layernorm_warp<T>(static_cast<const T*>(in[0].data), gamma, beta, static_cast<T*>(out[0].data),
                                   p_.rows, p_.len, p_.eps, stream))
        return;
      rowwise_kernel<T><<<static_cast<unsigned>(p_.rows), kThreads, 0, stream>>>(
          static_cast<const T*>(in[0].data), gamma, beta, static_cast<T*>(out[0].data), p_.len, p_.inner, p_.op, p_.eps);
    };
    switch (p_.dt) {
      case DataType::kFloat32: launch_typed(float{}); break;
      case DataType::kFloat16: launch_typed(__half{}); break;
      default: launch_typed(__nv_bfloat16{}); break;
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  RowPlan p_;
};

class RowTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.rowwise"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    RowPlan p;
    return plan_row(n, p) && p.rows < (int64_t{1} << 31);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    RowPlan p;
    if (!plan_row(*spec.node, p)) return unsupported(spec.node->describe() + ": not supported by cuda.rowwise");
    return std::unique_ptr<runtime::Kernel>(new RowKernel(p));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaRowwise, std::make_unique<RowTactic>());

}  // namespace kiln::cuda
