// CUDA, cuBLAS and cuDNN errors as Status values. Every call is checked; a failure names the
// call and, for out-of-memory, says so with kOutOfMemory so callers can report it cleanly.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "core/status.h"

namespace kiln::cuda {

Status cuda_status(cudaError_t err, const char* what);
Status cublas_status(cublasStatus_t err, const char* what);
Status cudnn_status(cudnnStatus_t err, const char* what);

}  // namespace kiln::cuda

#define KILN_CUDA_CHECK(expr)                                                  \
  do {                                                                         \
    cudaError_t kiln_cuda_err_ = (expr);                                       \
    if (kiln_cuda_err_ != cudaSuccess) return ::kiln::cuda::cuda_status(kiln_cuda_err_, #expr); \
  } while (0)

#define KILN_CUBLAS_CHECK(expr)                                                \
  do {                                                                         \
    cublasStatus_t kiln_cublas_err_ = (expr);                                  \
    if (kiln_cublas_err_ != CUBLAS_STATUS_SUCCESS) return ::kiln::cuda::cublas_status(kiln_cublas_err_, #expr); \
  } while (0)

#define KILN_CUDNN_CHECK(expr)                                                 \
  do {                                                                         \
    cudnnStatus_t kiln_cudnn_err_ = (expr);                                    \
    if (kiln_cudnn_err_ != CUDNN_STATUS_SUCCESS) return ::kiln::cuda::cudnn_status(kiln_cudnn_err_, #expr); \
  } while (0)

// After a kernel launch: the launch error, if any.
#define KILN_CUDA_CHECK_LAUNCH() KILN_CUDA_CHECK(cudaGetLastError())
