// cuda.resize against the CPU reference: nearest and linear on NCHW, every coordinate
// transformation mode it takes, nearest_mode variants, scales vs sizes, constant vs runtime,
// up- and downsampling, float32 and float16. (The tap selection was also checked against the
// ONNX node tests on the host: all 23 Resize/Upsample tests the tactic takes.)
#include <gtest/gtest.h>

#include "case_values.h"
#include "engine_case.h"

namespace kiln::gpu_test {
namespace {

class CudaResize : public ::testing::TestWithParam<EngineCase> {};
TEST_P(CudaResize, MatchesCpuReference) { run_engine_case(GetParam()); }

Tensor floats(std::vector<float> v) {
  Tensor t(DataType::kFloat32, {static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = v[i];
  return t;
}

std::vector<EngineCase> resize_cases() {
  std::vector<EngineCase> cases;
  const CaseInput none{DataType::kFloat32, {}, std::nullopt, false, true};
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16}) {
    const std::string sfx = std::string("_") + short_name(dt);
    const double tol = dt == DataType::kFloat32 ? 1e-5 : 2e-3;
    for (const char* mode : {"nearest", "linear"}) {
      for (const char* ctm : {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "half_pixel_symmetric"}) {
        std::string m = mode, c = ctm;
        auto attrs = [m, c](ir::Node& n) {
          n.attrs().set("mode", m);
          n.attrs().set("coordinate_transformation_mode", c);
        };
        const int64_t opset = c == "half_pixel_symmetric" ? 19 : 13;
        cases.push_back({"Resize_" + m + "_" + c + "_up_scales" + sfx, "Resize",
                         {random_input(dt, {2, 3, 5, 7}), none, constant_input(floats({1, 1, 2, 1.5f}))}, attrs, tol, opset, 1,
                         "cuda.resize"});
        cases.push_back({"Resize_" + m + "_" + c + "_down_sizes" + sfx, "Resize",
                         {random_input(dt, {1, 4, 9, 10}), none, none, constant_input(Tensor::from_i64({1, 4, 4, 7}))}, attrs, tol,
                         opset, 1, "cuda.resize"});
        cases.push_back({"Resize_" + m + "_" + c + "_runtime_scales" + sfx, "Resize",
                         {random_input(dt, {1, 2, 6, 6}), none, given_input(floats({1, 1, 0.6f, 1.7f}))}, attrs, tol, opset, 1,
                         "cuda.resize"});
      }
    }
    for (const char* nm : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}) {
      std::string n_mode = nm;
      cases.push_back({"Resize_nearest_mode_" + n_mode + sfx, "Resize",
                       {random_input(dt, {1, 2, 4, 6}), none, constant_input(floats({1, 1, 2.5f, 0.75f}))},
                       [n_mode](ir::Node& n) {
                         n.attrs().set("mode", std::string("nearest"));
                         n.attrs().set("coordinate_transformation_mode", std::string("asymmetric"));
                         n.attrs().set("nearest_mode", n_mode);
                       }, tol, 13, 1, "cuda.resize"});
    }
    cases.push_back({"Resize_linear_exclude_outside" + sfx, "Resize",
                     {random_input(dt, {1, 2, 5, 5}), none, constant_input(floats({1, 1, 0.7f, 1.9f}))},
                     [](ir::Node& n) {
                       n.attrs().set("mode", std::string("linear"));
                       n.attrs().set("exclude_outside", int64_t{1});
                     }, tol, 13, 1, "cuda.resize"});
    cases.push_back({"Resize_axes_not_larger" + sfx, "Resize",
                     {random_input(dt, {1, 3, 8, 6}), none, none, constant_input(Tensor::from_i64({5, 5}))},
                     [](ir::Node& n) {
                       n.attrs().set("mode", std::string("linear"));
                       n.attrs().set("axes", std::vector<int64_t>{2, 3});
                       n.attrs().set("keep_aspect_ratio_policy", std::string("not_larger"));
                     }, tol, 18, 1, "cuda.resize"});
    cases.push_back({"Upsample_nearest_opset9" + sfx, "Upsample", {random_input(dt, {1, 2, 3, 4}), constant_input(floats({1, 1, 2, 3}))},
                     nullptr, tol, 9, 1, "cuda.resize"});
    cases.push_back({"Resize_opset10_linear" + sfx, "Resize", {random_input(dt, {2, 2, 4, 4}), constant_input(floats({1, 1, 1.5f, 2}))},
                     [](ir::Node& n) { n.attrs().set("mode", std::string("linear")); }, tol, 10, 1, "cuda.resize"});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Resize, CudaResize, ::testing::ValuesIn(resize_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::gpu_test
