// cuda.pool_nd against the CPU reference: 1-D and 3-D MaxPool/AveragePool, MaxPool with its
// Indices output (both storage orders), LpPool, ceil_mode and SAME padding; float32 and float16.
#include <gtest/gtest.h>

#include "case_values.h"
#include "engine_case.h"

namespace kiln::gpu_test {
namespace {

class CudaPoolNd : public ::testing::TestWithParam<EngineCase> {};
TEST_P(CudaPoolNd, MatchesCpuReference) { run_engine_case(GetParam()); }

std::vector<EngineCase> pool_nd_cases() {
  std::vector<EngineCase> cases;
  using V = std::vector<int64_t>;
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16}) {
    const std::string sfx = std::string("_") + short_name(dt);
    const double tol = dt == DataType::kFloat32 ? 1e-5 : 2e-3;
    cases.push_back({"MaxPool_1d_pad" + sfx, "MaxPool", {random_input(dt, {2, 3, 17})},
                     [](ir::Node& n) {
                       n.attrs().set("kernel_shape", V{3});
                       n.attrs().set("strides", V{2});
                       n.attrs().set("pads", V{1, 1});
                     }, 0, 12, 1, "cuda.pool_nd"});
    cases.push_back({"AveragePool_3d_include_pad_ceil" + sfx, "AveragePool", {random_input(dt, {1, 2, 5, 6, 7})},
                     [](ir::Node& n) {
                       n.attrs().set("kernel_shape", V{2, 3, 3});
                       n.attrs().set("strides", V{2, 2, 2});
                       n.attrs().set("pads", V{0, 1, 1, 1, 1, 0});
                       n.attrs().set("count_include_pad", int64_t{1});
                       n.attrs().set("ceil_mode", int64_t{1});
                     }, tol, 19, 1, "cuda.pool_nd"});
    cases.push_back({"MaxPool_3d_same_upper" + sfx, "MaxPool", {random_input(dt, {1, 2, 5, 6, 7})},
                     [](ir::Node& n) {
                       n.attrs().set("kernel_shape", V{3, 3, 2});
                       n.attrs().set("strides", V{2, 2, 2});
                       n.attrs().set("auto_pad", std::string("SAME_UPPER"));
                     }, 0, 12, 1, "cuda.pool_nd"});
    for (int64_t order : {0, 1})
      cases.push_back({"MaxPool_2d_indices_order" + std::to_string(order) + sfx, "MaxPool", {random_input(dt, {2, 3, 7, 9})},
                       [order](ir::Node& n) {
                         n.attrs().set("kernel_shape", V{3, 2});
                         n.attrs().set("strides", V{2, 2});
                         n.attrs().set("storage_order", order);
                       }, 0, 12, 2, "cuda.pool_nd"});
    cases.push_back({"LpPool_2d_p3" + sfx, "LpPool", {random_input(dt, {2, 3, 8, 8})},
                     [](ir::Node& n) {
                       n.attrs().set("kernel_shape", V{3, 3});
                       n.attrs().set("pads", V{1, 1, 1, 1});
                       n.attrs().set("p", int64_t{3});
                     }, tol, 18, 1, "cuda.pool_nd"});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(PoolNd, CudaPoolNd, ::testing::ValuesIn(pool_nd_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::gpu_test
