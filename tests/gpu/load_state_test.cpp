// Kernel state stored in the engine file and restored at load: the cuBLASLt tactics keep the
// algorithm the heuristic chose at build time (backends/cuda/cublaslt_state.h), cuda.cudnn.conv
// its execution plan. A loaded engine must restore them (the load profile says so) and compute
// what the CPU reference does; a state that is corrupt, made for another problem, or refused by
// cublasLtMatmulAlgoCheck must be ignored (the heuristic runs again) with the same results.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>

#include "backends/cpu/interpreter.h"
#include "backends/cuda/cublaslt_state.h"
#include "io/random_inputs.h"
#include "ops/shape_inference.h"
#include "plan/engine_format.h"
#include "plan/views.h"
#include "runtime/builder.h"
#include "runtime/execution_context.h"

namespace kiln::gpu_test {
namespace {

using runtime::LayerLoadTime;

constexpr const char* kMatmul = "cuda.cublaslt.matmul";
constexpr const char* kConv1x1 = "cuda.cublaslt.conv1x1";
constexpr const char* kCudnnConv = "cuda.cudnn.conv";

// x -> Conv 1x1 (+bias, ReLU) -> two Conv 3x3 of the same geometry (+bias, ReLU) ->
// GlobalAveragePool -> Flatten, then a Gemm (+bias) and a MatMul on the pooled features. Built
// in FP16, the convolutions run channels-last: the 1x1 through cuBLASLt, the 3x3s through cuDNN
// (whose restored plans the two layers share).
std::shared_ptr<ir::Graph> make_model() {
  auto g = std::make_shared<ir::Graph>("load_state");
  g->set_opset("", 17);
  ir::Value* x = g->add_value("x", ir::ValueType::tensor(DataType::kFloat32, Shape::from_dims({2, 32, 8, 8})));
  g->inputs().push_back(x);
  auto c = [&](const char* name, std::vector<int64_t> dims, uint64_t seed, float scale) {
    Tensor t = io::random_tensor(DataType::kFloat32, dims, seed);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] *= scale;
    return g->add_constant(name, t);
  };
  auto v = [&](const char* name) { return g->add_value(name, ir::ValueType::unknown()); };
  ir::Value *c1 = v("c1"), *r1 = v("r1"), *c2 = v("c2"), *r2 = v("r2"), *c3 = v("c3"), *r3 = v("r3");
  ir::Value *pool = v("pool"), *flat = v("flat"), *y = v("y"), *z = v("z");
  g->add_node("Conv", {x, c("w1", {64, 32, 1, 1}, 1, 0.25f), c("b1", {64}, 2, 0.1f)}, {c1}, "conv1x1");
  g->add_node("Relu", {c1}, {r1}, "relu1");
  g->add_node("Conv", {r1, c("w2", {64, 64, 3, 3}, 3, 0.05f), c("b2", {64}, 4, 0.1f)}, {c2}, "conv3x3a")
      ->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
  g->add_node("Relu", {c2}, {r2}, "relu2");
  g->add_node("Conv", {r2, c("w3", {64, 64, 3, 3}, 5, 0.05f), c("b3", {64}, 6, 0.1f)}, {c3}, "conv3x3b")
      ->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
  g->add_node("Relu", {c3}, {r3}, "relu3");
  g->add_node("GlobalAveragePool", {r3}, {pool}, "pool");
  g->add_node("Flatten", {pool}, {flat}, "flatten");
  g->add_node("Gemm", {flat, c("w4", {64, 10}, 7, 0.2f), c("b4", {10}, 8, 0.1f)}, {y}, "gemm");
  g->add_node("MatMul", {flat, c("w5", {64, 16}, 9, 0.2f)}, {z}, "matmul");
  g->outputs() = {y, z};
  Status st = ops::infer_shapes(*g);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return g;
}

runtime::BuilderConfig fp16_config() {
  runtime::BuilderConfig config;
  config.backend = runtime::Backend::kCuda;
  config.fp16 = true;
  return config;
}

bool is_cublaslt(const std::string& tactic) { return tactic == kMatmul || tactic == kConv1x1; }

// KILN_GPU_TESTS_LOWER_ONLY=1 (no GPU): only check that the model lowers to the tactics under test.
bool lower_only() {
  const char* env = std::getenv("KILN_GPU_TESTS_LOWER_ONLY");
  if (!env || *env != '1') return false;
  ir::Model model;
  model.graph = make_model();
  auto target = runtime::target_for_arch(runtime::Backend::kCuda, "sm_90");
  EXPECT_TRUE(target.is_ok()) << target.status().to_string();
  if (!target.is_ok()) return true;
  auto desc = runtime::Builder::build_desc(model, fp16_config(), *target);
  EXPECT_TRUE(desc.is_ok()) << desc.status().to_string();
  if (!desc.is_ok()) return true;
  std::string chosen;
  std::map<std::string, int> count;
  for (const auto& l : desc->layers) {
    chosen += l.tactic + " ";
    ++count[l.tactic];
  }
  EXPECT_EQ(count[kMatmul], 2) << chosen;
  EXPECT_EQ(count[kConv1x1], 1) << chosen;
  EXPECT_EQ(count[kCudnnConv], 2) << chosen;
  return true;
}

struct Built {
  std::shared_ptr<runtime::Engine> engine;
  std::vector<uint8_t> bytes;
};

Built build() {
  ir::Model model;
  model.graph = make_model();
  auto engine = runtime::Builder::build(model, fp16_config());
  EXPECT_TRUE(engine.is_ok()) << engine.status().to_string();
  if (!engine.is_ok()) return {};
  auto bytes = (*engine)->serialize();
  EXPECT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  return {*engine, bytes.is_ok() ? *bytes : std::vector<uint8_t>{}};
}

// The engine's bytes after `edit` changed its layers' kernel state (the file is rewritten, so
// its checksum is right: only the tactics can notice).
std::vector<uint8_t> edited(const std::vector<uint8_t>& bytes, const std::function<void(plan::EngineDesc&)>& edit) {
  auto desc = plan::read_engine_any_target(plan::engine_bytes(bytes));
  EXPECT_TRUE(desc.is_ok()) << desc.status().to_string();
  if (!desc.is_ok()) return {};
  edit(*desc);
  auto out = plan::write_engine(*desc);
  EXPECT_TRUE(out.is_ok()) << out.status().to_string();
  return out.is_ok() ? *out : std::vector<uint8_t>{};
}

// Loads `bytes`, runs it on one random input and compares with the CPU reference; returns the
// load profile.
runtime::LoadProfile load_and_check(const std::vector<uint8_t>& bytes, std::shared_ptr<runtime::Device> device) {
  runtime::LoadProfile profile;
  auto engine = runtime::Engine::load(bytes, device, &profile);
  EXPECT_TRUE(engine.is_ok()) << engine.status().to_string();
  if (!engine.is_ok()) return profile;
  size_t kernel_layers = 0;  // views (alias layers) create no kernel and are not profiled
  for (const plan::Layer& l : (*engine)->desc().layers) kernel_layers += l.tactic != plan::kAliasTactic;
  EXPECT_EQ(profile.layers.size(), kernel_layers);

  Tensor x = io::random_tensor(DataType::kFloat32, {2, 32, 8, 8}, 42);
  auto interp = cpu::Interpreter::create(make_model());
  EXPECT_TRUE(interp.is_ok()) << interp.status().to_string();
  if (!interp.is_ok()) return profile;
  auto expected = (*interp)->run(std::map<std::string, RuntimeValue>{{"x", RuntimeValue(x)}});
  EXPECT_TRUE(expected.is_ok()) << expected.status().to_string();
  auto ctx = (*engine)->create_context();
  EXPECT_TRUE(ctx.is_ok()) << ctx.status().to_string();
  if (!expected.is_ok() || !ctx.is_ok()) return profile;
  auto got = (*ctx)->run({{"x", x}});
  EXPECT_TRUE(got.is_ok()) << got.status().to_string();
  if (!got.is_ok()) return profile;
  EXPECT_EQ(got->size(), 2u);
  for (size_t o = 0; o < got->size() && o < expected->size(); ++o) {
    const Tensor& ref = (*expected)[o].tensor();
    EXPECT_EQ((*got)[o].dims(), ref.dims());
    if ((*got)[o].dims() != ref.dims()) continue;
    auto a = (*got)[o].to_f64(), e = ref.to_f64();
    double scale = 1e-6, worst = 0;
    for (double v : e) scale = std::max(scale, std::fabs(v));
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::isnan(a[i]) ? 1e9 : std::fabs(a[i] - e[i]) / scale);
    EXPECT_LE(worst, 2e-2) << "output " << o << ": max error relative to max|ref|";  // FP16 vs float32
  }
  return profile;
}

// The states of the layers using `tactic` in a load profile.
std::vector<LayerLoadTime::State> states(const runtime::LoadProfile& p, const std::string& tactic) {
  std::vector<LayerLoadTime::State> out;
  for (const auto& l : p.layers)
    if (l.tactic == tactic) out.push_back(l.state);
  return out;
}

// The state's format alone (no GPU needed): a round trip, and every kind of damage refused.
TEST(LoadState, AlgoStateFormat) {
  cuda::AlgoState in;
  in.library_version = 130100;
  in.problem_hash = 0x0123456789ABCDEFull;
  for (size_t i = 0; i < sizeof(in.algo.data) / sizeof(in.algo.data[0]); ++i) in.algo.data[i] = 0x1111111111111111ull * (i + 1);
  std::vector<uint8_t> bytes = cuda::encode_algo_state(in);
  ASSERT_EQ(bytes.size(), cuda::kAlgoStateBytes);
  auto out = cuda::decode_algo_state(bytes);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->library_version, in.library_version);
  EXPECT_EQ(out->problem_hash, in.problem_hash);
  EXPECT_EQ(std::memcmp(&out->algo, &in.algo, sizeof(in.algo)), 0);
  for (size_t i = 0; i < bytes.size(); ++i) {  // any flipped bit
    auto bad = bytes;
    bad[i] ^= 0x10;
    EXPECT_FALSE(cuda::decode_algo_state(bad).has_value()) << "byte " << i;
  }
  auto shorter = bytes;
  shorter.pop_back();
  EXPECT_FALSE(cuda::decode_algo_state(shorter).has_value());
  auto longer = bytes;
  longer.push_back(0);
  EXPECT_FALSE(cuda::decode_algo_state(longer).has_value());
  EXPECT_FALSE(cuda::decode_algo_state({}).has_value());
}

TEST(LoadState, StoredStateIsRestored) {
  if (lower_only()) GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  Built b = build();
  ASSERT_TRUE(b.engine && !b.bytes.empty());
  // The builder kept each cuBLASLt layer's algorithm for the file.
  for (const auto& layer : b.engine->desc().layers) {
    if (is_cublaslt(layer.tactic)) {
      EXPECT_EQ(layer.kernel_state.size(), cuda::kAlgoStateBytes) << layer.tactic;
    }
  }

  runtime::LoadProfile p = load_and_check(b.bytes, b.engine->device_ptr());
  for (const char* id : {kMatmul, kConv1x1, kCudnnConv}) {
    auto s = states(p, id);
    EXPECT_FALSE(s.empty()) << "no " << id << " layer";
    for (auto st : s) EXPECT_EQ(st, LayerLoadTime::State::kRestored) << id;
  }
  // Two matmul layers (Gemm, MatMul), one 1x1 convolution, two 3x3 convolutions.
  EXPECT_EQ(states(p, kMatmul).size(), 2u);
  EXPECT_EQ(states(p, kConv1x1).size(), 1u);
  EXPECT_EQ(states(p, kCudnnConv).size(), 2u);
  // A second load, after the first engine and the plans it restored are gone, restores again.
  runtime::LoadProfile again = load_and_check(b.bytes, b.engine->device_ptr());
  for (auto st : states(again, kCudnnConv)) EXPECT_EQ(st, LayerLoadTime::State::kRestored);
}

TEST(LoadState, CorruptStateFallsBackToTheHeuristic) {
  if (lower_only()) GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  Built b = build();
  ASSERT_TRUE(b.engine && !b.bytes.empty());
  // Flip bytes in the algorithm, in the header, and cut one state short.
  int k = 0;
  auto bytes = edited(b.bytes, [&](plan::EngineDesc& d) {
    for (auto& layer : d.layers) {
      if (!is_cublaslt(layer.tactic) || layer.kernel_state.empty()) continue;
      switch (k++ % 3) {
        case 0: layer.kernel_state[40] ^= 0xFF; break;
        case 1: layer.kernel_state[9] ^= 0x01; break;
        default: layer.kernel_state.pop_back(); break;
      }
    }
  });
  EXPECT_EQ(k, 3);
  ASSERT_FALSE(bytes.empty());
  runtime::LoadProfile p = load_and_check(bytes, b.engine->device_ptr());
  for (const char* id : {kMatmul, kConv1x1})
    for (auto st : states(p, id)) EXPECT_EQ(st, LayerLoadTime::State::kRebuilt) << id;
  for (auto st : states(p, kCudnnConv)) EXPECT_EQ(st, LayerLoadTime::State::kRestored);
}

TEST(LoadState, StateOfAnotherProblemIsNotUsed) {
  if (lower_only()) GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  Built b = build();
  ASSERT_TRUE(b.engine && !b.bytes.empty());
  // Rotate the cuBLASLt states: each layer gets another layer's (valid) algorithm.
  auto bytes = edited(b.bytes, [&](plan::EngineDesc& d) {
    std::vector<plan::Layer*> lt;
    for (auto& layer : d.layers)
      if (is_cublaslt(layer.tactic)) lt.push_back(&layer);
    ASSERT_EQ(lt.size(), 3u);
    std::vector<uint8_t> first = lt[0]->kernel_state;
    for (size_t i = 0; i + 1 < lt.size(); ++i) lt[i]->kernel_state = lt[i + 1]->kernel_state;
    lt.back()->kernel_state = first;
  });
  ASSERT_FALSE(bytes.empty());
  runtime::LoadProfile p = load_and_check(bytes, b.engine->device_ptr());
  for (const char* id : {kMatmul, kConv1x1})
    for (auto st : states(p, id)) EXPECT_EQ(st, LayerLoadTime::State::kRebuilt) << id;
}

TEST(LoadState, AlgorithmCublasLtRefusesIsNotUsed) {
  if (lower_only()) GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  Built b = build();
  ASSERT_TRUE(b.engine && !b.bytes.empty());
  // A well-formed state for the right problem and library whose algorithm is garbage: only
  // cublasLtMatmulAlgoCheck can refuse it.
  auto bytes = edited(b.bytes, [&](plan::EngineDesc& d) {
    for (auto& layer : d.layers) {
      if (!is_cublaslt(layer.tactic)) continue;
      auto state = cuda::decode_algo_state(layer.kernel_state);
      ASSERT_TRUE(state.has_value()) << layer.tactic;
      std::memset(&state->algo, 0xFF, sizeof(state->algo));
      layer.kernel_state = cuda::encode_algo_state(*state);
    }
  });
  ASSERT_FALSE(bytes.empty());
  runtime::LoadProfile p = load_and_check(bytes, b.engine->device_ptr());
  for (const char* id : {kMatmul, kConv1x1})
    for (auto st : states(p, id)) EXPECT_EQ(st, LayerLoadTime::State::kRebuilt) << id;
}

TEST(LoadState, CorruptCudnnPlanIsRebuilt) {
  if (lower_only()) GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  Built b = build();
  ASSERT_TRUE(b.engine && !b.bytes.empty());
  auto bytes = edited(b.bytes, [&](plan::EngineDesc& d) {
    for (auto& layer : d.layers)
      if (layer.tactic == kCudnnConv && layer.kernel_state.size() > 8)
        layer.kernel_state.resize(layer.kernel_state.size() / 2);  // a truncated UBJSON blob
  });
  ASSERT_FALSE(bytes.empty());
  runtime::LoadProfile p = load_and_check(bytes, b.engine->device_ptr());
  auto s = states(p, kCudnnConv);
  EXPECT_FALSE(s.empty());
  for (auto st : s) EXPECT_EQ(st, LayerLoadTime::State::kRebuilt);
}

// A plan whose fingerprint (bytes 1-8: the convolution and cuDNN it was built for) does not
// match the layer is never run, even though the plan itself deserializes.
TEST(LoadState, CudnnPlanOfAnotherConvolutionIsRebuilt) {
  if (lower_only()) GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  Built b = build();
  ASSERT_TRUE(b.engine && !b.bytes.empty());
  auto bytes = edited(b.bytes, [&](plan::EngineDesc& d) {
    for (auto& layer : d.layers)
      if (layer.tactic == kCudnnConv && layer.kernel_state.size() > 9) layer.kernel_state[3] ^= 0x5a;
  });
  ASSERT_FALSE(bytes.empty());
  runtime::LoadProfile p = load_and_check(bytes, b.engine->device_ptr());
  auto s = states(p, kCudnnConv);
  EXPECT_FALSE(s.empty());
  for (auto st : s) EXPECT_EQ(st, LayerLoadTime::State::kRebuilt);
}

}  // namespace
}  // namespace kiln::gpu_test
