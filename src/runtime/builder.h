// Builder: model in, Engine out. Runs the optimizer, checks that every value has a static
// shape, lowers each node to the first tactic of the backend that supports it, plans the
// activation memory, packs the weights and creates the Engine (DESIGN.md's flow).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "runtime/engine.h"

namespace kiln::runtime {

// What a build did besides the engine (filled in when BuilderConfig::report is set).
struct BuildReport {
  int64_t float32_layers = 0;  // layers the fp16 overflow check kept in float32
  std::string overflow_check;  // its one-line summary ("" when it did not apply)
  int64_t cpu_fallback_layers = 0;  // CUDA layers on the CPU (allow_cpu_fallback)
};

struct BuilderConfig {
  Backend backend = Backend::kCpu;
  bool fp16 = false, bf16 = false, tf32 = false;
  int64_t workspace_mib = 1024;  // the most workspace one layer may use
  std::vector<std::string> disabled_passes;
  std::vector<std::string> disabled_tactics;  // tactic ids never chosen (A/B comparisons, workarounds)
  // Values for the model's symbolic input dims ("batch" -> 32): engines have static shapes
  // until optimization profiles arrive.
  std::map<std::string, int64_t> dims;
  bool verbose = false;
  // Progress of long phases: (phase, done, total). May be empty.
  std::function<void(const std::string& phase, size_t done, size_t total)> progress;
  // Verbose messages (when verbose); may be empty (then nothing is printed).
  std::function<void(const std::string&)> log;

  // FP16 overflow protection (passes/fp16_overflow.h; --fp16 only): layers whose float32 values
  // exceed float16's range on sample inputs stay float32. sample_inputs by input name (empty:
  // seeded random inputs); the check's CPU time is capped by the budget and a GFLOP limit.
  bool overflow_check = true;
  double overflow_check_budget_s = 60;
  double overflow_check_max_gflop = 100;
  std::map<std::string, RuntimeValue> sample_inputs;
  // Warnings, shown whether or not verbose; when empty they go to log.
  std::function<void(const std::string&)> warn;
  BuildReport* report = nullptr;
  // CUDA: a node no CUDA tactic supports runs on the CPU reference kernel inside the engine
  // (runtime/cpu_fallback.h; such engines cannot be captured into CUDA graphs).
  bool allow_cpu_fallback = false;

  // I/O formats (runtime/io_format.h). io_dtype float16 (with fp16) or bfloat16 (with bf16):
  // the model's float32 inputs and outputs become bindings of that type, with no Cast at the
  // boundary. input_layout kNHWC: every rank-4 input is bound [N,H,W,C] (passes/input_layout.h).
  // sample_inputs stay in the model's form (float32, [N,C,H,W]).
  DataType io_dtype = DataType::kFloat32;
  ir::Layout input_layout = ir::Layout::kRowMajor;
};

class Builder {
 public:
  // Optimizes model.graph in place, then builds. `device` defaults to make_device(backend).
  static Result<std::shared_ptr<Engine>> build(ir::Model& model, const BuilderConfig& config,
                                               std::shared_ptr<Device> device = nullptr);
  // Everything up to the engine description (no kernels created, no device memory).
  static Result<plan::EngineDesc> build_desc(ir::Model& model, const BuilderConfig& config,
                                             const TargetInfo& target);
};

}  // namespace kiln::runtime
