// start_library_warm_up (cuda_handles.h): a cold process pays tens of milliseconds the first time
// it uses cuBLASLt's matmul machinery and cuDNN's engines (loading their kernel libraries and
// tables), whatever the problem. Measured on the H100 (ResNet-50 engine load): creating the
// handles alone did not move that cost out of the first layers; it sits in the first heuristic or
// algorithm check of cuBLASLt and the first plan of cuDNN. So each thread here does one such
// call on a tiny problem, in parallel with the other library and with the engine's own loading.
// KILN_LIBRARY_WARM_UP=0 turns it off (for measuring).
#include <cublasLt.h>
#include <cudnn_frontend.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "backends/cuda/cuda_handles.h"

namespace kiln::cuda {
namespace {

namespace fe = cudnn_frontend;

// One heuristic query for a float16 128x128x128 product (no device memory, no launch).
void warm_up_cublaslt() {
  auto handle = shared_cublaslt_handle();
  if (!handle.is_ok()) return;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  if (cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS &&
      cublasLtMatrixLayoutCreate(&a, CUDA_R_16F, 128, 128, 128) == CUBLAS_STATUS_SUCCESS &&
      cublasLtMatrixLayoutCreate(&b, CUDA_R_16F, 128, 128, 128) == CUBLAS_STATUS_SUCCESS &&
      cublasLtMatrixLayoutCreate(&c, CUDA_R_16F, 128, 128, 128) == CUBLAS_STATUS_SUCCESS &&
      cublasLtMatmulPreferenceCreate(&pref) == CUBLAS_STATUS_SUCCESS) {
    cublasLtMatmulHeuristicResult_t result;
    int found = 0;
    (void)cublasLtMatmulAlgoGetHeuristic(*handle, desc, a, b, c, c, pref, 1, &result, &found);
  }
  if (pref) cublasLtMatmulPreferenceDestroy(pref);
  for (auto* l : {a, b, c})
    if (l) cublasLtMatrixLayoutDestroy(l);
  if (desc) cublasLtMatmulDescDestroy(desc);
}

// The shared handles, then one plan for a float16 NHWC 3x3 convolution of 1x8x8x8 on its own
// handle (the frontend throws when no engine fits: then there is nothing to warm).
void warm_up_cudnn() {
  (void)handles_for({});
  cudnnHandle_t handle = nullptr;
  if (cudnnCreate(&handle) != CUDNN_STATUS_SUCCESS) return;
  try {
    fe::graph::Graph g;
    g.set_io_data_type(fe::DataType_t::HALF)
        .set_intermediate_data_type(fe::DataType_t::FLOAT)
        .set_compute_data_type(fe::DataType_t::FLOAT);
    auto x = g.tensor(fe::graph::Tensor_attributes().set_name("x").set_dim({1, 8, 8, 8}).set_stride({512, 1, 64, 8}));
    auto w = g.tensor(fe::graph::Tensor_attributes().set_name("w").set_dim({8, 8, 3, 3}).set_stride({72, 1, 24, 8}));
    auto y = g.conv_fprop(x, w, fe::graph::Conv_fprop_attributes().set_padding({1, 1}).set_stride({1, 1}).set_dilation({1, 1}));
    y->set_output(true).set_data_type(fe::DataType_t::HALF);
    if (g.validate().is_good() && g.build_operation_graph(handle).is_good() &&
        g.create_execution_plans({fe::HeurMode_t::A}).is_good() && g.check_support(handle).is_good())
      (void)g.build_plans(handle);
  } catch (const std::exception&) {
  }
  cudnnDestroy(handle);
}

}  // namespace

LibraryWarmUp::~LibraryWarmUp() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

std::unique_ptr<LibraryWarmUp> start_library_warm_up() {
  static std::once_flag once;
  std::unique_ptr<LibraryWarmUp> started;
  std::call_once(once, [&] {
    const char* env = std::getenv("KILN_LIBRARY_WARM_UP");
    if (env && std::strcmp(env, "0") == 0) return;
    started.reset(new LibraryWarmUp());
    // Errors are not reported here: the first layer that needs the library reports them.
    started->threads_.emplace_back(warm_up_cublaslt);
    started->threads_.emplace_back(warm_up_cudnn);
  });
  return started;
}

}  // namespace kiln::cuda
