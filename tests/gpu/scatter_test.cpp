// cuda.scatter against the CPU reference: ScatterElements (int32/int64 and negative indices,
// reductions none/add/mul/max/min) and ScatterND (slices and single elements), float32, int64
// and float16 (reduction none only).
#include <gtest/gtest.h>

#include "case_values.h"
#include "engine_case.h"

namespace kiln::gpu_test {
namespace {

class CudaScatter : public ::testing::TestWithParam<EngineCase> {};
TEST_P(CudaScatter, MatchesCpuReference) { run_engine_case(GetParam()); }

// Row r, column j: (2r + j) mod 6, every other one written as its negative equivalent (j - 6).
Tensor element_indices(DataType dt) {
  Tensor t(dt, {4, 3});
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t j = 0; j < 3; ++j) {
      int64_t v = (2 * r + j) % 6;
      if ((r + j) % 2) v -= 6;
      if (dt == DataType::kInt64) t.data<int64_t>()[r * 3 + j] = v;
      else t.data<int32_t>()[r * 3 + j] = static_cast<int32_t>(v);
    }
  return t;
}

std::vector<EngineCase> scatter_cases() {
  std::vector<EngineCase> cases;
  for (DataType dt : {DataType::kFloat32, DataType::kInt64, DataType::kFloat16}) {
    std::string sfx = std::string("_") + std::string(dtype_name(dt));
    const double tol = dt == DataType::kFloat32 ? 1e-6 : dt == DataType::kFloat16 ? 1e-3 : 0;
    std::vector<std::string> reds = {"none"};
    if (dt != DataType::kFloat16) reds = {"none", "add", "mul", "max", "min"};
    for (const std::string& red : reds) {
      for (DataType it : {DataType::kInt64, DataType::kInt32}) {
        std::string isfx = it == DataType::kInt64 ? "_i64" : "_i32";
        cases.push_back({"ScatterElements_" + red + isfx + sfx, "ScatterElements",
                         {random_input(dt, {4, 6}), given_input(element_indices(it)), random_input(dt, {4, 3})},
                         [red](ir::Node& n) {
                           n.attrs().set("axis", int64_t{1});
                           n.attrs().set("reduction", red);
                         }, tol, 18, 1, "cuda.scatter"});
      }
      Tensor slices = Tensor::from_i64({3, -1}).reshaped({2, 1});
      cases.push_back({"ScatterND_slices_" + red + sfx, "ScatterND",
                       {random_input(dt, {5, 4, 3}), given_input(slices), random_input(dt, {2, 4, 3})},
                       [red](ir::Node& n) { n.attrs().set("reduction", red); }, tol, 18, 1, "cuda.scatter"});
      Tensor points = Tensor::from_i64({0, 1, 2, 4, -1, 0, 2, 2, 1}).reshaped({3, 3});
      cases.push_back({"ScatterND_points_" + red + sfx, "ScatterND",
                       {random_input(dt, {5, 4, 3}), given_input(points), random_input(dt, {3})},
                       [red](ir::Node& n) { n.attrs().set("reduction", red); }, tol, 18, 1, "cuda.scatter"});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Scatter, CudaScatter, ::testing::ValuesIn(scatter_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::gpu_test
