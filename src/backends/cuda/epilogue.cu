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
  int grid = static_cast<int>(std::min<int64_t>((n + 255) / 256, 132 * 32));
  switch (dt) {
    case DataType::kFloat32:
      epilogue_kernel<float><<<grid, 256, 0, stream>>>(static_cast<float*>(y), static_cast<const float*>(z), n, e.act, e.params);
      break;
    case DataType::kFloat16:
      epilogue_kernel<__half><<<grid, 256, 0, stream>>>(static_cast<__half*>(y), static_cast<const __half*>(z), n, e.act, e.params);
      break;
    case DataType::kBFloat16:
      epilogue_kernel<__nv_bfloat16><<<grid, 256, 0, stream>>>(static_cast<__nv_bfloat16*>(y),
                                                               static_cast<const __nv_bfloat16*>(z), n, e.act, e.params);
      break;
    default:
      return internal_error("epilogue: unexpected dtype");
  }
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

}  // namespace kiln::cuda
