// cuda.quantize against the CPU reference: QuantizeLinear / DequantizeLinear with per-tensor,
// per-axis and blocked scales, zero points constant or runtime, 8- and 16-bit integers.
#include <gtest/gtest.h>

#include <cstring>

#include "case_values.h"
#include "engine_case.h"

namespace kiln::gpu_test {
namespace {

class CudaQuantize : public ::testing::TestWithParam<EngineCase> {};
TEST_P(CudaQuantize, MatchesCpuReference) { run_engine_case(GetParam()); }

Tensor int_values(DataType dt, std::vector<int64_t> dims, int64_t lo, int64_t hi, uint64_t seed) {
  Tensor t(dt, dims);
  const size_t es = dtype_size(dt);
  for (int64_t i = 0; i < t.numel(); ++i) {
    int64_t v = lo + static_cast<int64_t>(hashed(i, seed, 0.f, 0.999f) * static_cast<float>(hi - lo + 1));
    std::memcpy(static_cast<uint8_t*>(t.raw()) + i * es, &v, es);
  }
  return t;
}

std::vector<EngineCase> quantize_cases() {
  std::vector<EngineCase> cases;
  auto scales = [](DataType dt, std::vector<int64_t> dims) {
    return float_tensor(dt, dims, [](int64_t i) { return 0.01f + 0.005f * static_cast<float>(i % 7); });
  };
  for (DataType ft : {DataType::kFloat32, DataType::kFloat16}) {
    const std::string sfx = std::string("_") + short_name(ft);
    // float16: x / scale rounds to float16 (the reference divides in double first); a rare
    // double rounding may move a value by one step.
    const double qtol = ft == DataType::kFloat16 ? 5e-3 : 0;
    // x in [-3, 3] so that some values saturate.
    CaseInput x = given_input(float_tensor(ft, {2, 6, 8}, [](int64_t i) { return hashed(i, 5, -3.f, 3.f); }));
    cases.push_back({"Quantize_uint8_per_tensor_zp" + sfx, "QuantizeLinear",
                     {x, constant_input(scales(ft, {})), constant_input(int_values(DataType::kUInt8, {}, 128, 128, 1))}, nullptr, qtol,
                     19, 1, "cuda.quantize"});
    cases.push_back({"Quantize_int8_per_axis_runtime" + sfx, "QuantizeLinear",
                     {x, given_input(scales(ft, {6})), given_input(int_values(DataType::kInt8, {6}, -5, 5, 2))},
                     [](ir::Node& n) { n.attrs().set("axis", int64_t{1}); }, qtol, 19, 1, "cuda.quantize"});
    cases.push_back({"Quantize_int16_blocked" + sfx, "QuantizeLinear",
                     {x, constant_input(scales(ft, {2, 6, 3})), constant_input(int_values(DataType::kInt16, {2, 6, 3}, -9, 9, 3))},
                     [](ir::Node& n) {
                       n.attrs().set("axis", int64_t{2});
                       n.attrs().set("block_size", int64_t{3});
                     }, qtol, 21, 1, "cuda.quantize"});
    cases.push_back({"Dequantize_int8_per_axis" + sfx, "DequantizeLinear",
                     {given_input(int_values(DataType::kInt8, {2, 6, 8}, -128, 127, 4)), constant_input(scales(ft, {6})),
                      constant_input(int_values(DataType::kInt8, {6}, -3, 3, 5))},
                     [](ir::Node& n) { n.attrs().set("axis", int64_t{1}); }, 1e-6, 19, 1, "cuda.quantize"});
    cases.push_back({"Dequantize_uint8_blocked" + sfx, "DequantizeLinear",
                     {given_input(int_values(DataType::kUInt8, {2, 6, 8}, 0, 255, 6)), given_input(scales(ft, {2, 6, 2})),
                      given_input(int_values(DataType::kUInt8, {2, 6, 2}, 100, 140, 7))},
                     [](ir::Node& n) {
                       n.attrs().set("axis", int64_t{2});
                       n.attrs().set("block_size", int64_t{4});
                     }, 1e-6, 21, 1, "cuda.quantize"});
  }
  cases.push_back({"Dequantize_int32_no_zp", "DequantizeLinear",
                   {given_input(int_values(DataType::kInt32, {5, 7}, -100000, 100000, 8)), constant_input(scales(DataType::kFloat32, {}))},
                   nullptr, 1e-6, 19, 1, "cuda.quantize"});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Quantize, CudaQuantize, ::testing::ValuesIn(quantize_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::gpu_test
