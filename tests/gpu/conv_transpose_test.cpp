// cuda.conv_transpose against the CPU reference: 2-D with stride/pad/output_padding, groups,
// dilation, auto_pad SAME_UPPER, 1-D and 3-D, with and without bias; float32 and float16.
#include <gtest/gtest.h>

#include "case_values.h"
#include "engine_case.h"
#include "io/random_inputs.h"

namespace kiln::gpu_test {
namespace {

class CudaConvTranspose : public ::testing::TestWithParam<EngineCase> {};
TEST_P(CudaConvTranspose, MatchesCpuReference) { run_engine_case(GetParam()); }

std::vector<EngineCase> conv_transpose_cases() {
  std::vector<EngineCase> cases;
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16}) {
    const std::string sfx = std::string("_") + short_name(dt);
    // float16: the CPU reference sums overlapping kernel taps in float16 (col2im), hence 1e-2.
    const double tol = dt == DataType::kFloat32 ? 1e-4 : 1e-2;
    auto w = [dt](std::vector<int64_t> dims, uint64_t seed) { return constant_input(io::random_tensor(dt, dims, seed)); };
    cases.push_back({"ConvT_2x2_stride2_bias" + sfx, "ConvTranspose", {random_input(dt, {2, 8, 5, 6}), w({8, 4, 2, 2}, 1), w({4}, 2)},
                     [](ir::Node& n) { n.attrs().set("strides", std::vector<int64_t>{2, 2}); }, tol, 17, 1, "cuda.conv_transpose"});
    cases.push_back({"ConvT_3x3_pad_outpad" + sfx, "ConvTranspose", {random_input(dt, {1, 6, 7, 7}), w({6, 5, 3, 3}, 3)},
                     [](ir::Node& n) {
                       n.attrs().set("strides", std::vector<int64_t>{2, 2});
                       n.attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
                       n.attrs().set("output_padding", std::vector<int64_t>{1, 0});
                     }, tol, 17, 1, "cuda.conv_transpose"});
    cases.push_back({"ConvT_group_dilation" + sfx, "ConvTranspose", {random_input(dt, {2, 8, 6, 5}), w({8, 3, 3, 3}, 4), w({6}, 5)},
                     [](ir::Node& n) {
                       n.attrs().set("group", int64_t{2});
                       n.attrs().set("dilations", std::vector<int64_t>{2, 1});
                     }, tol, 17, 1, "cuda.conv_transpose"});
    cases.push_back({"ConvT_same_upper" + sfx, "ConvTranspose", {random_input(dt, {1, 4, 5, 5}), w({4, 4, 3, 3}, 6)},
                     [](ir::Node& n) {
                       n.attrs().set("strides", std::vector<int64_t>{2, 2});
                       n.attrs().set("auto_pad", std::string("SAME_UPPER"));
                     }, tol, 17, 1, "cuda.conv_transpose"});
    cases.push_back({"ConvT_1d" + sfx, "ConvTranspose", {random_input(dt, {2, 3, 9}), w({3, 2, 4}, 7), w({2}, 8)},
                     [](ir::Node& n) { n.attrs().set("strides", std::vector<int64_t>{3}); }, tol, 17, 1, "cuda.conv_transpose"});
    cases.push_back({"ConvT_3d" + sfx, "ConvTranspose", {random_input(dt, {1, 2, 3, 4, 3}), w({2, 3, 2, 2, 2}, 9)},
                     [](ir::Node& n) { n.attrs().set("strides", std::vector<int64_t>{2, 1, 2}); }, tol, 17, 1, "cuda.conv_transpose"});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(ConvTranspose, CudaConvTranspose, ::testing::ValuesIn(conv_transpose_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::gpu_test
