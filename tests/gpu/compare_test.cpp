// cuda.compare against the CPU reference: comparisons with broadcasting over float32, float16,
// int16, int32, int64, uint32, uint64 (inputs with many equal values so Equal and the *OrEqual forms are exercised),
// and the logical ops on bool.
#include <gtest/gtest.h>

#include <cstring>

#include "case_values.h"
#include "engine_case.h"

namespace kiln::gpu_test {
namespace {

class CudaCompare : public ::testing::TestWithParam<EngineCase> {};
TEST_P(CudaCompare, MatchesCpuReference) { run_engine_case(GetParam()); }

// Small integers (as the dtype) so that equal pairs are common.
Tensor small_values(DataType dt, std::vector<int64_t> dims, uint64_t seed) {
  if (dt == DataType::kInt64 || dt == DataType::kInt32 || dt == DataType::kInt16 || dt == DataType::kUInt32 ||
      dt == DataType::kUInt64) {
    const bool is_unsigned = dt == DataType::kUInt32 || dt == DataType::kUInt64;
    Tensor t(dt, dims);
    const size_t es = dtype_size(dt);
    for (int64_t i = 0; i < t.numel(); ++i) {
      int64_t v = static_cast<int64_t>(hashed(i, seed, is_unsigned ? 0.f : -3.f, 3.f));
      std::memcpy(static_cast<uint8_t*>(t.raw()) + i * es, &v, es);  // little-endian truncation
    }
    return t;
  }
  if (dt == DataType::kBool) {
    Tensor t(dt, dims);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<uint8_t>()[i] = hashed(i, seed, 0.f, 1.f) < 0.5f;
    return t;
  }
  return float_tensor(dt, dims, [seed](int64_t i) { return static_cast<float>(static_cast<int>(hashed(i, seed, -3.f, 3.f))); });
}

std::vector<EngineCase> compare_cases() {
  std::vector<EngineCase> cases;
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16, DataType::kInt32, DataType::kInt64, DataType::kInt16,
                      DataType::kUInt32, DataType::kUInt64}) {
    std::string sfx = std::string("_") + std::string(dtype_name(dt));
    for (const char* op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"}) {
      cases.push_back({std::string(op) + "_bcast" + sfx, op,
                       {given_input(small_values(dt, {3, 1, 7}, 1)), given_input(small_values(dt, {4, 7}, 2))}, nullptr, 0, 16, 1,
                       "cuda.compare"});
    }
  }
  for (const char* op : {"And", "Or", "Xor"})
    cases.push_back({std::string(op) + "_bool", op,
                     {given_input(small_values(DataType::kBool, {2, 5, 6}, 3)), given_input(small_values(DataType::kBool, {5, 1}, 4))},
                     nullptr, 0, 16, 1, "cuda.compare"});
  cases.push_back({"Not_bool", "Not", {given_input(small_values(DataType::kBool, {3, 9}, 5))}, nullptr, 0, 16, 1, "cuda.compare"});
  cases.push_back({"Equal_bool", "Equal",
                   {given_input(small_values(DataType::kBool, {3, 9}, 6)), given_input(small_values(DataType::kBool, {3, 9}, 7))},
                   nullptr, 0, 19, 1, "cuda.compare"});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Compare, CudaCompare, ::testing::ValuesIn(compare_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::gpu_test
