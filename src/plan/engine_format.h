// The engine file: a 64-byte header, the FlatBuffers metadata (engine_format.fbs) and one
// weights section aligned to 64 bytes so it can be used straight from an mmap.
//
// Header, little-endian:
//   0  "KILN"             4  u32 format version   8  u64 checksum (XXH64 of [16,end) seeded with bytes [0,8))
//   16 u64 metadata off   24 u64 metadata size    32 u64 weights off   40 u64 weights size
//   48 u64 file size      56 u32 header size (64) 60 u32 reserved (0)
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"
#include "plan/memory_planner.h"
#include "runtime/device.h"

namespace kiln::plan {

inline constexpr char kEngineMagic[4] = {'K', 'I', 'L', 'N'};
// 2: Storage::Alias (views); 3: I/O formats (BuildConfig io_dtype/input_layout, input bindings
// stored channels-last), which a reader of version 2 would misread.
inline constexpr uint32_t kEngineFormatVersion = 3;
inline constexpr size_t kEngineHeaderBytes = 64;
inline constexpr size_t kWeightsAlignment = 64;
// The most activation memory and layer workspace an engine may ask for: the reader refuses
// larger values as corrupt, so the writer refuses to write them (a model whose shapes multiply
// past any GPU's memory is a clean build error, not an engine that cannot load).
inline constexpr uint64_t kMaxArenaBytes = uint64_t{1} << 44;      // 16 TiB
inline constexpr uint64_t kMaxWorkspaceBytes = uint64_t{1} << 40;  // 1 TiB
const char* builder_version();  // the Kiln version that writes engines ("0.1.0")

struct BuildSettings {
  bool fp16 = false, bf16 = false, tf32 = false;
  int64_t workspace_mib = 0;
  std::vector<std::string> disabled_passes;
  // I/O formats (kiln build --io-dtype / --input-layout; runtime/io_format.h).
  DataType io_dtype = DataType::kFloat32;
  ir::Layout input_layout = ir::Layout::kRowMajor;
};

// Constants packed into one 64-byte aligned host block.
struct Weights {
  std::shared_ptr<const uint8_t> data;  // keeps the block (or the mapped file) alive
  size_t bytes = 0;
  std::unordered_map<const ir::Value*, size_t> offsets;  // constant value -> offset
};
// Packs every constant that a node of g reads or that g outputs.
Result<Weights> pack_weights(const ir::Graph& g);

struct Layer {
  std::string tactic;
  std::string params;
  size_t workspace_bytes = 0;
  std::vector<uint8_t> kernel_state;  // Kernel::serialize() at build time (cuDNN plans), may be empty
};

// An engine as data: what the builder produces, the writer stores and the reader returns.
struct EngineDesc {
  std::string builder_version;
  runtime::TargetInfo target;
  BuildSettings config;
  std::shared_ptr<ir::Graph> graph;  // optimized, static types, nodes in execution order
  std::vector<Layer> layers;         // one per graph node (views: tactic kAliasTactic, no kernel)
  MemoryPlan memory;                 // the arena: every intermediate value, and the aliases
  Weights weights;
  size_t workspace_bytes = 0;        // max over layers
  int64_t source_node_count = 0;     // layers before optimization
};

Result<std::vector<uint8_t>> write_engine(const EngineDesc& desc);
Status write_engine_file(const EngineDesc& desc, const std::string& path);

// Bytes of an engine file, owned or mapped.
struct EngineBytes {
  std::shared_ptr<const uint8_t> data;
  size_t size = 0;
};
Result<EngineBytes> map_engine_file(const std::string& path);  // mmap, read-only
EngineBytes engine_bytes(std::vector<uint8_t> bytes);           // copies into a 64-byte aligned block

// Validates everything (header, checksum, FlatBuffers verifier, every index, size and offset,
// the target) and rebuilds the EngineDesc; constants view the weights inside `bytes`.
// `running` is the target the engine would run on: a different backend, GPU, compute
// capability or library version is refused with a message saying what differs.
Result<EngineDesc> read_engine(const EngineBytes& bytes, const runtime::TargetInfo& running);
// Header + verifier + structure, without the target check (inspect, fuzzing). `timings`, when
// given, receives the time of each step (the load profile).
struct ReadTimings {
  double checksum_ms = 0, verify_ms = 0, parse_ms = 0;
};
Result<EngineDesc> read_engine_any_target(const EngineBytes& bytes, ReadTimings* timings = nullptr);

// "" when `built` can run on `running`, else what differs.
std::string target_mismatch(const runtime::TargetInfo& built, const runtime::TargetInfo& running);

}  // namespace kiln::plan
