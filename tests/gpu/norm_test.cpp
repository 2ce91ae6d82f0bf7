// cuda.norm against the CPU reference: InstanceNormalization, GroupNormalization (opset 18
// per-group and 21 per-channel scale/bias), RMSNormalization, and LayerNormalization with its
// Mean / InvStdDev outputs; float32 and float16.
#include <gtest/gtest.h>

#include "case_values.h"
#include "engine_case.h"
#include "io/random_inputs.h"

namespace kiln::gpu_test {
namespace {

class CudaNorm : public ::testing::TestWithParam<EngineCase> {};
TEST_P(CudaNorm, MatchesCpuReference) { run_engine_case(GetParam()); }

std::vector<EngineCase> norm_cases() {
  std::vector<EngineCase> cases;
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16}) {
    const std::string sfx = std::string("_") + short_name(dt);
    const double tol = dt == DataType::kFloat32 ? 1e-4 : 4e-3;
    auto w = [dt](std::vector<int64_t> dims, uint64_t seed) { return constant_input(io::random_tensor(dt, dims, seed)); };
    cases.push_back({"InstanceNorm" + sfx, "InstanceNormalization", {random_input(dt, {2, 6, 9, 11}), w({6}, 1), w({6}, 2)},
                     [](ir::Node& n) { n.attrs().set("epsilon", 1e-3f); }, tol, 17, 1, "cuda.norm"});
    cases.push_back({"InstanceNorm_large" + sfx, "InstanceNormalization", {random_input(dt, {1, 3, 64, 80}), w({3}, 3), w({3}, 4)},
                     nullptr, tol, 17, 1, "cuda.norm"});
    cases.push_back({"GroupNorm18_per_group" + sfx, "GroupNormalization", {random_input(dt, {2, 8, 5, 5}), w({4}, 5), w({4}, 6)},
                     [](ir::Node& n) { n.attrs().set("num_groups", int64_t{4}); }, tol, 18, 1, "cuda.norm"});
    cases.push_back({"GroupNorm21_per_channel" + sfx, "GroupNormalization", {random_input(dt, {2, 8, 5, 5}), w({8}, 7), w({8}, 8)},
                     [](ir::Node& n) { n.attrs().set("num_groups", int64_t{2}); }, tol, 21, 1, "cuda.norm"});
    cases.push_back({"RMSNorm_last" + sfx, "RMSNormalization", {random_input(dt, {3, 7, 96}), w({96}, 9)}, nullptr, tol, 23, 1,
                     "cuda.norm"});
    cases.push_back({"RMSNorm_axis1" + sfx, "RMSNormalization", {random_input(dt, {3, 4, 10}), w({4, 10}, 10)},
                     [](ir::Node& n) { n.attrs().set("axis", int64_t{1}); }, tol, 23, 1, "cuda.norm"});
    cases.push_back({"LayerNorm_stats" + sfx, "LayerNormalization", {random_input(dt, {4, 5, 6}), w({5, 6}, 11), w({5, 6}, 12)},
                     [](ir::Node& n) { n.attrs().set("axis", int64_t{1}); }, tol, 17, 3, "cuda.norm"});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Norm, CudaNorm, ::testing::ValuesIn(norm_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::gpu_test
