#include "backends/cuda/epilogue.h"

#include <cmath>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"

namespace kiln::cuda {
namespace {

template <typename T>
__global__ void epilogue_kernel(T* y, const T* z, int64_t n, PointwiseOp act, PointwiseParams p) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float v = to_float(y[i]);
    if (z) v += to_float(z[i]);
    y[i] = from_float<T>(apply_pointwise(act, v, 0.f, p));
  }
}

// The same over Vec16 units (n a multiple of the width, pointers 16-byte aligned). kOp is the
// activation when known at compile time (the run-time switch, inlined for each of the unrolled
// elements, cost registers and with them the bytes in flight: the GELU after ViT's MLP product
// ran at ~half its memory bandwidth); kAny reads `act` at run time.
constexpr int kAny = -1;
template <typename T, int kOp>
__global__ void epilogue_vec_kernel(T* y, const T* z, int64_t units, PointwiseOp act, PointwiseParams p) {
  using V = Vec16<T>;
  const PointwiseOp op = kOp == kAny ? act : static_cast<PointwiseOp>(kOp);
  for (int64_t u = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; u < units;
       u += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    V a = reinterpret_cast<const V*>(y)[u];
    V b{};
    if (z) b = reinterpret_cast<const V*>(z)[u];
#pragma unroll
    for (int e = 0; e < V::kWidth; ++e) {
      float v = to_float(a.v[e]);
      if (z) v += to_float(b.v[e]);
      a.v[e] = from_float<T>(apply_pointwise(op, v, 0.f, p));
    }
    reinterpret_cast<V*>(y)[u] = a;
  }
}

template <typename T>
void launch_typed(void* y, const void* z, int64_t n, const Epilogue& e, cudaStream_t stream) {
  T* yt = static_cast<T*>(y);
  const T* zt = static_cast<const T*>(z);
  if (vec16_ok<T>(n, {y, z})) {
    const int64_t units = n / Vec16<T>::kWidth;
    const int grid = grid_for_units(units);
    switch (e.act) {
      case PointwiseOp::kGelu:
        epilogue_vec_kernel<T, static_cast<int>(PointwiseOp::kGelu)><<<grid, 256, 0, stream>>>(yt, zt, units, e.act, e.params);
        break;
      case PointwiseOp::kRelu:
        epilogue_vec_kernel<T, static_cast<int>(PointwiseOp::kRelu)><<<grid, 256, 0, stream>>>(yt, zt, units, e.act, e.params);
        break;
      case PointwiseOp::kIdentity:
        epilogue_vec_kernel<T, static_cast<int>(PointwiseOp::kIdentity)><<<grid, 256, 0, stream>>>(yt, zt, units, e.act, e.params);
        break;
      default:
        epilogue_vec_kernel<T, kAny><<<grid, 256, 0, stream>>>(yt, zt, units, e.act, e.params);
    }
  } else {
    epilogue_kernel<T><<<grid_for_units(n), 256, 0, stream>>>(yt, zt, n, e.act, e.params);
  }
}

}  // namespace

bool epilogue_from_node(const ir::Node& node, Epilogue& e) {
  const auto& a = node.attrs();
  e.name = a.get_string("activation", "");
  float alpha = a.get_float("activation_alpha", 0.f), beta = a.get_float("activation_beta", 0.f);
  e.params = {alpha, beta};
  if (e.name.empty()) e.act = PointwiseOp::kIdentity;
  else if (e.name == "Relu") e.act = PointwiseOp::kRelu;
  else if (e.name == "Clip") e.act = PointwiseOp::kClip;
  else if (e.name == "Sigmoid") e.act = PointwiseOp::kSigmoid;
  else if (e.name == "Silu") { e.act = PointwiseOp::kSwish; e.params.alpha = 1.f; }
  else if (e.name == "Swish") e.act = PointwiseOp::kSwish;
  else if (e.name == "Gelu") e.act = PointwiseOp::kGelu;
  else if (e.name == "GeluTanh") e.act = PointwiseOp::kGeluTanh;
  else if (e.name == "LeakyRelu") e.act = PointwiseOp::kLeakyRelu;
  else if (e.name == "HardSwish") e.act = PointwiseOp::kHardSwish;
  else if (e.name == "HardSigmoid") e.act = PointwiseOp::kHardSigmoid;
  else if (e.name == "Tanh") e.act = PointwiseOp::kTanh;
  else return false;
  return true;
}

Status launch_epilogue(void* y, const void* z, int64_t n, DataType dt, const Epilogue& e, cudaStream_t stream) {
  if (n == 0 || (!z && e.act == PointwiseOp::kIdentity)) return Status::ok();
  switch (dt) {
    case DataType::kFloat32: launch_typed<float>(y, z, n, e, stream); break;
    case DataType::kFloat16: launch_typed<__half>(y, z, n, e, stream); break;
    case DataType::kBFloat16: launch_typed<__nv_bfloat16>(y, z, n, e, stream); break;
    default: return internal_error("epilogue: unexpected dtype");
  }
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

}  // namespace kiln::cuda
