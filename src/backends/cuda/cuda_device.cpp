// The CUDA Device: cudaMalloc'd memory, pinned host staging (cudaHostAlloc), asynchronous copies
// on streams, CUDA-graph capture and replay, and per-context library handles (cuDNN) as backend
// state. Registered as the factory for Backend::kCuda.
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_handles.h"
#include "backends/cuda/device_info.h"
#include "runtime/device.h"

namespace kiln::cuda {
namespace {

std::string version_string(int v, int major_div, int minor_div, int minor_mod) {
  return std::to_string(v / major_div) + "." + std::to_string((v / minor_div) % minor_mod);
}

class CudaDevice final : public runtime::Device {
 public:
  explicit CudaDevice(DeviceInfo info) : info_(std::move(info)), warm_up_(start_library_warm_up()) {}
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  std::string name() const override { return info_.name; }
  runtime::TargetInfo target() const override {
    runtime::TargetInfo t;
    t.backend = "cuda";
    t.device_name = info_.name;
    t.compute_major = info_.cc_major;
    t.compute_minor = info_.cc_minor;
    t.cuda_version = version_string(info_.cuda_runtime_version, 1000, 10, 100);
    t.cudnn_version = std::to_string(info_.cudnn_version / 10000) + "." + std::to_string((info_.cudnn_version / 100) % 100) +
                      "." + std::to_string(info_.cudnn_version % 100);
    t.cublas_version = std::to_string(info_.cublaslt_version / 10000) + "." +
                       std::to_string((info_.cublaslt_version / 100) % 100) + "." +
                       std::to_string(info_.cublaslt_version % 100);
    return t;
  }

  Result<void*> allocate(size_t bytes) override {
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, bytes ? bytes : 256);
    if (err != cudaSuccess) {
      cudaGetLastError();  // clear the sticky-free error so the device stays usable
      if (err == cudaErrorMemoryAllocation) {
        size_t free_bytes = 0, total = 0;
        cudaMemGetInfo(&free_bytes, &total);
        return Status(StatusCode::kOutOfMemory, "GPU out of memory: asked for " + std::to_string(bytes >> 20) +
                                                    " MiB, " + std::to_string(free_bytes >> 20) + " MiB free of " +
                                                    std::to_string(total >> 20) + " MiB");
      }
      return cuda_status(err, "cudaMalloc");
    }
    return p;
  }
  void free(void* ptr) override {
    if (ptr) cudaFree(ptr);
  }
  Status copy_host_to_device(void* dst, const void* src, size_t bytes, runtime::Stream s) override {
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, static_cast<cudaStream_t>(s)));
    return Status::ok();
  }
  Status copy_device_to_host(void* dst, const void* src, size_t bytes, runtime::Stream s) override {
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, static_cast<cudaStream_t>(s)));
    return Status::ok();
  }
  Status copy_device_to_device(void* dst, const void* src, size_t bytes, runtime::Stream s) override {
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, static_cast<cudaStream_t>(s)));
    return Status::ok();
  }
  Status memset_zero(void* dst, size_t bytes, runtime::Stream s) override {
    KILN_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, static_cast<cudaStream_t>(s)));
    return Status::ok();
  }
  Result<runtime::Stream> create_stream() override {
    cudaStream_t s = nullptr;
    KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    return runtime::Stream{s};
  }
  void destroy_stream(runtime::Stream s) override {
    if (s) cudaStreamDestroy(static_cast<cudaStream_t>(s));
  }
  Status synchronize(runtime::Stream s) override {
    KILN_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(s)));
    return Status::ok();
  }
  Result<void*> create_backend_state(runtime::Stream) override {
    KILN_ASSIGN_OR_RETURN(CudaHandles * h, create_handles());
    return static_cast<void*>(h);
  }
  void destroy_backend_state(void* state) override { destroy_handles(static_cast<CudaHandles*>(state)); }

  Result<void*> allocate_host(size_t bytes) override {
    void* p = nullptr;
    cudaError_t err = cudaHostAlloc(&p, bytes ? bytes : 64, cudaHostAllocDefault);
    if (err != cudaSuccess) {
      cudaGetLastError();
      return Status(StatusCode::kOutOfMemory, "out of pinned host memory: asked for " + std::to_string(bytes >> 20) +
                                                  " MiB (cudaHostAlloc: " + cudaGetErrorString(err) + ")");
    }
    return p;
  }
  void free_host(void* ptr) override {
    if (ptr) cudaFreeHost(ptr);
  }

  bool supports_graphs() const override { return true; }
  bool can_capture(runtime::Stream s) override {
    // The legacy default stream cannot be captured, and a blocking stream would make other
    // threads' work on the legacy stream fail while it is captured.
    auto stream = static_cast<cudaStream_t>(s);
    if (!stream) return false;
    // First: inside the caller's own capture (kiln bench), nothing else is asked of the stream.
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(stream, &status) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    if (status != cudaStreamCaptureStatusNone) return false;
    unsigned int flags = 0;
    if (cudaStreamGetFlags(stream, &flags) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    return (flags & cudaStreamNonBlocking) != 0;
  }
  Status begin_capture(runtime::Stream s) override {
    if (!s) return unsupported("the default CUDA stream cannot be captured");
    KILN_CUDA_CHECK(cudaStreamBeginCapture(static_cast<cudaStream_t>(s), cudaStreamCaptureModeThreadLocal));
    return Status::ok();
  }
  Status end_capture(runtime::Stream s, GraphExec& exec) override {
    auto stream = static_cast<cudaStream_t>(s);
    auto old = static_cast<cudaGraphExec_t>(exec);
    cudaGraph_t graph = nullptr;
    cudaError_t err = cudaStreamEndCapture(stream, &graph);
    if (err != cudaSuccess || !graph) {
      cudaGetLastError();  // an invalidated capture is not sticky: clear it so the device stays usable
      if (graph) cudaGraphDestroy(graph);
      destroy_graph(exec);
      exec = nullptr;
      if (err == cudaSuccess) return internal_error("CUDA: cudaStreamEndCapture returned no graph");
      return cuda_status(err, "cudaStreamEndCapture");
    }
    if (old) {
      cudaGraphExecUpdateResultInfo info{};
      if (cudaGraphExecUpdate(old, graph, &info) == cudaSuccess) {
        cudaGraphDestroy(graph);
        return Status::ok();  // same topology: `exec` now replays the new work
      }
      cudaGetLastError();
      cudaGraphExecDestroy(old);
      exec = nullptr;
    }
    cudaGraphExec_t fresh = nullptr;
    err = cudaGraphInstantiate(&fresh, graph, 0);
    cudaGraphDestroy(graph);
    if (err != cudaSuccess) {
      cudaGetLastError();
      exec = nullptr;
      return cuda_status(err, "cudaGraphInstantiate");
    }
    exec = fresh;
    return Status::ok();
  }
  Status launch_graph(GraphExec exec, runtime::Stream s) override {
    if (!exec) return invalid_argument("launch_graph: no graph");
    KILN_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec), static_cast<cudaStream_t>(s)));
    return Status::ok();
  }
  void destroy_graph(GraphExec exec) override {
    if (exec) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec));
  }

 private:
  DeviceInfo info_;
  std::unique_ptr<LibraryWarmUp> warm_up_;  // joined when the device goes
};

Result<std::shared_ptr<runtime::Device>> make_cuda_device() {
  KILN_ASSIGN_OR_RETURN(DeviceInfo info, query_device(0));
  if (info.cc_major < 8)
    return unsupported("the CUDA backend needs compute capability 8.0 or newer; " + info.name + " has " +
                       std::to_string(info.cc_major) + "." + std::to_string(info.cc_minor));
  return std::shared_ptr<runtime::Device>(std::make_shared<CudaDevice>(std::move(info)));
}

std::string library_version(long v) {  // major * 10000 + minor * 100 + patch (cuDNN 9, cuBLAS)
  return std::to_string(v / 10000) + "." + std::to_string((v / 100) % 100) + "." + std::to_string(v % 100);
}

// A target without a GPU: `arch` ("sm_90", "sm_90a", "90", "9.0") and the library versions this
// build was compiled against. The GPU name stays empty: such an engine loads on any GPU of that
// compute capability whose CUDA, cuDNN and cuBLAS versions match (plan::target_mismatch).
Result<runtime::TargetInfo> offline_cuda_target(const std::string& arch) {
  std::string a = arch;
  if (a.rfind("sm_", 0) == 0) a = a.substr(3);
  if (!a.empty() && (a.back() == 'a' || a.back() == 'f')) a.pop_back();
  std::string digits;
  for (char c : a)
    if (c != '.') digits += c;
  int major = 0, minor = 0;
  bool ok = digits.size() >= 2 && digits.size() <= 3 && digits.find_first_not_of("0123456789") == std::string::npos;
  if (ok) {
    major = std::stoi(digits.substr(0, digits.size() - 1));
    minor = digits.back() - '0';
  }
  if (!ok || (a.find('.') != std::string::npos && a.find('.') != a.size() - 2))
    return invalid_argument("--target-arch takes a CUDA architecture such as sm_90 or 9.0, got '" + arch + "'");
  if (major < 8)
    return unsupported("the CUDA backend needs compute capability 8.0 or newer; --target-arch " + arch + " is " +
                       std::to_string(major) + "." + std::to_string(minor));
  runtime::TargetInfo t;
  t.backend = "cuda";
  t.compute_major = major;
  t.compute_minor = minor;
  t.cuda_version = version_string(CUDART_VERSION, 1000, 10, 100);
  t.cudnn_version = library_version(CUDNN_VERSION);
  t.cublas_version = library_version(CUBLAS_VERSION);
  return t;
}

struct RegisterCudaDevice {
  RegisterCudaDevice() {
    runtime::register_device_factory(runtime::Backend::kCuda, &make_cuda_device);
    runtime::register_target_factory(runtime::Backend::kCuda, &offline_cuda_target);
  }
} register_cuda_device;

}  // namespace
}  // namespace kiln::cuda
