// The CUTLASS kernel behind cuda.cutlass.matmul_gelu as a template over its tile, cluster,
// schedules and activation, so that other configurations can be tried (each in its own
// *_sm90a.cu: one CUTLASS instantiation per translation unit keeps 2-core builds parallel).
// cutlass_gemm_gelu_sm90a.cu instantiates the one in use.
#pragma once
#include <string>

#include "backends/cuda/cutlass_gemm_gelu.h"
#include "backends/cuda/gelu_erf_fitted.h"
#include "cute/tensor.hpp"
#include "cutlass/cutlass.h"
#include "cutlass/epilogue/collective/collective_builder.hpp"
#include "cutlass/epilogue/fusion/operations.hpp"
#include "cutlass/epilogue/thread/activation.h"
#include "cutlass/gemm/collective/collective_builder.hpp"
#include "cutlass/gemm/device/gemm_universal_adapter.h"
#include "cutlass/gemm/dispatch_policy.hpp"
#include "cutlass/gemm/kernel/gemm_universal.hpp"
#include "cutlass/kernel_hardware_info.h"

namespace kiln::cuda {

// The erf GELU of gelu_erf_fitted.h as a CUTLASS epilogue activation (in the shape of
// cutlass::epilogue::thread::GELU, which evaluates erff).
template <class T>
struct GeluErfFitted {
  static const bool kIsHeavy = true;
  CUTLASS_HOST_DEVICE T operator()(T const& value) const { return T(gelu_erf_fitted(static_cast<float>(value))); }
};

template <class T, int N>
struct GeluErfFitted<cutlass::Array<T, N>> {
  static const bool kIsHeavy = true;
  CUTLASS_HOST_DEVICE cutlass::Array<T, N> operator()(cutlass::Array<T, N> const& value) const {
    cutlass::Array<T, N> y;
    CUTLASS_PRAGMA_UNROLL
    for (int i = 0; i < N; ++i) y[i] = T(gelu_erf_fitted(static_cast<float>(value[i])));
    return y;
  }
};

template <class TileShape, class ClusterShape, class MainloopSchedule, class EpilogueSchedule,
          template <class> class Activation, class EpilogueTile = cutlass::epilogue::collective::EpilogueTileAuto>
struct CutlassGeluGemm {
  using Element = cutlass::half_t;
  using Layout = cutlass::layout::RowMajor;  // A [M,K], B [K,N] (N contiguous), D [M,N]
  static constexpr int kAlignment = 8;       // 16 bytes of float16: TMA's unit

  // D = Act(1 * acc + 0 * C + bias[n]): the per-column bias is indexed by N.
  using Fusion = cutlass::epilogue::fusion::LinCombPerColBiasEltAct<Activation, Element, float, Element /*bias*/>;

  using Epilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,
      EpilogueTile, float, float, void /*no C*/, Layout, kAlignment, Element,
      Layout, kAlignment, EpilogueSchedule, Fusion>::CollectiveOp;

  using Mainloop = typename cutlass::gemm::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, Element, Layout, kAlignment, Element, Layout, kAlignment,
      float, TileShape, ClusterShape,
      cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(sizeof(typename Epilogue::SharedStorage))>,
      MainloopSchedule>::CollectiveOp;

  using Kernel = cutlass::gemm::kernel::GemmUniversal<cute::Shape<int, int, int, int>, Mainloop, Epilogue>;
  using Gemm = cutlass::gemm::device::GemmUniversalAdapter<Kernel>;

  static Status cutlass_error(cutlass::Status st, const char* what) {
    return internal_error(std::string("cuda.cutlass.matmul_gelu: ") + what + " failed: " + cutlassGetStatusString(st));
  }
  static Status cuda_error(cudaError_t err, const char* what) {
    return internal_error(std::string("cuda.cutlass.matmul_gelu: ") + what + " failed: " + cudaGetErrorString(err));
  }

  static typename Gemm::Arguments arguments(const GeluGemmShape& s, const void* a, const void* b, const void* bias,
                                            void* d, int sm_count) {
    using namespace cute;
    const int m = static_cast<int>(s.m), n = static_cast<int>(s.n), k = static_cast<int>(s.k);
    // Packed row-major strides in CUTLASS's (rows, cols, batch) order: A (M,K), B as (N,K), D (M,N).
    typename Kernel::StrideA stride_a = make_stride(s.k, Int<1>{}, s.m * s.k);
    typename Kernel::StrideB stride_b = make_stride(Int<1>{}, s.n, s.n * s.k);
    typename Kernel::StrideD stride_d = make_stride(s.n, Int<1>{}, s.m * s.n);
    typename Gemm::Arguments args{
        cutlass::gemm::GemmUniversalMode::kGemm,
        {m, n, k, 1},
        {static_cast<const Element*>(a), stride_a, static_cast<const Element*>(b), stride_b},
        {{}, nullptr, stride_d, static_cast<Element*>(d), stride_d}};
    auto& fusion = args.epilogue.thread;
    fusion.alpha = 1.f;
    fusion.beta = 0.f;
    fusion.bias_ptr = static_cast<const Element*>(bias);  // null: a bias of zeros
    args.hw_info.device_id = 0;
    args.hw_info.sm_count = sm_count;
    return args;
  }

  static Status check(const GeluGemmShape& s, size_t* workspace_bytes) {
    if (s.m < 1 || s.n < 1 || s.k < 1 || s.m > INT32_MAX || s.n > INT32_MAX || s.k > INT32_MAX)
      return unsupported("cuda.cutlass.matmul_gelu: dims out of range");
    auto args = arguments(s, nullptr, nullptr, nullptr, nullptr, 1);
    cutlass::Status st = Gemm::can_implement(args);
    if (st != cutlass::Status::kSuccess) return cutlass_error(st, "can_implement");
    *workspace_bytes = Gemm::get_workspace_size(args);
    return Status::ok();
  }

  static Status prepare(int* sm_count) {
    int device = 0;
    cudaError_t err = cudaGetDevice(&device);
    if (err != cudaSuccess) return cuda_error(err, "cudaGetDevice");
    int major = 0, minor = 0;
    err = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
    if (err == cudaSuccess) err = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
    if (err == cudaSuccess) err = cudaDeviceGetAttribute(sm_count, cudaDevAttrMultiProcessorCount, device);
    if (err != cudaSuccess) return cuda_error(err, "cudaDeviceGetAttribute");
    if (major != 9 || minor != 0)
      return unsupported("cuda.cutlass.matmul_gelu: the kernel is sm_90a code, the GPU has compute capability " +
                         std::to_string(major) + "." + std::to_string(minor));
    // Set here, once, rather than by Gemm::initialize on every call (it may run inside a CUDA
    // graph capture).
    const int smem = Kernel::SharedStorageSize;
    err = cudaFuncSetAttribute(cutlass::device_kernel<Kernel>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (err != cudaSuccess) {
      cudaGetLastError();
      return cuda_error(err, "cudaFuncSetAttribute");
    }
    return Status::ok();
  }

  static Status run(const GeluGemmShape& s, const void* a, const void* b, const void* bias, void* d, void* workspace,
                    size_t workspace_bytes, int sm_count, cudaStream_t stream) {
    auto args = arguments(s, a, b, bias, d, sm_count);
    if (Gemm::get_workspace_size(args) > workspace_bytes)
      return internal_error("cuda.cutlass.matmul_gelu: workspace too small");
    cutlass::Status st = Kernel::initialize_workspace(args, workspace, stream);
    if (st != cutlass::Status::kSuccess) return cutlass_error(st, "initialize_workspace");
    typename Kernel::Params params = Kernel::to_underlying_arguments(args, workspace);
    st = Gemm::run(params, stream);
    if (st != cutlass::Status::kSuccess) return cutlass_error(st, "run");
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return cuda_error(err, "the kernel launch");
    return Status::ok();
  }
};

}  // namespace kiln::cuda
