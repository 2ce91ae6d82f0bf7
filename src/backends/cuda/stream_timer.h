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
// Per-layer times of one call: record() is the ExecutionContext's layer hook; finish() waits
// for the stream and returns each layer's milliseconds.
class LayerProfiler {
 public:
  explicit LayerProfiler(size_t layers);
  ~LayerProfiler();
  void record(size_t layer, bool after, void* stream);
  Result<std::vector<double>> finish(void* stream);

 private:
  std::vector<void*> events_;  // cudaEvent_t, two per layer
};

// Bytes of GPU memory in use on the current device (all processes).
Result<size_t> gpu_memory_in_use();

}  // namespace kiln::cuda
