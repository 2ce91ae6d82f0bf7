// The kernel state of the cuBLASLt tactics (cuda.cublaslt.matmul, cuda.cublaslt.conv1x1): the
// algorithm the heuristic chose at build time, so that loading skips the heuristic. cuBLASLt
// documents cublasLtMatmulAlgo_t as trivially serializable for use with the same library
// version. The engine file is checksummed but not trusted: a state that does not decode, was
// made by another cuBLASLt or for another problem, or that cublasLtMatmulAlgoCheck refuses, is
// ignored and the heuristic runs again.
//
// Layout (little-endian, 96 bytes):
//   0 "KLTA"   4 u32 format (1)   8 u64 cublasLtGetVersion()   16 u64 problem hash
//   24 cublasLtMatmulAlgo_t (64 bytes)   88 u64 XXH64 of bytes [0, 88)
#pragma once
#include <cublasLt.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace kiln::cuda {

static_assert(sizeof(cublasLtMatmulAlgo_t) == 64, "cublasLtMatmulAlgo_t is documented as 64 bytes");

inline constexpr uint32_t kAlgoStateFormat = 1;
inline constexpr size_t kAlgoStateBytes = 96;

struct AlgoState {
  uint64_t library_version = 0;  // cublasLtGetVersion() of the build
  uint64_t problem_hash = 0;     // of the problem description (MatmulKernel::problem_hash)
  cublasLtMatmulAlgo_t algo{};
};

std::vector<uint8_t> encode_algo_state(const AlgoState& state);
// Empty when the bytes are not a whole state of this format (size, magic, format, checksum).
std::optional<AlgoState> decode_algo_state(const std::vector<uint8_t>& bytes);

}  // namespace kiln::cuda
