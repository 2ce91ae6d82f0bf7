// Engine: an optimized, planned graph with one kernel per layer, ready to run on one device.
// It owns the weights (on the device) and the kernels; every ExecutionContext it creates has
// its own activation arena, workspace and backend state, so several can run at once.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "plan/engine_format.h"
#include "runtime/device.h"
#include "runtime/load_profile.h"
#include "runtime/tactic.h"

namespace kiln::runtime {

class ExecutionContext;

struct BindingInfo {
  std::string name;
  DataType dtype = DataType::kUndefined;
  std::vector<int64_t> dims;  // what the caller passes: [N,H,W,C] for a channels-last input
  size_t nbytes = 0;
  // kNHWC: the model's [N,C,H,W] input bound channels-last (kiln build --input-layout nhwc).
  ir::Layout layout = ir::Layout::kRowMajor;
};

class Engine : public std::enable_shared_from_this<Engine> {
 public:
  // Loads and validates an engine file (mmap'd; weights are used in place on the CPU).
  // `device` defaults to make_device(the engine's backend). `profile`, when given, receives
  // where the time went (runtime/load_profile.h); loading is then slightly slower (it
  // synchronizes the device between steps).
  static Result<std::shared_ptr<Engine>> load(const std::string& path, std::shared_ptr<Device> device = nullptr,
                                              LoadProfile* profile = nullptr);
  static Result<std::shared_ptr<Engine>> load(std::vector<uint8_t> bytes, std::shared_ptr<Device> device = nullptr,
                                              LoadProfile* profile = nullptr);
  // From a description (the builder's output, or a read engine file).
  static Result<std::shared_ptr<Engine>> create(plan::EngineDesc desc, std::shared_ptr<Device> device,
                                                LoadProfile* profile = nullptr);

  Status save(const std::string& path) const;
  Result<std::vector<uint8_t>> serialize() const;

  // `profile`, when given, receives the time of each allocation and of the backend state.
  Result<std::unique_ptr<ExecutionContext>> create_context(ContextProfile* profile = nullptr) const;

  const std::vector<BindingInfo>& inputs() const { return inputs_; }
  const std::vector<BindingInfo>& outputs() const { return outputs_; }
  const plan::EngineDesc& desc() const { return desc_; }
  Device& device() const { return *device_; }
  const std::shared_ptr<Device>& device_ptr() const { return device_; }
  double load_ms() const { return load_ms_; }  // time load() took, 0 for built engines

 private:
  friend class ExecutionContext;
  // kAlias: the bytes of another slot (a view's output; plan/views.h).
  enum class Where { kArena, kWeights, kInput, kOutput, kAlias };
  struct Slot {
    Where where = Where::kArena;
    size_t offset = 0;  // arena/weights offset, the binding index, or (kAlias) an earlier slot id
    DataType dtype = DataType::kUndefined;
    std::vector<int64_t> dims;
    ir::Layout layout = ir::Layout::kRowMajor;
  };
  struct LayerRun {
    const Kernel* kernel = nullptr;
    std::vector<int> inputs, outputs;  // slot ids, -1 for omitted
  };
  Engine() = default;
  Status prepare(LoadProfile* profile);

  plan::EngineDesc desc_;
  std::shared_ptr<Device> device_;
  std::vector<Slot> slots_;
  std::vector<int> output_slots_;  // slot id of each graph output
  std::vector<LayerRun> layers_;     // the layers that run a kernel, in order
  std::vector<size_t> layer_index_;  // each one's index in desc_.layers
  std::vector<size_t> view_layers_;  // desc_.layers indices of the views (no kernel)
  std::vector<std::unique_ptr<Kernel>> kernels_;
  DeviceBuffer weights_buffer_;      // device copy of the weights (non-CPU backends)
  const uint8_t* weights_ = nullptr;  // where kernels read weights
  std::vector<BindingInfo> inputs_, outputs_;
  double load_ms_ = 0;
};

}  // namespace kiln::runtime
