// ExecutionContext: one user's resources for running an Engine: the activation arena, the
// workspace, the backend state (cuDNN/cuBLAS handles on CUDA), run()'s staging buffers and the
// CUDA graphs of its calls. Contexts of one engine share its weights and kernels and may run
// concurrently (each on its own stream, from its own thread); one context runs one call at a
// time.
//
// CUDA graphs (on by default): on a CUDA engine without CPU-fallback layers, enqueue() records
// the whole call (every layer and the final output copies) into a CUDA graph and replays it
// with one launch, per set of binding pointers (the input and output addresses):
// - the first call with a given set runs layer by layer (kernels may do lazy first-run work);
// - the next call with the same set captures the work and launches the graph;
// - later calls with that set only launch the graph (cudaGraphLaunch);
// - a new set of pointers starts over (run plainly, then capture; a graph evicted to make room
//   is updated in place when it can be); a few sets are kept, so alternating buffers replay.
// Calls run layer by layer instead when graphs are off (set_cuda_graphs(false), kiln run
// --no-cuda-graph), a layer hook is set, the stream cannot be captured (the legacy default
// stream, a blocking stream, or a stream the caller is capturing itself), or the backend has
// no graphs. If a capture or an instantiation fails (a kernel did something uncapturable),
// the CUDA error state is cleared, the call runs plainly, this context stays on plain launches
// for good, and the reason is reported once per process on stderr (cuda_graph_error()).
// A graph reads and writes the addresses it was captured with and is keyed by them alone, so
// buffers freed and reallocated at the same addresses replay correctly.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/engine.h"

namespace kiln::runtime {

class ExecutionContext {
 public:
  ~ExecutionContext();
  ExecutionContext(const ExecutionContext&) = delete;
  ExecutionContext& operator=(const ExecutionContext&) = delete;

  // Runs every layer on `stream` with inputs/outputs in device memory, in the engine's binding
  // order; each ref's dtype and dims must match the binding. Asynchronous where the device is.
  // On CUDA it captures and replays CUDA graphs as described above.
  Status enqueue(const std::vector<TensorRef>& inputs, const std::vector<TensorRef>& outputs, Stream stream);

  // Host tensors in, host tensors out (by input name; outputs in binding order). Copies each
  // input into the context's pinned staging buffer, then to its device input buffer (both
  // allocated on the first call and reused: an engine's shapes are static), enqueues on the
  // context's own stream, copies the outputs back through pinned memory and waits. Because
  // the device buffers stay the same, repeated calls replay a CUDA graph from the third on.
  Result<std::vector<Tensor>> run(const std::map<std::string, Tensor>& host_inputs);

  // Called before (after = false) and after each layer is enqueued, for per-layer profiling
  // (kiln bench --profile); `layer` indexes desc().layers. Views (alias layers) run nothing:
  // each is reported once at the start of the call with nothing between. Empty by default.
  // While set, calls run layer by layer (no CUDA graph).
  using LayerHook = std::function<void(size_t layer, bool after, Stream stream)>;
  void set_layer_hook(LayerHook hook) { hook_ = std::move(hook); }

  // CUDA graphs on (default) or off for this context's later calls.
  void set_cuda_graphs(bool on) { graphs_on_ = on; }
  bool cuda_graphs() const { return graphs_on_; }
  // How the last enqueue() ran its layers (for tests and tools).
  enum class Launch { kPlain, kCaptured, kReplayed };
  Launch last_launch() const { return last_launch_; }
  // Why graphs were turned off for good after a failed capture; empty while they work.
  const std::string& cuda_graph_error() const { return graph_error_; }
  // Graphs this context holds now.
  size_t cuda_graph_count() const { return graphs_.size(); }

  const Engine& engine() const { return *engine_; }
  size_t arena_bytes() const { return arena_.size(); }

 private:
  friend class Engine;
  explicit ExecutionContext(std::shared_ptr<const Engine> engine);

  // Every layer, then the output copies, on `stream` (what a graph captures).
  Status launch_layers(const std::vector<TensorRef>& inputs, const std::vector<TensorRef>& outputs, Stream stream);
  // Graphs off for good (after a failed capture or launch); frees the graphs.
  void give_up_graphs(const Status& why);
  void destroy_graphs();
  Status prepare_staging();

  struct Graph {
    std::vector<void*> pointers;  // the binding pointers it was captured with
    Device::GraphExec exec = nullptr;
    uint64_t last_used = 0;
  };
  static constexpr size_t kMaxGraphs = 4;

  std::shared_ptr<const Engine> engine_;
  DeviceBuffer arena_, workspace_;
  Stream stream_ = nullptr;  // for run()
  void* backend_state_ = nullptr;
  std::vector<void*> ptrs_;  // per-slot addresses for the current call
  LayerHook hook_;

  // run(): device I/O buffers and their pinned staging, per binding (empty until first use).
  std::vector<DeviceBuffer> in_device_, out_device_;
  std::vector<HostBuffer> in_host_, out_host_;
  bool stage_through_host_ = false;  // false on the CPU, where device memory is host memory

  // CUDA graphs.
  bool graphs_on_ = true;
  bool graphs_possible_ = false;  // a device with graphs, and no layer on the CPU
  std::string graph_error_;
  std::vector<Graph> graphs_;
  std::vector<std::vector<void*>> seen_;  // pointer sets that ran plainly once, newest last
  uint64_t calls_ = 0;
  Launch last_launch_ = Launch::kPlain;
};

}  // namespace kiln::runtime
