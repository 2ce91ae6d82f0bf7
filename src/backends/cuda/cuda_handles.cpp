#include "backends/cuda/cuda_handles.h"

#include "backends/cuda/cuda_check.h"

namespace kiln::cuda {

Result<CudaHandles*> create_handles() {
  auto* h = new CudaHandles();
  cudnnStatus_t st = cudnnCreate(&h->cudnn);
  if (st != CUDNN_STATUS_SUCCESS) {
    delete h;
    return cudnn_status(st, "cudnnCreate");
  }
  return h;
}

void destroy_handles(CudaHandles* handles) {
  if (!handles) return;
  if (handles->cudnn) cudnnDestroy(handles->cudnn);
  delete handles;
}

Result<CudaHandles*> handles_for(const runtime::LaunchContext& launch) {
  if (launch.backend_state) return static_cast<CudaHandles*>(launch.backend_state);
  static std::mutex lock;
  static Result<CudaHandles*> shared = [] {
    auto h = create_handles();
    if (h.is_ok()) (*h)->lock = &lock;
    return h;
  }();
  return shared;
}

Result<cublasLtHandle_t> shared_cublaslt_handle() {
  static std::once_flag once;
  static cublasLtHandle_t handle = nullptr;
  static cublasStatus_t status = CUBLAS_STATUS_SUCCESS;
  std::call_once(once, [] { status = cublasLtCreate(&handle); });
  if (status != CUBLAS_STATUS_SUCCESS) return cublas_status(status, "cublasLtCreate");
  return handle;
}

}  // namespace kiln::cuda
