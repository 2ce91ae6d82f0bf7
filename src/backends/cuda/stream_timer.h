// Timing work on a CUDA stream for `kiln bench`: warm-up, optional CUDA-graph capture of one
// call, then replays bracketed by events. No CUDA types in this header, so the CLI can use it.
#pragma once
#include <functional>
#include <vector>

#include "core/status.h"

namespace kiln::cuda {

struct StreamTiming {
  std::vector<double> ms;   // one per iteration
  bool used_graph = false;  // false when capture was off or the work could not be captured
  double capture_ms = 0;    // capture + instantiate
};

Result<StreamTiming> time_on_stream(const std::function<Status(void* stream)>& enqueue, void* stream, int warmup,
                                    int iterations, bool use_graph);
// Bytes of GPU memory in use on the current device (all processes).
Result<size_t> gpu_memory_in_use();

}  // namespace kiln::cuda
