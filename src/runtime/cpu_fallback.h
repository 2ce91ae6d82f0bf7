// CPU fallback inside CUDA engines (kiln build --allow-cpu-fallback): a node no CUDA tactic
// supports runs on the CPU reference kernel. The builder marks such a node with the attribute
// kCpuFallbackAttr (stored in the engine file like any attribute, shown by `kiln inspect`) and
// gives it the CUDA-backend tactic kCpuFallbackTactic, which supports exactly the marked nodes
// that cpu.reference supports, so no other node, build or test ever sees it as a candidate.
//
// At run time the layer, in stream order: copies its inputs device->host (host staging
// allocated per call, so contexts can run at once), synchronizes the stream, runs the
// cpu.reference kernel, copies its outputs host->device and synchronizes again (the staging
// is freed on return). Synchronizing is not allowed while a stream is captured, so engines
// with such layers must not be captured into CUDA graphs: ExecutionContext never captures
// them, `kiln bench` turns capture off for them and says so, `kiln inspect` counts them. The kernel gets its Device from
// make_device(Backend::kCuda) (the CUDA backend's factory; the same GPU 0 the engine uses).
#pragma once
#include <cstddef>
#include <string_view>

#include "ir/graph.h"
#include "plan/engine_format.h"

namespace kiln::runtime {

inline constexpr std::string_view kCpuFallbackTactic = "cuda.cpu_fallback";
inline constexpr const char* kCpuFallbackAttr = "kiln_cpu_fallback";

// Whether the CPU reference kernel could run `node` (a tensor-only node with a CPU kernel).
bool cpu_reference_supports(const ir::Node& node);
// Marks `node` for the fallback tactic.
void mark_cpu_fallback(ir::Node& node);
// Layers of an engine that run on the CPU through the fallback.
size_t cpu_fallback_layers(const plan::EngineDesc& desc);

}  // namespace kiln::runtime
