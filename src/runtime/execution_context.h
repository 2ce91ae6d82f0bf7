// ExecutionContext: one user's resources for running an Engine: the activation arena, the
// workspace and the backend state (cuDNN/cuBLAS handles on CUDA). Contexts of one engine share
// its weights and kernels and may run concurrently; one context runs one call at a time.
#pragma once
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
  Status enqueue(const std::vector<TensorRef>& inputs, const std::vector<TensorRef>& outputs, Stream stream);

  // Host tensors in, host tensors out (by input name; outputs in binding order). Stages through
  // the device and waits for the result.
  Result<std::vector<Tensor>> run(const std::map<std::string, Tensor>& host_inputs);

  // Called before (after = false) and after each layer is enqueued, for per-layer profiling
  // (kiln bench --profile); `layer` indexes desc().layers. Views (alias layers) run nothing:
  // each is reported once at the start of the call with nothing between. Empty by default.
  using LayerHook = std::function<void(size_t layer, bool after, Stream stream)>;
  void set_layer_hook(LayerHook hook) { hook_ = std::move(hook); }

  const Engine& engine() const { return *engine_; }
  size_t arena_bytes() const { return arena_.size(); }

 private:
  friend class Engine;
  explicit ExecutionContext(std::shared_ptr<const Engine> engine) : engine_(std::move(engine)) {}

  std::shared_ptr<const Engine> engine_;
  DeviceBuffer arena_, workspace_;
  Stream stream_ = nullptr;  // for run()
  void* backend_state_ = nullptr;
  std::vector<void*> ptrs_;  // per-slot addresses for the current call
  LayerHook hook_;
};

}  // namespace kiln::runtime
