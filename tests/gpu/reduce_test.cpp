// cuda.reduce against the CPU reference: every Reduce* op, axes as attribute / constant input /
// runtime input, keepdims, noop_with_empty_axes, warp- and block-per-output paths; ArgMax/ArgMin
// with ties and select_last_index; Hardmax and LpNormalization. float32 and float16.
#include <gtest/gtest.h>

#include "case_values.h"
#include "engine_case.h"

namespace kiln::gpu_test {
namespace {

class CudaReduce : public ::testing::TestWithParam<EngineCase> {};
TEST_P(CudaReduce, MatchesCpuReference) { run_engine_case(GetParam()); }

std::vector<EngineCase> reduce_cases() {
  std::vector<EngineCase> cases;
  auto ints = [](std::vector<int64_t> v) { return Tensor::from_i64(v); };
  auto keepdims = [](int64_t k) { return [k](ir::Node& n) { n.attrs().set("keepdims", k); }; };
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16}) {
    const std::string sfx = std::string("_") + short_name(dt);
    const double tol = dt == DataType::kFloat32 ? 1e-4 : 4e-3;
    // Positive inputs for the ops whose result is a log or would underflow.
    CaseInput positive = given_input(float_tensor(dt, {3, 37, 5}, [](int64_t i) { return hashed(i, 7, 0.5f, 1.5f); }));
    for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                           "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"}) {
      std::string o = op;
      bool pos = o == "ReduceLogSum" || o == "ReduceProd";
      // opset 18: axes as a constant input.
      cases.push_back({o + "_axis1_const" + sfx, o, {pos ? positive : random_input(dt, {3, 37, 5}), constant_input(ints({1}))},
                       nullptr, tol, 18, 1, "cuda.reduce"});
      // opset 13 (ReduceSum: axes input; others: attribute), two axes, keepdims 0.
      EngineCase c{o + "_axes02_nokeep_opset13" + sfx, o, {pos ? positive : random_input(dt, {3, 37, 5})}, nullptr, tol, 13, 1,
                   "cuda.reduce"};
      if (o == "ReduceSum") {
        c.inputs.push_back(constant_input(ints({0, -1})));
        c.set_attrs = keepdims(0);
      } else {
        c.set_attrs = [](ir::Node& n) {
          n.attrs().set("axes", std::vector<int64_t>{0, -1});
          n.attrs().set("keepdims", int64_t{0});
        };
      }
      if (o != "ReduceProd") cases.push_back(c);
      // Runtime axes (as in the ONNX node tests), opset 18.
      cases.push_back({o + "_runtime_axes" + sfx, o, {pos ? positive : random_input(dt, {3, 37, 5}), given_input(ints({2, 0}))},
                       keepdims(1), tol, 18, 1, "cuda.reduce"});
    }
    // All axes (no axes given): one output, block-per-output path.
    cases.push_back({"ReduceSum_all_block" + sfx, "ReduceSum", {random_input(dt, {4, 3000})}, nullptr, tol * 4, 18, 1, "cuda.reduce"});
    cases.push_back({"ReduceMax_last_block" + sfx, "ReduceMax", {random_input(dt, {2, 4, 5000}), constant_input(ints({-1}))},
                     keepdims(0), tol, 18, 1, "cuda.reduce"});
    cases.push_back({"ReduceLogSumExp_block" + sfx, "ReduceLogSumExp", {random_input(dt, {3, 4096}), constant_input(ints({1}))},
                     nullptr, tol, 18, 1, "cuda.reduce"});
    // Many outputs, reduced axis outermost (strided reads).
    cases.push_back({"ReduceMean_outer" + sfx, "ReduceMean", {random_input(dt, {7, 64, 130}), constant_input(ints({0}))},
                     nullptr, tol, 18, 1, "cuda.reduce"});
    // noop_with_empty_axes: the op over one element each.
    cases.push_back({"ReduceSumSquare_noop" + sfx, "ReduceSumSquare", {random_input(dt, {3, 4, 5})},
                     [](ir::Node& n) { n.attrs().set("noop_with_empty_axes", int64_t{1}); }, tol, 18, 1, "cuda.reduce"});
    // ArgMax / ArgMin.
    cases.push_back({"ArgMax_axis1" + sfx, "ArgMax", {random_input(dt, {4, 33, 6})},
                     [](ir::Node& n) { n.attrs().set("axis", int64_t{1}); }, 0, 13, 1, "cuda.reduce"});
    cases.push_back({"ArgMin_last_nokeep" + sfx, "ArgMin", {random_input(dt, {4, 6, 300})},
                     [](ir::Node& n) {
                       n.attrs().set("axis", int64_t{-1});
                       n.attrs().set("keepdims", int64_t{0});
                     }, 0, 13, 1, "cuda.reduce"});
    // Row ops written back: Hardmax (opset 13 one axis; opset 11 coerced to 2-D), LpNormalization.
    cases.push_back({"Hardmax_axis1" + sfx, "Hardmax", {random_input(dt, {3, 40, 5})},
                     [](ir::Node& n) { n.attrs().set("axis", int64_t{1}); }, 0, 13, 1, "cuda.reduce"});
    cases.push_back({"Hardmax_opset11_coerced" + sfx, "Hardmax", {random_input(dt, {3, 4, 5})}, nullptr, 0, 11, 1, "cuda.reduce"});
    for (int64_t pn : {1, 2})
      cases.push_back({"LpNormalization_p" + std::to_string(pn) + sfx, "LpNormalization", {random_input(dt, {4, 33, 6})},
                       [pn](ir::Node& n) {
                         n.attrs().set("p", pn);
                         n.attrs().set("axis", int64_t{1});
                       }, tol, 13, 1, "cuda.reduce"});
    // Ties: values 0..3 repeated, first vs last index.
    for (int64_t last : {0, 1}) {
      CaseInput ties = given_input(float_tensor(dt, {5, 64}, [](int64_t i) { return static_cast<float>((i * 7) % 4); }));
      cases.push_back({"ArgMax_ties_last" + std::to_string(last) + sfx, "ArgMax", {ties},
                       [last](ir::Node& n) {
                         n.attrs().set("axis", int64_t{1});
                         n.attrs().set("select_last_index", last);
                       }, 0, 13, 1, "cuda.reduce"});
      cases.push_back({"ArgMin_ties_last" + std::to_string(last) + sfx, "ArgMin", {ties},
                       [last](ir::Node& n) {
                         n.attrs().set("axis", int64_t{1});
                         n.attrs().set("select_last_index", last);
                       }, 0, 13, 1, "cuda.reduce"});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Reduce, CudaReduce, ::testing::ValuesIn(reduce_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::gpu_test
