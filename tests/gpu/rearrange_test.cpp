// cuda.rearrange against the CPU reference: DepthToSpace (DCR, CRD), SpaceToDepth, Tile (constant
// and runtime repeats) and GatherElements (negative indices, int32 and int64).
#include <gtest/gtest.h>

#include "case_values.h"
#include "engine_case.h"

namespace kiln::gpu_test {
namespace {

class CudaRearrange : public ::testing::TestWithParam<EngineCase> {};
TEST_P(CudaRearrange, MatchesCpuReference) { run_engine_case(GetParam()); }

Tensor indices(DataType dt, std::vector<int64_t> dims, int64_t dim, uint64_t seed) {
  Tensor t(dt, dims);
  for (int64_t i = 0; i < t.numel(); ++i) {
    int64_t v = static_cast<int64_t>(hashed(i, seed, static_cast<float>(-dim), static_cast<float>(dim)));
    if (dt == DataType::kInt64) t.data<int64_t>()[i] = v;
    else t.data<int32_t>()[i] = static_cast<int32_t>(v);
  }
  return t;
}

std::vector<EngineCase> rearrange_cases() {
  std::vector<EngineCase> cases;
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16, DataType::kInt64}) {
    std::string sfx = std::string("_") + std::string(dtype_name(dt));
    for (const char* mode : {"DCR", "CRD"}) {
      std::string m = mode;
      cases.push_back({"DepthToSpace_" + m + sfx, "DepthToSpace", {random_input(dt, {2, 12, 3, 5})},
                       [m](ir::Node& n) {
                         n.attrs().set("blocksize", int64_t{2});
                         n.attrs().set("mode", m);
                       }, 0, 13, 1, "cuda.rearrange"});
    }
    cases.push_back({"SpaceToDepth" + sfx, "SpaceToDepth", {random_input(dt, {2, 3, 6, 9})},
                     [](ir::Node& n) { n.attrs().set("blocksize", int64_t{3}); }, 0, 13, 1, "cuda.rearrange"});
    cases.push_back({"Tile_const" + sfx, "Tile", {random_input(dt, {2, 3, 4}), constant_input(Tensor::from_i64({2, 1, 3}))}, nullptr,
                     0, 13, 1, "cuda.rearrange"});
    cases.push_back({"Tile_runtime" + sfx, "Tile", {random_input(dt, {3, 5}), given_input(Tensor::from_i64({3, 2}))}, nullptr, 0, 13,
                     1, "cuda.rearrange"});
    for (DataType it : {DataType::kInt64, DataType::kInt32}) {
      std::string isfx = it == DataType::kInt64 ? "_i64idx" : "_i32idx";
      cases.push_back({"GatherElements_axis1" + isfx + sfx, "GatherElements",
                       {random_input(dt, {4, 7, 3}), given_input(indices(it, {4, 5, 3}, 7, 3))},
                       [](ir::Node& n) { n.attrs().set("axis", int64_t{1}); }, 0, 13, 1, "cuda.rearrange"});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Rearrange, CudaRearrange, ::testing::ValuesIn(rearrange_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::gpu_test
