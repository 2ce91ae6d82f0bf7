// cuda.shape (Shape, Size, Dropout in inference), cuda.trilu, cuda.cumulative, cuda.nary and
// cuda.generator (Range, OneHot) against the CPU reference.
#include <gtest/gtest.h>

#include "case_values.h"
#include "engine_case.h"

namespace kiln::gpu_test {
namespace {

class CudaMisc : public ::testing::TestWithParam<EngineCase> {};
TEST_P(CudaMisc, MatchesCpuReference) { run_engine_case(GetParam()); }

std::vector<EngineCase> misc_cases() {
  std::vector<EngineCase> cases;
  auto ints = [](std::vector<int64_t> v) { return Tensor::from_i64(v); };
  auto scalar = [](int64_t v) { return Tensor::from_i64({v}).reshaped({}); };
  cases.push_back({"Shape", "Shape", {random_input(DataType::kFloat32, {2, 3, 5, 7})}, nullptr, 0, 15, 1, "cuda.shape"});
  cases.push_back({"Shape_start_end", "Shape", {random_input(DataType::kFloat16, {2, 3, 5, 7})},
                   [](ir::Node& n) {
                     n.attrs().set("start", int64_t{1});
                     n.attrs().set("end", int64_t{-1});
                   }, 0, 15, 1, "cuda.shape"});
  cases.push_back({"Size", "Size", {random_input(DataType::kFloat32, {4, 9})}, nullptr, 0, 13, 1, "cuda.shape"});
  cases.push_back({"Dropout_inference_mask", "Dropout", {random_input(DataType::kFloat32, {3, 17})}, nullptr, 0, 13, 2, "cuda.shape"});
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16, DataType::kInt64}) {
    std::string sfx = std::string("_") + std::string(dtype_name(dt));
    for (int64_t upper : {0, 1}) {
      std::string u = upper ? "triu" : "tril";
      cases.push_back({u + "_k_const" + sfx, "Trilu", {random_input(dt, {2, 5, 7}), constant_input(scalar(-1))},
                       [upper](ir::Node& n) { n.attrs().set("upper", upper); }, 0, 14, 1, "cuda.trilu"});
      cases.push_back({u + "_k_runtime" + sfx, "Trilu", {random_input(dt, {6, 4}), given_input(scalar(2))},
                       [upper](ir::Node& n) { n.attrs().set("upper", upper); }, 0, 14, 1, "cuda.trilu"});
    }
  }
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16, DataType::kInt32}) {
    std::string sfx = std::string("_") + std::string(dtype_name(dt));
    const double tol = dt == DataType::kFloat32 ? 1e-5 : dt == DataType::kFloat16 ? 4e-3 : 0;
    cases.push_back({"CumSum_axis1" + sfx, "CumSum", {random_input(dt, {3, 40, 5}), constant_input(scalar(1))}, nullptr, tol, 14, 1,
                     "cuda.cumulative"});
    cases.push_back({"CumSum_exclusive_reverse_runtime_axis" + sfx, "CumSum", {random_input(dt, {3, 40, 5}), given_input(scalar(-1))},
                     [](ir::Node& n) {
                       n.attrs().set("exclusive", int64_t{1});
                       n.attrs().set("reverse", int64_t{1});
                     }, tol, 14, 1, "cuda.cumulative"});
  }
  // cuda.nary: variadic Sum/Mean/Max/Min (three inputs, broadcasting; one input) and float Mod.
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16, DataType::kFloat64}) {
    std::string sfx = std::string("_") + std::string(dtype_name(dt));
    const double tol = dt == DataType::kFloat16 ? 2e-3 : 1e-6;
    for (const char* op : {"Sum", "Mean", "Max", "Min"})
      cases.push_back({std::string(op) + "_three" + sfx, op,
                       {random_input(dt, {3, 4, 5}), random_input(dt, {4, 1}), random_input(dt, {5})}, nullptr, tol, 13, 1,
                       "cuda.nary"});
    cases.push_back({"Min_one" + sfx, "Min", {random_input(dt, {3, 4})}, nullptr, 0, 13, 1, "cuda.nary"});
    for (int64_t fmod : {0, 1})
      cases.push_back({"Mod_fmod" + std::to_string(fmod) + sfx, "Mod", {random_input(dt, {6, 7}), random_input(dt, {7})},
                       [fmod](ir::Node& n) { n.attrs().set("fmod", fmod); }, tol, 13, 1, "cuda.nary"});
  }
  // cuda.generator: Range with runtime start/limit/delta (the declared output length), OneHot.
  cases.push_back({"Range_f32", "Range", {given_input(Tensor::scalar_f32(-1.5f)), given_input(Tensor::scalar_f32(7.f)),
                                          given_input(Tensor::scalar_f32(0.25f))}, nullptr, 1e-6, 11, 1, "cuda.generator"});
  cases.push_back({"Range_i64_negative_delta", "Range", {given_input(scalar(10)), given_input(scalar(-7)), given_input(scalar(-3))},
                   nullptr, 0, 11, 1, "cuda.generator"});
  for (DataType vt : {DataType::kFloat32, DataType::kInt64}) {
    Tensor values = vt == DataType::kFloat32 ? float_tensor(vt, {2}, [](int64_t i) { return i ? 2.5f : -1.f; }) : ints({0, 7});
    cases.push_back({"OneHot_axis1_" + std::string(dtype_name(vt)), "OneHot",
                     {given_input(ints({0, 3, -1, 2, 5, -6}).reshaped({2, 3})), constant_input(scalar(5)), given_input(values)},
                     [](ir::Node& n) { n.attrs().set("axis", int64_t{1}); }, 0, 11, 1, "cuda.generator"});
  }
  (void)ints;
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Misc, CudaMisc, ::testing::ValuesIn(misc_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::gpu_test
