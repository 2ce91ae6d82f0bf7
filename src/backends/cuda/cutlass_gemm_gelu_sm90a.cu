// The one CUTLASS instantiation behind cuda.cutlass.matmul_gelu (cutlass_gemm_gelu.h), compiled
// for sm_90a only (CMakeLists.txt: the *_sm90a.cu object library).
//
// Configuration: cooperative warp specialization, 256x128x64 tiles, cluster 1x2x1 (two CTAs
// along N share each A tile through TMA multicast; ViT's N = 3072 is 24 tiles), and the GELU of
// gelu_erf_fitted.h (the epilogue's issue time is what this kernel loses to a plain product).
// Measured on the H100, ViT-B/16 b256 FP16 with CUDA graphs (bench/NOTES.md): with erff,
// 20.5-20.9 ms against ping-pong 128x128 (cluster 2x1) 21.1-21.5 and cooperative 128x256 20.6
// (cuBLASLt + the GELU pass: 21.4-21.6); with the fitted GELU, 19.70-19.77 ms against erff's
// 20.48-20.54 in the same call, ping-pong 128x128 19.85-20.03.
#include "backends/cuda/cutlass_gemm_gelu_kernel.cuh"

namespace kiln::cuda {

#if defined(CUTLASS_ARCH_MMA_SM90_SUPPORTED)

namespace {
using Config = CutlassGeluGemm<cute::Shape<cute::_256, cute::_128, cute::_64>, cute::Shape<cute::_1, cute::_2, cute::_1>,
                               cutlass::gemm::KernelTmaWarpSpecializedCooperative,
                               cutlass::epilogue::TmaWarpSpecializedCooperative, GeluErfFitted>;
}  // namespace

Status cutlass_gelu_gemm_check(const GeluGemmShape& s, size_t* workspace_bytes) {
  return Config::check(s, workspace_bytes);
}
Status cutlass_gelu_gemm_prepare(int* sm_count) { return Config::prepare(sm_count); }
Status cutlass_gelu_gemm_run(const GeluGemmShape& s, const void* a, const void* b, const void* bias, void* d,
                             void* workspace, size_t workspace_bytes, int sm_count, cudaStream_t stream) {
  return Config::run(s, a, b, bias, d, workspace, workspace_bytes, sm_count, stream);
}

#else  // nvcc without sm_90a support: no Hopper kernels

Status cutlass_gelu_gemm_check(const GeluGemmShape&, size_t*) {
  return unsupported("cuda.cutlass.matmul_gelu: built without sm_90a support");
}
Status cutlass_gelu_gemm_prepare(int*) { return cutlass_gelu_gemm_check({}, nullptr); }
Status cutlass_gelu_gemm_run(const GeluGemmShape&, const void*, const void*, const void*, void*, void*, size_t, int,
                             cudaStream_t) {
  return cutlass_gelu_gemm_check({}, nullptr);
}

#endif

}  // namespace kiln::cuda
