#include "backends/cuda/cuda_check.h"

#include <string>

namespace kiln::cuda {

Status cuda_status(cudaError_t err, const char* what) {
  std::string msg = std::string(what) + " failed: " + cudaGetErrorString(err);
  if (err == cudaErrorMemoryAllocation) return Status(StatusCode::kOutOfMemory, "GPU out of memory: " + msg);
  return internal_error("CUDA: " + msg);
}

Status cublas_status(cublasStatus_t err, const char* what) {
  std::string msg = std::string(what) + " failed: cuBLAS status " + std::to_string(static_cast<int>(err));
  if (err == CUBLAS_STATUS_ALLOC_FAILED) return Status(StatusCode::kOutOfMemory, "GPU out of memory: " + msg);
  if (err == CUBLAS_STATUS_NOT_SUPPORTED) return unsupported(msg);
  return internal_error(msg);
}

Status cudnn_status(cudnnStatus_t err, const char* what) {
  std::string msg = std::string(what) + " failed: " + cudnnGetErrorString(err);
  if (err == CUDNN_STATUS_ALLOC_FAILED) return Status(StatusCode::kOutOfMemory, "GPU out of memory: " + msg);
  if (err == CUDNN_STATUS_NOT_SUPPORTED) return unsupported(msg);
  return internal_error(msg);
}

}  // namespace kiln::cuda
