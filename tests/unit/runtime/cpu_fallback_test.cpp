// --allow-cpu-fallback: CUDA builds with layers on the CPU reference. The unit tests have no
// CUDA tactics linked in (every node lacks a CUDA kernel) and no GPU, so a fake "CUDA" device
// on host memory stands in: it checks the builder's marking, the engine file round trip and
// the fallback kernel's staging and stream synchronization.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "backends/cpu/interpreter.h"
#include "runtime/builder.h"
#include "runtime/cpu_fallback.h"
#include "runtime/execution_context.h"

namespace kiln {
namespace {

using runtime::Backend;
using runtime::Stream;

class FakeCudaDevice final : public runtime::Device {
 public:
  Backend backend() const override { return Backend::kCuda; }
  std::string name() const override { return "fake cuda"; }
  Result<void*> allocate(size_t bytes) override { return std::malloc(std::max<size_t>(bytes, 1)); }
  void free(void* p) override { std::free(p); }
  Status copy_host_to_device(void* d, const void* s, size_t n, Stream) override { return copy(d, s, n, h2d); }
  Status copy_device_to_host(void* d, const void* s, size_t n, Stream) override { return copy(d, s, n, d2h); }
  Status copy_device_to_device(void* d, const void* s, size_t n, Stream) override { return copy(d, s, n, d2d); }
  Status memset_zero(void* d, size_t n, Stream) override {
    std::memset(d, 0, n);
    return Status::ok();
  }
  Result<Stream> create_stream() override { return Stream{&streams}; }
  void destroy_stream(Stream) override {}
  Status synchronize(Stream) override {
    ++syncs;
    return Status::ok();
  }
  Result<void*> create_backend_state(Stream) override { return static_cast<void*>(nullptr); }
  void destroy_backend_state(void*) override {}

  int h2d = 0, d2h = 0, d2d = 0, syncs = 0, streams = 0;

 private:
  static Status copy(void* d, const void* s, size_t n, int& counter) {
    ++counter;
    if (n) std::memmove(d, s, n);
    return Status::ok();
  }
};

std::shared_ptr<FakeCudaDevice>& fake() {
  static std::shared_ptr<FakeCudaDevice> d;
  return d;
}

// Installs the fake as the process's CUDA device for one test.
class CpuFallback : public ::testing::Test {
 protected:
  void SetUp() override {
    fake() = std::make_shared<FakeCudaDevice>();
    runtime::register_device_factory(Backend::kCuda, [] { return Result<std::shared_ptr<runtime::Device>>(fake()); });
  }
  void TearDown() override {
    runtime::register_device_factory(Backend::kCuda, nullptr);
    fake().reset();
  }
};

// y = Softmax(x * w) + x, two outputs (y and the product).
ir::Model model() {
  ir::Model m;
  ir::Graph& g = *m.graph;
  g.set_opset("", 17);
  auto f32 = [](Shape s) { return ir::ValueType::tensor(DataType::kFloat32, std::move(s)); };
  ir::Value* x = g.add_value("x", f32(Shape{2, 3}));
  g.inputs().push_back(x);
  Tensor wt(DataType::kFloat32, {2, 3});
  for (int i = 0; i < 6; ++i) wt.data<float>()[i] = 0.5f * i - 1.0f;
  ir::Value* w = g.add_constant("w", wt);
  ir::Value* p = g.add_value("p", f32(Shape{2, 3}));
  ir::Value* s = g.add_value("s", f32(Shape{2, 3}));
  ir::Value* y = g.add_value("y", f32(Shape{2, 3}));
  g.add_node("Mul", {x, w}, {p}, "mul");
  g.add_node("Softmax", {p}, {s}, "softmax");
  g.add_node("Add", {s, x}, {y}, "add");
  g.outputs() = {y, p};
  return m;
}

Tensor input_x() {
  Tensor x(DataType::kFloat32, {2, 3});
  for (int i = 0; i < 6; ++i) x.data<float>()[i] = 0.3f * i - 0.7f;
  return x;
}

std::vector<Tensor> reference() {
  ir::Model m = model();
  auto interp = cpu::Interpreter::create(m.graph);
  EXPECT_TRUE(interp.is_ok());
  auto out = (*interp)->run({RuntimeValue(input_x())});
  EXPECT_TRUE(out.is_ok());
  return {out.value()[0].tensor(), out.value()[1].tensor()};
}

void expect_same(const std::vector<Tensor>& want, const std::vector<Tensor>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t k = 0; k < want.size(); ++k) {
    ASSERT_EQ(want[k].dims(), got[k].dims());
    for (int64_t i = 0; i < want[k].numel(); ++i) EXPECT_EQ(want[k].data<float>()[i], got[k].data<float>()[i]);
  }
}

runtime::BuilderConfig cuda_config(bool fallback) {
  runtime::BuilderConfig c;
  c.backend = Backend::kCuda;
  c.allow_cpu_fallback = fallback;
  c.disabled_passes = {"elementwise-chain-fusion"};
  return c;
}

TEST_F(CpuFallback, WithoutTheFlagTheErrorNamesIt) {
  ir::Model m = model();
  auto desc = runtime::Builder::build_desc(m, cuda_config(false), fake()->target());
  ASSERT_FALSE(desc.is_ok());
  EXPECT_EQ(desc.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(desc.status().message().find("has no kernel on backend 'cuda'"), std::string::npos);
  EXPECT_NE(desc.status().message().find("--allow-cpu-fallback"), std::string::npos) << desc.status().message();
}

TEST_F(CpuFallback, CpuBuildsAreUntouched) {
  ir::Model m = model();
  runtime::BuilderConfig c;
  c.allow_cpu_fallback = true;
  auto engine = runtime::Builder::build(m, c);
  ASSERT_TRUE(engine.is_ok());
  for (const auto& l : engine.value()->desc().layers) EXPECT_EQ(l.tactic, "cpu.reference");
  for (const auto& n : engine.value()->desc().graph->nodes()) EXPECT_FALSE(n->attrs().has(runtime::kCpuFallbackAttr));
}

TEST_F(CpuFallback, LayersRunOnTheCpuInsideTheCudaEngine) {
  ir::Model m = model();
  runtime::BuilderConfig c = cuda_config(true);
  runtime::BuildReport report;
  std::vector<std::string> warnings;
  c.report = &report;
  c.warn = [&](const std::string& w) { warnings.push_back(w); };
  auto engine = runtime::Builder::build(m, c, fake());
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  const auto& desc = engine.value()->desc();
  ASSERT_EQ(desc.layers.size(), 3u);
  for (const auto& l : desc.layers) EXPECT_EQ(l.tactic, runtime::kCpuFallbackTactic);
  EXPECT_EQ(runtime::cpu_fallback_layers(desc), 3u);
  EXPECT_EQ(report.cpu_fallback_layers, 3);
  ASSERT_EQ(warnings.size(), 3u);
  EXPECT_NE(warnings[0].find("runs on the CPU reference"), std::string::npos) << warnings[0];

  auto ctx = engine.value()->create_context();
  ASSERT_TRUE(ctx.is_ok());
  int syncs_before = fake()->syncs, d2h_before = fake()->d2h;
  auto got = ctx.value()->run({{"x", input_x()}});
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  expect_same(reference(), got.value());
  // Each layer waits for the stream before the host work and after its uploads; run() adds one.
  EXPECT_EQ(fake()->syncs - syncs_before, 3 * 2 + 1);
  // Inputs down per layer (mul: x, w; softmax: p; add: s, x) plus the two outputs run() fetches.
  EXPECT_EQ(fake()->d2h - d2h_before, 5 + 2);

  // The marks survive the engine file.
  auto bytes = engine.value()->serialize();
  ASSERT_TRUE(bytes.is_ok());
  auto loaded = runtime::Engine::load(std::move(bytes).value(), fake());
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  EXPECT_EQ(runtime::cpu_fallback_layers(loaded.value()->desc()), 3u);
  auto ctx2 = loaded.value()->create_context();
  ASSERT_TRUE(ctx2.is_ok());
  auto again = ctx2.value()->run({{"x", input_x()}});
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  expect_same(reference(), again.value());
}

TEST_F(CpuFallback, OnlyMarkedNodesAreCandidates) {
  ir::Model m = model();
  ir::Node& mul = *m.graph->nodes()[0];
  EXPECT_TRUE(runtime::cpu_reference_supports(mul));
  EXPECT_TRUE(runtime::TacticRegistry::global().candidates(Backend::kCuda, mul).empty());
  runtime::mark_cpu_fallback(mul);
  auto c = runtime::TacticRegistry::global().candidates(Backend::kCuda, mul);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0]->id(), runtime::kCpuFallbackTactic);
}

}  // namespace
}  // namespace kiln
