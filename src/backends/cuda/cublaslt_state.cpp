#include "backends/cuda/cublaslt_state.h"

#include <cstring>

#include "plan/checksum.h"

namespace kiln::cuda {
namespace {

constexpr char kMagic[4] = {'K', 'L', 'T', 'A'};
constexpr size_t kAlgoOffset = 24, kChecksumOffset = 88;

void put_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void put_u64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint32_t get_u32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
uint64_t get_u64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

}  // namespace

std::vector<uint8_t> encode_algo_state(const AlgoState& state) {
  std::vector<uint8_t> out(kAlgoStateBytes, 0);
  std::memcpy(out.data(), kMagic, 4);
  put_u32(out.data() + 4, kAlgoStateFormat);
  put_u64(out.data() + 8, state.library_version);
  put_u64(out.data() + 16, state.problem_hash);
  std::memcpy(out.data() + kAlgoOffset, &state.algo, sizeof(state.algo));
  put_u64(out.data() + kChecksumOffset, plan::xxh64(out.data(), kChecksumOffset, 0));
  return out;
}

std::optional<AlgoState> decode_algo_state(const std::vector<uint8_t>& bytes) {
  if (bytes.size() != kAlgoStateBytes || std::memcmp(bytes.data(), kMagic, 4) != 0 ||
      get_u32(bytes.data() + 4) != kAlgoStateFormat ||
      get_u64(bytes.data() + kChecksumOffset) != plan::xxh64(bytes.data(), kChecksumOffset, 0))
    return std::nullopt;
  AlgoState s;
  s.library_version = get_u64(bytes.data() + 8);
  s.problem_hash = get_u64(bytes.data() + 16);
  std::memcpy(&s.algo, bytes.data() + kAlgoOffset, sizeof(s.algo));
  return s;
}

}  // namespace kiln::cuda
