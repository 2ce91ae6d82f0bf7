// Where an engine's load time goes (kiln inspect ENGINE --load-profile). Filled only when a
// caller passes one to Engine::load / Engine::create / Engine::create_context; then the loader
// also synchronizes the device before each reading, so CUDA work is counted where it is queued.
// Steady-clock milliseconds.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace kiln::runtime {

struct LayerLoadTime {
  // What the layer did with the state the engine file stored for it (KernelSpec::state).
  enum class State { kNone, kRestored, kRebuilt };
  size_t layer = 0;  // index in desc().layers; views (no kernel) have no entry
  std::string tactic;
  double ms = 0;  // Tactic::create (+ Kernel::serialize when the layer had no state)
  State state = State::kNone;
};

struct LoadProfile {
  size_t file_bytes = 0;
  double read_ms = 0;      // open + mmap, or copying a byte buffer into an aligned block
  double checksum_ms = 0;  // XXH64 over the whole file
  double verify_ms = 0;    // the FlatBuffers verifier
  double parse_ms = 0;     // rebuilding graph and layers, checking every index, size and offset
  double device_ms = 0;    // making the device, when the caller gave none
  size_t weights_bytes = 0;
  double weights_ms = 0;   // device allocation + upload + synchronize (0 on the CPU: used in place)
  double kernels_ms = 0;   // every layer's kernel creation
  double total_ms = 0;     // the whole call (the parts plus bindings and target checks)
  std::vector<LayerLoadTime> layers;  // in layer order
};

struct ContextProfile {
  size_t arena_bytes = 0, workspace_bytes = 0;
  double arena_ms = 0, workspace_ms = 0;  // device allocations
  double stream_ms = 0;
  double backend_state_ms = 0;  // the context's library handles (cuDNN on CUDA)
  double total_ms = 0;
};

}  // namespace kiln::runtime
