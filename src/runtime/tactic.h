// Tactics: the kernels a backend offers for a layer (DESIGN.md, "a kernel is an object with a
// stable id"). The builder asks the registry which tactics support a node, picks one (the tuner
// will time them), and the engine file stores the chosen id and its parameters. At load time the
// tactic creates a Kernel for the node; the Kernel holds prepared state (repacked weights, cuDNN
// plans) shared by every ExecutionContext, and runs with per-context memory and stream.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace kiln::runtime {

enum class Backend : int32_t { kCpu = 0, kCuda = 1 };
const char* backend_name(Backend b);

// A tensor as a kernel sees it at run time: host memory on the CPU backend, device memory on
// CUDA. Never owns its bytes.
struct TensorRef {
  DataType dtype = DataType::kUndefined;
  std::vector<int64_t> dims;
  ir::Layout layout = ir::Layout::kRowMajor;
  void* data = nullptr;
  int64_t numel() const;
  size_t nbytes() const;
};

// Per-call resources a kernel runs with; the ExecutionContext owns them.
struct LaunchContext {
  void* stream = nullptr;      // cudaStream_t on CUDA, unused on the CPU
  void* workspace = nullptr;   // at least the tactic's workspace_bytes()
  size_t workspace_bytes = 0;
  void* backend_state = nullptr;  // backend handles (cuDNN/cuBLASLt) bound to this context
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Must be safe to call from several contexts at once (state that changes per call lives in
  // the LaunchContext). Asynchronous on CUDA: returns once the work is enqueued.
  virtual Status enqueue(const std::vector<TensorRef>& inputs, const std::vector<TensorRef>& outputs,
                         const LaunchContext& launch) const = 0;
  // Prepared state worth keeping in the engine file so that the next load skips the slow part
  // of create() (cuDNN execution plans); empty when there is none.
  virtual std::vector<uint8_t> serialize() const { return {}; }
  // True when create() used KernelSpec::state instead of rebuilding that state (the load
  // profile reports it; a tactic whose stored state does not fit rebuilds silently).
  virtual bool restored_from_state() const { return false; }
};

// What a tactic needs to create its kernel: the node with static types on every value, the
// constant inputs' data (weights), and its own parameters as chosen at build time.
struct KernelSpec {
  const ir::Node* node = nullptr;
  std::string params;  // tactic-specific, stored verbatim in the engine file
  // What Kernel::serialize() returned when the engine was built (may be null or empty). The
  // engine file is checksummed, not trusted: a tactic that cannot use the state rebuilds.
  const std::vector<uint8_t>* state = nullptr;
};

class Tactic {
 public:
  virtual ~Tactic() = default;
  // Stable across releases: engine files refer to tactics by this id ("cpu.reference",
  // "cuda.cudnn.conv_bias_act", ...).
  virtual std::string_view id() const = 0;
  virtual Backend backend() const = 0;
  // Cheap and side-effect free: op pattern, dtypes, layouts, shape constraints.
  virtual bool supports(const ir::Node& node) const = 0;
  // Whether supports() understands channels-last (ir::Layout::kNHWC) values. A tactic that does
  // not is never offered a node that reads or writes one (the registry filters), so kernels
  // written for row-major data cannot misread a reordered tensor.
  virtual bool handles_channels_last() const { return false; }
  // Order among the tactics that support a node, highest first, until the tuner times them
  // (a specialized kernel above a general library call). Ties keep registration order.
  virtual int preference() const { return 0; }
  // Parameter sets worth trying for this node (one "" by default); the tuner times each.
  virtual std::vector<std::string> candidate_params(const ir::Node& node) const { return {""}; }
  virtual size_t workspace_bytes(const KernelSpec& spec) const { return 0; }
  virtual Result<std::unique_ptr<Kernel>> create(const KernelSpec& spec) const = 0;
};

// The GPU the current thread builds or loads an engine for, as a compute capability (0.0 = not
// known). Builder::build_desc and Engine loading set it around their supports() and create()
// calls, so that a tactic whose kernels exist for one architecture only (sm_90a SASS) declines a
// node elsewhere, also when building for a --target-arch without a GPU. Elsewhere it is 0.0.
struct ComputeCapability {
  int major = 0, minor = 0;
};
ComputeCapability target_compute_capability();
class ScopedTargetCapability {  // sets it for this thread until destroyed (scopes nest)
 public:
  ScopedTargetCapability(int major, int minor);
  ~ScopedTargetCapability();
  ScopedTargetCapability(const ScopedTargetCapability&) = delete;
  ScopedTargetCapability& operator=(const ScopedTargetCapability&) = delete;

 private:
  ComputeCapability saved_;
};

class TacticRegistry {
 public:
  static TacticRegistry& global();
  void add(std::unique_ptr<Tactic> tactic);
  const Tactic* find(std::string_view id) const;
  // Tactics of `backend` that support `node`, by preference() (then registration order).
  std::vector<const Tactic*> candidates(Backend backend, const ir::Node& node) const;

 private:
  std::vector<std::unique_ptr<Tactic>> tactics_;
};

struct TacticRegistrar {
  explicit TacticRegistrar(std::unique_ptr<Tactic> t) { TacticRegistry::global().add(std::move(t)); }
};

}  // namespace kiln::runtime

// KILN_REGISTER_TACTIC(CudnnConv, std::make_unique<CudnnConvTactic>());
#define KILN_REGISTER_TACTIC(id, ...) \
  static const ::kiln::runtime::TacticRegistrar kiln_tactic_registrar_##id(__VA_ARGS__)
