// What the CUDA backend runs on: the GPU and the library versions, recorded in engine files
// so that an engine built for another target is refused.
#pragma once
#include <string>

#include "core/status.h"

namespace kiln::cuda {

struct DeviceInfo {
  int device = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  size_t global_memory = 0;
  size_t l2_bytes = 0;
  int cuda_runtime_version = 0;  // e.g. 13000
  int cuda_driver_version = 0;
  size_t cudnn_version = 0;      // e.g. 91900
  int cublaslt_version = 0;
  std::string to_string() const;
};

// Fails with a clear message where no GPU or driver is present.
Result<DeviceInfo> query_device(int device = 0);

}  // namespace kiln::cuda
