// cuda.conv_direct against the CPU reference: Conv with weights and bias computed at run time
// (which cuda.cudnn.conv leaves in 1-D and 3-D), 1-D with dilation and groups, 2-D SAME_UPPER with
// stride (any tactic), 3-D; float32 and float16.
#include <gtest/gtest.h>

#include "case_values.h"
#include "engine_case.h"

namespace kiln::gpu_test {
namespace {

class CudaConvDirect : public ::testing::TestWithParam<EngineCase> {};
TEST_P(CudaConvDirect, MatchesCpuReference) { run_engine_case(GetParam()); }

std::vector<EngineCase> conv_direct_cases() {
  std::vector<EngineCase> cases;
  using V = std::vector<int64_t>;
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16}) {
    const std::string sfx = std::string("_") + short_name(dt);
    const double tol = dt == DataType::kFloat32 ? 1e-4 : 1e-2;
    cases.push_back({"Conv1d_runtime_weights_group_dilation" + sfx, "Conv",
                     {random_input(dt, {2, 6, 20}), random_input(dt, {6, 2, 3}), random_input(dt, {6})},
                     [](ir::Node& n) {
                       n.attrs().set("group", int64_t{3});
                       n.attrs().set("dilations", V{2});
                       n.attrs().set("pads", V{2, 2});
                     }, tol, 17, 1, "cuda.conv_direct"});
    cases.push_back({"Conv2d_runtime_weights_same_upper_any_tactic" + sfx, "Conv",
                     {random_input(dt, {1, 4, 9, 11}), random_input(dt, {5, 4, 3, 3})},
                     [](ir::Node& n) {
                       n.attrs().set("strides", V{2, 2});
                       n.attrs().set("auto_pad", std::string("SAME_UPPER"));
                     }, tol, 17, 1, ""});  // cuda.cudnn.conv takes 2-D runtime weights; whichever runs it
    cases.push_back({"Conv3d_runtime_weights" + sfx, "Conv",
                     {random_input(dt, {1, 2, 5, 6, 7}), random_input(dt, {3, 2, 2, 3, 3}), random_input(dt, {3})},
                     [](ir::Node& n) { n.attrs().set("pads", V{1, 1, 1, 0, 1, 1}); }, tol, 17, 1, "cuda.conv_direct"});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(ConvDirect, CudaConvDirect, ::testing::ValuesIn(conv_direct_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::gpu_test
