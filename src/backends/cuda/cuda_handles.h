// Library handles a kernel runs with. An ExecutionContext owns one set per context (passed as
// LaunchContext::backend_state); without one (tests), a process-wide set guarded by a mutex.
#pragma once
#include <cudnn.h>

#include <mutex>

#include "core/status.h"
#include "runtime/tactic.h"

namespace kiln::cuda {

struct CudaHandles {
  cudnnHandle_t cudnn = nullptr;
  std::mutex* lock = nullptr;  // set for the shared fallback set only
};

// Creates a set of handles (one per ExecutionContext); destroy with destroy_handles.
Result<CudaHandles*> create_handles();
void destroy_handles(CudaHandles* handles);

// The handles for this launch: the context's, or the shared set.
Result<CudaHandles*> handles_for(const runtime::LaunchContext& launch);

}  // namespace kiln::cuda
