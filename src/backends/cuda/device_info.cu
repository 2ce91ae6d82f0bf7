#include "backends/cuda/device_info.h"

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <sstream>

namespace kiln::cuda {

std::string DeviceInfo::to_string() const {
  std::ostringstream os;
  os << name << " (sm_" << cc_major << cc_minor << ", " << sm_count << " SMs, " << (global_memory >> 20)
     << " MiB), CUDA runtime " << cuda_runtime_version << ", driver " << cuda_driver_version << ", cuDNN "
     << cudnn_version << ", cuBLASLt " << cublaslt_version;
  return os.str();
}

Result<DeviceInfo> query_device(int device) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0)
    return unsupported(std::string("no CUDA GPU is available (") + cudaGetErrorString(err) + ")");
  if (device < 0 || device >= count)
    return invalid_argument("GPU " + std::to_string(device) + " does not exist (" + std::to_string(count) + " present)");
  cudaDeviceProp prop{};
  err = cudaGetDeviceProperties(&prop, device);
  if (err != cudaSuccess) return internal_error(std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(err));
  DeviceInfo info;
  info.device = device;
  info.name = prop.name;
  info.cc_major = prop.major;
  info.cc_minor = prop.minor;
  info.sm_count = prop.multiProcessorCount;
  info.global_memory = prop.totalGlobalMem;
  info.l2_bytes = static_cast<size_t>(prop.l2CacheSize);
  cudaRuntimeGetVersion(&info.cuda_runtime_version);
  cudaDriverGetVersion(&info.cuda_driver_version);
  info.cudnn_version = cudnnGetVersion();
  info.cublaslt_version = static_cast<int>(cublasLtGetVersion());
  return info;
}

}  // namespace kiln::cuda
