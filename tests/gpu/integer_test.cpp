// cuda.integer against the CPU reference: integer arithmetic, Mod (both sign rules), Min/Max,
// BitShift (including shifts past the width and negative ones), bitwise ops, Neg/Abs, and Clip
// with constant / runtime / attribute bounds.
#include <gtest/gtest.h>

#include <cstring>

#include "case_values.h"
#include "engine_case.h"

namespace kiln::gpu_test {
namespace {

class CudaInteger : public ::testing::TestWithParam<EngineCase> {};
TEST_P(CudaInteger, MatchesCpuReference) { run_engine_case(GetParam()); }

// Values in [lo, hi] of an integer dtype; `nonzero` skips 0 (divisors).
Tensor ints_of(DataType dt, std::vector<int64_t> dims, uint64_t seed, int64_t lo, int64_t hi, bool nonzero = false) {
  Tensor t(dt, dims);
  const size_t es = dtype_size(dt);
  for (int64_t i = 0; i < t.numel(); ++i) {
    int64_t v = lo + static_cast<int64_t>(hashed(i, seed, 0.f, 1.f) * static_cast<float>(hi - lo + 1));
    if (v > hi) v = hi;
    if (nonzero && v == 0) v = 1;
    std::memcpy(static_cast<uint8_t*>(t.raw()) + i * es, &v, es);  // little-endian truncation
  }
  return t;
}

std::vector<EngineCase> integer_cases() {
  std::vector<EngineCase> cases;
  const DataType types[] = {DataType::kInt8, DataType::kUInt8, DataType::kInt16, DataType::kInt32, DataType::kInt64,
                            DataType::kUInt32, DataType::kUInt64};
  for (DataType dt : types) {
    const bool is_signed = dt == DataType::kInt8 || dt == DataType::kInt16 || dt == DataType::kInt32 || dt == DataType::kInt64;
    const int64_t lo = is_signed ? -100 : 0, hi = 100;
    const std::string sfx = "_" + std::string(dtype_name(dt));
    auto a = [&](uint64_t seed) { return given_input(ints_of(dt, {3, 4, 5}, seed, lo, hi)); };
    auto b = [&](uint64_t seed, bool nonzero = false) { return given_input(ints_of(dt, {4, 1}, seed, lo, hi, nonzero)); };
    for (const char* op : {"Add", "Sub", "Mul", "Min", "Max", "BitwiseAnd", "BitwiseOr", "BitwiseXor"})
      cases.push_back({std::string(op) + sfx, op, {a(1), b(2)}, nullptr, 0, 18, 1, "cuda.integer"});
    cases.push_back({"Div" + sfx, "Div", {a(3), b(4, true)}, nullptr, 0, 14, 1, "cuda.integer"});
    for (int64_t fmod : {0, 1})
      cases.push_back({"Mod_fmod" + std::to_string(fmod) + sfx, "Mod", {a(5), b(6, true)},
                       [fmod](ir::Node& n) { n.attrs().set("fmod", fmod); }, 0, 13, 1, "cuda.integer"});
    for (const char* dir : {"LEFT", "RIGHT"}) {
      std::string d = dir;
      const int64_t width = static_cast<int64_t>(dtype_size(dt)) * 8;
      cases.push_back({"BitShift_" + d + sfx, "BitShift",
                       {a(7), given_input(ints_of(dt, {4, 1}, 8, is_signed ? -2 : 0, width + 2))},
                       [d](ir::Node& n) { n.attrs().set("direction", d); }, 0, 11, 1, "cuda.integer"});
    }
    cases.push_back({"BitwiseNot" + sfx, "BitwiseNot", {a(9)}, nullptr, 0, 18, 1, "cuda.integer"});
    if (is_signed) {
      cases.push_back({"Neg" + sfx, "Neg", {a(10)}, nullptr, 0, 13, 1, "cuda.integer"});
      cases.push_back({"Abs" + sfx, "Abs", {a(11)}, nullptr, 0, 13, 1, "cuda.integer"});
    }
    cases.push_back({"Clip_const" + sfx, "Clip",
                     {a(12), constant_input(ints_of(dt, {}, 13, -20, -20 + (is_signed ? 0 : 40))),
                      constant_input(ints_of(dt, {}, 14, 50, 50))},
                     nullptr, 0, 13, 1, "cuda.integer"});
    cases.push_back({"Clip_runtime_max_only" + sfx, "Clip",
                     {a(15), CaseInput{dt, {}, std::nullopt, false, true}, given_input(ints_of(dt, {}, 16, 30, 30))}, nullptr, 0,
                     13, 1, "cuda.integer"});
  }
  // Float Clip with runtime bounds (cuda.pointwise takes the constant forms), and the attribute
  // form of opset 6.
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16}) {
    const std::string sfx = std::string("_") + short_name(dt);
    Tensor lo = float_tensor(dt, {}, [](int64_t) { return -0.25f; }), hi = float_tensor(dt, {}, [](int64_t) { return 0.5f; });
    EngineCase c{"Clip_runtime_bounds" + sfx, "Clip", {random_input(dt, {7, 9}), given_input(lo), given_input(hi)}, nullptr, 0, 13,
                 1, ""};
    cases.push_back(c);
  }
  cases.push_back({"Clip_attr_opset6_f32", "Clip", {random_input(DataType::kFloat32, {7, 9})},
                   [](ir::Node& n) {
                     n.attrs().set("min", -0.3f);
                     n.attrs().set("max", 0.2f);
                   }, 0, 6, 1, ""});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Integer, CudaInteger, ::testing::ValuesIn(integer_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::gpu_test
