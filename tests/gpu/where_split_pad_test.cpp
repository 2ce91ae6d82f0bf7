// cuda.where, cuda.split and cuda.pad against the CPU reference (float32 and float16, plus an
// integer dtype where the op only moves bytes).
#include <gtest/gtest.h>

#include "case_values.h"
#include "engine_case.h"

namespace kiln::gpu_test {
namespace {

class CudaMovementOps : public ::testing::TestWithParam<EngineCase> {};
TEST_P(CudaMovementOps, MatchesCpuReference) { run_engine_case(GetParam()); }

Tensor bools(std::vector<int64_t> dims, uint64_t seed) {
  Tensor t(DataType::kBool, dims);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<uint8_t>()[i] = hashed(i, seed, 0.f, 1.f) < 0.5f;
  return t;
}

std::vector<EngineCase> where_cases() {
  std::vector<EngineCase> cases;
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16, DataType::kInt64}) {
    std::string sfx = std::string("_") + (dt == DataType::kInt64 ? "i64" : short_name(dt));
    cases.push_back({"Where_same" + sfx, "Where", {given_input(bools({4, 5, 6}, 1)), random_input(dt, {4, 5, 6}), random_input(dt, {4, 5, 6})},
                     nullptr, 0, 16, 1, "cuda.where"});
    cases.push_back({"Where_bcast" + sfx, "Where", {given_input(bools({1, 5, 1}, 2)), random_input(dt, {4, 1, 6}), random_input(dt, {6})},
                     nullptr, 0, 16, 1, "cuda.where"});
  }
  return cases;
}

std::vector<EngineCase> split_cases() {
  std::vector<EngineCase> cases;
  auto ints = [](std::vector<int64_t> v) { return Tensor::from_i64(v); };
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16, DataType::kInt32}) {
    std::string sfx = std::string("_") + (dt == DataType::kInt32 ? "i32" : short_name(dt));
    cases.push_back({"Split_equal_axis1" + sfx, "Split", {random_input(dt, {2, 12, 5})},
                     [](ir::Node& n) { n.attrs().set("axis", int64_t{1}); }, 0, 13, 3, "cuda.split"});
    cases.push_back({"Split_sizes_const_last" + sfx, "Split", {random_input(dt, {3, 4, 10}), constant_input(ints({2, 7, 1}))},
                     [](ir::Node& n) { n.attrs().set("axis", int64_t{-1}); }, 0, 13, 3, "cuda.split"});
    cases.push_back({"Split_num_outputs_uneven" + sfx, "Split", {random_input(dt, {11, 3})},
                     [](ir::Node& n) { n.attrs().set("num_outputs", int64_t{3}); }, 0, 18, 3, "cuda.split"});
    cases.push_back({"Split_attr_opset11" + sfx, "Split", {random_input(dt, {6, 4})},
                     [](ir::Node& n) {
                       n.attrs().set("axis", int64_t{0});
                       n.attrs().set("split", std::vector<int64_t>{1, 0, 5});
                     }, 0, 11, 3, "cuda.split"});
  }
  return cases;
}

std::vector<EngineCase> pad_cases() {
  std::vector<EngineCase> cases;
  auto ints = [](std::vector<int64_t> v) { return Tensor::from_i64(v); };
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16}) {
    std::string sfx = std::string("_") + short_name(dt);
    Tensor value = float_tensor(dt, {}, [](int64_t) { return 2.5f; });
    for (const char* mode : {"constant", "edge", "reflect", "wrap"}) {
      std::string m = mode;
      auto set_mode = [m](ir::Node& n) { n.attrs().set("mode", m); };
      cases.push_back({"Pad_" + m + "_nchw" + sfx, "Pad", {random_input(dt, {2, 3, 7, 9}), constant_input(ints({0, 0, 2, 3, 0, 0, 1, 4}))},
                       set_mode, 0, 18, 1, "cuda.pad"});
      cases.push_back({"Pad_" + m + "_crop" + sfx, "Pad", {random_input(dt, {5, 8}), constant_input(ints({-1, 2, 3, -2}))},
                       set_mode, 0, 18, 1, "cuda.pad"});
      cases.push_back({"Pad_" + m + "_runtime_pads" + sfx, "Pad", {random_input(dt, {3, 6, 5}), given_input(ints({1, 0, 2, 0, 3, 1}))},
                       set_mode, 0, 18, 1, "cuda.pad"});
    }
    cases.push_back({"Pad_constant_value" + sfx, "Pad", {random_input(dt, {4, 5}), constant_input(ints({1, 2, 3, 4})), constant_input(value)},
                     nullptr, 0, 18, 1, "cuda.pad"});
    cases.push_back({"Pad_runtime_value" + sfx, "Pad", {random_input(dt, {4, 5}), constant_input(ints({1, 2, 3, 4})), given_input(value)},
                     nullptr, 0, 18, 1, "cuda.pad"});
    cases.push_back({"Pad_axes" + sfx, "Pad", {random_input(dt, {2, 4, 5}), constant_input(ints({1, 2, 0, 3})), CaseInput{dt, {}, std::nullopt, false, true},
                     constant_input(ints({0, -1}))}, nullptr, 0, 18, 1, "cuda.pad"});
  }
  cases.push_back({"Pad_attr_opset2_f32", "Pad", {random_input(DataType::kFloat32, {3, 4})},
                   [](ir::Node& n) {
                     n.attrs().set("pads", std::vector<int64_t>{1, 1, 2, 0});
                     n.attrs().set("value", 1.5f);
                   }, 0, 2, 1, "cuda.pad"});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Where, CudaMovementOps, ::testing::ValuesIn(where_cases()),
                         [](const auto& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(Split, CudaMovementOps, ::testing::ValuesIn(split_cases()),
                         [](const auto& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(Pad, CudaMovementOps, ::testing::ValuesIn(pad_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::gpu_test
