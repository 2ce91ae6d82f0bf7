// libFuzzer target for the engine reader: any bytes must give an engine or a clean error,
// never a crash, a hang or a huge allocation. Most mutations break the checksum, which would
// stop the reader at the header; so for inputs whose reserved header byte 60 is odd, the
// target rewrites the checksum first, letting the fuzzer reach the verifier and the structural
// checks behind it. Build: clang++ -fsanitize=fuzzer,address (see scripts/fuzz.sh).
#include <cstdint>
#include <cstring>
#include <vector>

#include "plan/checksum.h"
#include "plan/engine_format.h"
#include "runtime/engine.h"
#include "runtime/execution_context.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool init = [] {
    kiln::set_max_tensor_bytes(int64_t{64} << 20);  // kernels of a fuzzed engine stay small
    return true;
  }();
  (void)init;
  std::vector<uint8_t> bytes(data, data + size);
  if (bytes.size() >= kiln::plan::kEngineHeaderBytes && (bytes[60] & 1)) {
    uint64_t n = bytes.size();
    std::memcpy(bytes.data() + 48, &n, 8);  // file size
    uint64_t c = kiln::plan::engine_checksum(bytes.data(), bytes.size());
    std::memcpy(bytes.data() + 8, &c, 8);
  }
  auto engine = kiln::runtime::Engine::load(std::move(bytes));
  if (!engine.is_ok()) return 0;
  // A valid engine must also run (its kernels validate shapes against the plan).
  const auto& e = *engine.value();
  // Device memory a hostile engine may ask for is bounded by the device (kOutOfMemory), not by
  // the reader; keep the fuzzer's allocations small.
  if (e.desc().memory.arena_bytes + e.desc().workspace_bytes > (size_t{64} << 20)) return 0;
  auto ctx = e.create_context();
  if (!ctx.is_ok()) return 0;
  std::map<std::string, kiln::Tensor> inputs;
  size_t total = 0;
  for (const auto& b : e.inputs()) {
    total += b.nbytes;
    if (total > (size_t{64} << 20)) return 0;
    inputs[b.name] = kiln::Tensor(b.dtype, b.dims);
  }
  (void)ctx.value()->run(inputs);
  return 0;
}
