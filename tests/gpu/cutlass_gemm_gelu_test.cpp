// cuda.cutlass.matmul_gelu: float16 kiln::FusedMatMul + erf GELU as one CUTLASS sm_90a kernel.
// Lowering (which tactic the builder picks, for sm_90 without a GPU) runs anywhere, also with
// KILN_GPU_TESTS_LOWER_ONLY=1; the numerics (every supporting tactic vs the CPU reference, and
// one whole engine) need the GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "backends/cpu/interpreter.h"
#include "io/random_inputs.h"
#include "op_case.h"
#include "runtime/builder.h"
#include "runtime/execution_context.h"
#include "runtime/tactic.h"

namespace kiln::gpu_test {
namespace {

constexpr const char* kCutlass = "cuda.cutlass.matmul_gelu";
constexpr const char* kCublasLt = "cuda.cublaslt.matmul";
constexpr double kTolerance = 4e-3;  // fp16, relative to max |reference| (as the MatMul cases)

bool lower_only() {
  const char* v = std::getenv("KILN_GPU_TESTS_LOWER_ONLY");
  return v && *v == '1';
}

// FusedMatMul(A [a_dims], B [K, N] constant, bias [N] constant if `bias`) with `activation`.
OpCase fused_matmul(std::string name, std::vector<int64_t> a_dims, int64_t n, bool bias, DataType dt = DataType::kFloat16,
                    std::string activation = "Gelu") {
  OpCase c;
  c.name = std::move(name);
  c.op_type = "FusedMatMul";
  c.domain = "kiln";
  const int64_t k = a_dims.back();
  c.inputs = {{dt, a_dims}};
  c.constants[1] = io::random_tensor(dt, {k, n}, 31);
  if (bias) c.constants[2] = io::random_tensor(dt, {n}, 32);
  c.set_attrs = [activation](ir::Node& node) { node.attrs().set("activation", activation); };
  c.tolerance = kTolerance;
  return c;
}

std::vector<OpCase> gelu_cases() {
  std::vector<OpCase> cases;
  cases.push_back(fused_matmul("vit_mlp1_rank3", {3, 197, 768}, 3072, true));  // M = 591: not a tile multiple
  cases.push_back(fused_matmul("rank2_bias", {64, 256}, 512, true));
  cases.push_back(fused_matmul("rank2_no_bias", {64, 256}, 512, false));
  cases.push_back(fused_matmul("tiny", {1, 8}, 16, true));
  cases.push_back(fused_matmul("rank4_odd_tiles", {2, 3, 7, 40}, 72, true));  // K, N below one tile
  // B a runtime input rather than a weight.
  OpCase runtime_b{"runtime_b", "FusedMatMul", {{DataType::kFloat16, {33, 64}}, {DataType::kFloat16, {64, 136}}}};
  runtime_b.domain = "kiln";
  runtime_b.set_attrs = [](ir::Node& node) { node.attrs().set("activation", std::string("Gelu")); };
  runtime_b.tolerance = kTolerance;
  cases.push_back(runtime_b);
  return cases;
}

// The tactic the builder picks for the case's node, for `arch` without a GPU.
std::string lowered_tactic(const OpCase& c, const std::string& arch = "sm_90", std::vector<std::string> disabled = {}) {
  ir::Model model;
  model.graph = build_graph(c);
  runtime::BuilderConfig config;
  config.backend = runtime::Backend::kCuda;
  config.disabled_tactics = std::move(disabled);
  auto target = runtime::target_for_arch(runtime::Backend::kCuda, arch);
  if (!target.is_ok()) return "target error: " + target.status().to_string();
  auto desc = runtime::Builder::build_desc(model, config, *target);
  if (!desc.is_ok()) return "build error: " + desc.status().to_string();
  std::string chosen;
  for (const auto& layer : desc->layers) chosen += (chosen.empty() ? "" : " ") + layer.tactic;
  return chosen;
}

class CutlassGelu : public ::testing::TestWithParam<OpCase> {};

TEST_P(CutlassGelu, LowersToCutlass) { EXPECT_EQ(lowered_tactic(GetParam()), kCutlass); }

TEST_P(CutlassGelu, MatchesCpuReference) {
  if (lower_only()) GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  const OpCase& c = GetParam();
  auto graph = build_graph(c);
  auto candidates = runtime::TacticRegistry::global().candidates(runtime::Backend::kCuda, *graph->nodes()[0]);
  ASSERT_FALSE(candidates.empty());
  EXPECT_EQ(candidates[0]->id(), kCutlass) << "the H100 should take the CUTLASS kernel first";
  run_case(c);  // every supporting tactic (CUTLASS and cuBLASLt + GELU pass) vs the CPU reference
}

INSTANTIATE_TEST_SUITE_P(Gelu, CutlassGelu, ::testing::ValuesIn(gelu_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(CutlassGeluLowering, DisablingTheTacticBringsBackCublasLt) {
  EXPECT_EQ(lowered_tactic(fused_matmul("disabled", {64, 256}, 512, true), "sm_90", {kCutlass}), kCublasLt);
}

TEST(CutlassGeluLowering, OtherArchitecturesKeepCublasLt) {
  // sm_90a SASS runs on compute capability 9.0 only.
  for (const char* arch : {"sm_80", "sm_89", "sm_100", "sm_120"})
    EXPECT_EQ(lowered_tactic(fused_matmul("arch", {64, 256}, 512, true), arch), kCublasLt) << arch;
}

TEST(CutlassGeluLowering, DeclinesWhatItDoesNotRun) {
  // A residual Z: cuBLASLt adds it as its C operand.
  OpCase residual = fused_matmul("residual", {64, 256}, 512, true);
  residual.inputs.push_back({DataType::kFloat16, {64, 512}});
  EXPECT_EQ(lowered_tactic(residual), kCublasLt);
  // The tanh form of GELU is cuBLASLt's own epilogue; other activations and no activation too.
  for (const char* act : {"GeluTanh", "Relu", ""})
    EXPECT_EQ(lowered_tactic(fused_matmul("act", {64, 256}, 512, true, DataType::kFloat16, act)), kCublasLt) << act;
  // Other dtypes.
  for (DataType dt : {DataType::kFloat32, DataType::kBFloat16})
    EXPECT_EQ(lowered_tactic(fused_matmul("dtype", {64, 256}, 512, true, dt)), kCublasLt) << dtype_name(dt);
  // N or K not a multiple of 8 (16-byte TMA rows).
  EXPECT_EQ(lowered_tactic(fused_matmul("n_odd", {64, 256}, 100, true)), kCublasLt);
  EXPECT_EQ(lowered_tactic(fused_matmul("k_odd", {64, 252}, 512, true)), kCublasLt);
  // A batched B.
  OpCase batched{"batched", "FusedMatMul", {{DataType::kFloat16, {2, 32, 64}}, {DataType::kFloat16, {2, 64, 128}}}};
  batched.domain = "kiln";
  batched.set_attrs = [](ir::Node& node) { node.attrs().set("activation", std::string("Gelu")); };
  EXPECT_EQ(lowered_tactic(batched), kCublasLt);
}

TEST(CutlassGeluLowering, WorkspaceIsReported) {
  auto graph = build_graph(fused_matmul("workspace", {3, 197, 768}, 3072, true));
  const runtime::Tactic* t = runtime::TacticRegistry::global().find(kCutlass);
  ASSERT_NE(t, nullptr);
  runtime::KernelSpec spec{graph->nodes()[0].get(), ""};
  size_t ws = t->workspace_bytes(spec);
  RecordProperty("workspace_bytes", std::to_string(ws));
  std::printf("cuda.cutlass.matmul_gelu workspace for [591,768]x[768,3072]: %zu bytes\n", ws);
  EXPECT_LT(ws, size_t{1} << 20) << "the persistent kernel needs little or no workspace";
}

// The whole engine (planned memory, workspace, stream) on the GPU vs the CPU reference.
TEST(CutlassGeluEngine, VitMlp1MatchesCpuReference) {
  if (lower_only()) GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  OpCase c = fused_matmul("engine_vit_mlp1", {2, 197, 768}, 3072, true);
  auto ref_graph = build_graph(c);
  auto inputs = io::random_inputs(*ref_graph, 7);
  ASSERT_TRUE(inputs.is_ok()) << inputs.status().to_string();
  auto interp = cpu::Interpreter::create(ref_graph);
  ASSERT_TRUE(interp.is_ok()) << interp.status().to_string();
  auto expected = (*interp)->run(*inputs);
  ASSERT_TRUE(expected.is_ok()) << expected.status().to_string();

  ir::Model model;
  model.graph = build_graph(c);
  runtime::BuilderConfig config;
  config.backend = runtime::Backend::kCuda;
  auto engine = runtime::Builder::build(model, config);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  ASSERT_EQ((*engine)->desc().layers.size(), 1u);
  EXPECT_EQ((*engine)->desc().layers[0].tactic, kCutlass);
  auto ctx = (*engine)->create_context();
  ASSERT_TRUE(ctx.is_ok()) << ctx.status().to_string();
  std::map<std::string, Tensor> feed;
  for (const auto& [name, value] : *inputs) feed[name] = value.tensor();
  for (int run = 0; run < 2; ++run) {  // the second run may replay a CUDA graph
    auto got = (*ctx)->run(feed);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    auto a = (*got)[0].to_f64(), e = (*expected)[0].tensor().to_f64();
    ASSERT_EQ(a.size(), e.size());
    double scale = 1e-6, worst = 0;
    for (double v : e) scale = std::max(scale, std::fabs(v));
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_FALSE(std::isnan(a[i])) << "element " << i << " is NaN";
      worst = std::max(worst, std::fabs(a[i] - e[i]) / scale);
    }
    EXPECT_LE(worst, kTolerance) << "run " << run;
  }
}

}  // namespace
}  // namespace kiln::gpu_test
