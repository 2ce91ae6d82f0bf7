// Convolution forms beyond cuda_op_test.cpp's: every fused activation cuDNN may take into its
// graph, and convolutions on [N,C,1,1] tensors (squeeze-excitation blocks).
#include <gtest/gtest.h>

#include "io/random_inputs.h"
#include "op_case.h"

namespace kiln::gpu_test {
namespace {

std::vector<OpCase> conv_form_cases() {
  std::vector<OpCase> cases;
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16}) {
    double tol = dt == DataType::kFloat32 ? 2e-3 : 5e-3;
    std::string sfx = "_" + std::string(dtype_name(dt));
    for (const char* act : {"Sigmoid", "Tanh", "Gelu", "LeakyRelu", "HardSigmoid"}) {
      OpCase c{std::string("FusedConv_bias_") + act + sfx, "FusedConv", {{dt, {2, 16, 9, 9}}}, {}, nullptr, tol, 17, "kiln"};
      c.constants[1] = io::random_tensor(dt, {24, 16, 3, 3}, 51);
      c.constants[2] = io::random_tensor(dt, {24}, 52);
      std::string a = act;
      c.set_attrs = [a](ir::Node& n) {
        n.attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
        n.attrs().set("activation", a);
        if (a == "LeakyRelu") n.attrs().set("activation_alpha", 0.1f);
        if (a == "HardSigmoid") {
          n.attrs().set("activation_alpha", 0.2f);
          n.attrs().set("activation_beta", 0.5f);
        }
      };
      cases.push_back(c);
    }
    for (const char* act : {"", "Relu", "Sigmoid"}) {
      OpCase c{std::string("FusedConv_1x1_spatial1_") + (*act ? act : "none") + sfx, "FusedConv", {{dt, {2, 32, 1, 1}}}, {},
               nullptr, tol, 17, "kiln"};
      c.constants[1] = io::random_tensor(dt, {8, 32, 1, 1}, 53);
      c.constants[2] = io::random_tensor(dt, {8}, 54);
      std::string a = act;
      c.set_attrs = [a](ir::Node& n) { n.attrs().set("activation", a); };
      cases.push_back(c);
    }
    OpCase plain{"Conv_1x1_spatial1" + sfx, "Conv", {{dt, {2, 8, 1, 1}}}, {}, nullptr, tol};
    plain.constants[1] = io::random_tensor(dt, {32, 8, 1, 1}, 55);
    plain.constants[2] = io::random_tensor(dt, {32}, 56);
    cases.push_back(plain);
  }
  return cases;
}

class CudaConvForms : public ::testing::TestWithParam<OpCase> {};
TEST_P(CudaConvForms, MatchesCpuReference) { run_case(GetParam()); }
INSTANTIATE_TEST_SUITE_P(Conv, CudaConvForms, ::testing::ValuesIn(conv_form_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::gpu_test
