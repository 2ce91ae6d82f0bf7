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
