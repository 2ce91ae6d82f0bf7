// Library handles a kernel runs with. An ExecutionContext owns one set per context (passed as
// LaunchContext::backend_state); without one (tests), a process-wide set guarded by a mutex.
#pragma once
#include <cublasLt.h>
#include <cudnn.h>

#include <memory>
#include <mutex>
#include <thread>
#include <vector>

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

// The process-wide cuBLASLt handle (cuBLASLt handles are thread-safe), created on first use.
Result<cublasLtHandle_t> shared_cublaslt_handle();

// cuBLASLt and cuDNN started on background threads (library_warm_up.cpp), so that a cold
// process's one-time library start-up runs in parallel with the other library and with the
// engine's own loading instead of inside the first layer of each; a layer that needs a library
// meanwhile waits on the library's own locks. The CUDA device holds it: its destructor joins the
// threads, so none is still inside a library when the process exits.
class LibraryWarmUp {
 public:
  ~LibraryWarmUp();

 private:
  friend std::unique_ptr<LibraryWarmUp> start_library_warm_up();
  LibraryWarmUp() = default;
  std::vector<std::thread> threads_;
};

// Starts the warm-up the first time it is called in a process (null afterwards, and when
// KILN_LIBRARY_WARM_UP=0).
std::unique_ptr<LibraryWarmUp> start_library_warm_up();

}  // namespace kiln::cuda
