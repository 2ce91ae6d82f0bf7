// D[M,N] = GELU_erf(A[M,K] * B[K,N] + bias[N]) in float16, all row-major, as one CUTLASS
// Hopper kernel (TMA + wgmma, warp-specialized): the activation runs on the accumulators in
// registers, so D is written once (cuBLASLt's epilogue has only the tanh form of GELU). The erf
// GELU is evaluated as in gelu_erf_fitted.h (relative error <= 1.7e-5).
// The kernel is compiled for sm_90a only (cutlass_gemm_gelu_sm90a.cu): it runs on compute
// capability 9.0 and nowhere else.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/status.h"

namespace kiln::cuda {

struct GeluGemmShape {
  int64_t m = 0, n = 0, k = 0;
};

// Whether the kernel takes this shape (CUTLASS's can_implement: n, k multiples of 8) and the
// workspace it needs.
Status cutlass_gelu_gemm_check(const GeluGemmShape& s, size_t* workspace_bytes);

// Once per kernel object, on the device that will run it: the kernel's shared-memory limit
// and the SM count the persistent scheduler sizes its grid with.
Status cutlass_gelu_gemm_prepare(int* sm_count);

// Enqueues the product on `stream`. a, b, d and bias (may be null: no bias) must be 16-byte
// aligned; workspace holds at least what cutlass_gelu_gemm_check reported.
Status cutlass_gelu_gemm_run(const GeluGemmShape& s, const void* a, const void* b, const void* bias, void* d,
                             void* workspace, size_t workspace_bytes, int sm_count, cudaStream_t stream);

}  // namespace kiln::cuda
