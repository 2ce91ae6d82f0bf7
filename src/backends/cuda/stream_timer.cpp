#include "backends/cuda/stream_timer.h"

#include <cuda_runtime.h>

#include <chrono>

#include "backends/cuda/cuda_check.h"

namespace kiln::cuda {

Result<StreamTiming> time_on_stream(const std::function<Status(void*)>& enqueue, void* stream_ptr, int warmup,
                                    int iterations, bool use_graph) {
  auto stream = static_cast<cudaStream_t>(stream_ptr);
  StreamTiming t;
  for (int i = 0; i < warmup; ++i) KILN_RETURN_IF_ERROR(enqueue(stream_ptr));
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream));
  cudaGraphExec_t exec = nullptr;
  if (use_graph) {
    auto t0 = std::chrono::steady_clock::now();
    cudaGraph_t graph = nullptr;
    KILN_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    Status st = enqueue(stream_ptr);
    cudaError_t end = cudaStreamEndCapture(stream, &graph);
    if (st.is_ok() && end == cudaSuccess && cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess) {
      t.used_graph = true;
    } else {
      cudaGetLastError();  // capture failed (a layer did something uncapturable): time plain calls
      exec = nullptr;
    }
    if (graph) cudaGraphDestroy(graph);
    t.capture_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (exec) {  // one untimed replay: the first launch uploads the graph
      KILN_CUDA_CHECK(cudaGraphLaunch(exec, stream));
      KILN_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
  }
  std::vector<cudaEvent_t> events(static_cast<size_t>(iterations) + 1);
  for (auto& e : events) KILN_CUDA_CHECK(cudaEventCreate(&e));
  Status status = Status::ok();
  KILN_CUDA_CHECK(cudaEventRecord(events[0], stream));
  for (int i = 0; i < iterations && status.is_ok(); ++i) {
    if (exec) {
      cudaError_t err = cudaGraphLaunch(exec, stream);
      if (err != cudaSuccess) status = cuda_status(err, "cudaGraphLaunch");
    } else {
      status = enqueue(stream_ptr);
    }
    cudaEventRecord(events[static_cast<size_t>(i) + 1], stream);
  }
  cudaError_t sync = cudaStreamSynchronize(stream);
  if (status.is_ok() && sync != cudaSuccess) status = cuda_status(sync, "cudaStreamSynchronize");
  for (int i = 0; i < iterations && status.is_ok(); ++i) {
    float ms = 0;
    cudaEventElapsedTime(&ms, events[static_cast<size_t>(i)], events[static_cast<size_t>(i) + 1]);
    t.ms.push_back(ms);
  }
  for (auto& e : events) cudaEventDestroy(e);
  if (exec) cudaGraphExecDestroy(exec);
  if (!status.is_ok()) return status;
  return t;
}

LayerProfiler::LayerProfiler(size_t layers) : events_(2 * layers, nullptr) {
  for (auto& e : events_) {
    cudaEvent_t ev;
    if (cudaEventCreate(&ev) == cudaSuccess) e = ev;
  }
}

LayerProfiler::~LayerProfiler() {
  for (void* e : events_)
    if (e) cudaEventDestroy(static_cast<cudaEvent_t>(e));
}

void LayerProfiler::record(size_t layer, bool after, void* stream) {
  size_t i = 2 * layer + (after ? 1 : 0);
  if (i < events_.size() && events_[i]) cudaEventRecord(static_cast<cudaEvent_t>(events_[i]), static_cast<cudaStream_t>(stream));
}

Result<std::vector<double>> LayerProfiler::finish(void* stream) {
  KILN_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
  std::vector<double> ms(events_.size() / 2, 0.0);
  for (size_t l = 0; l < ms.size(); ++l) {
    float t = 0;
    if (events_[2 * l] && events_[2 * l + 1] &&
        cudaEventElapsedTime(&t, static_cast<cudaEvent_t>(events_[2 * l]), static_cast<cudaEvent_t>(events_[2 * l + 1])) == cudaSuccess)
      ms[l] = t;
  }
  return ms;
}

Result<size_t> gpu_memory_in_use() {
  size_t free_bytes = 0, total = 0;
  KILN_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
  return total - free_bytes;
}

}  // namespace kiln::cuda
