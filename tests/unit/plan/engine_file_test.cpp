// Builder -> Engine -> file -> Engine round trips, and the reader's refusals.
#include <gtest/gtest.h>

#include <cstring>
#include <atomic>
#include <thread>

#include "backends/cpu/interpreter.h"
#include "io/random_inputs.h"
#include "plan/engine_format.h"
#include "runtime/builder.h"
#include "runtime/execution_context.h"

namespace kiln {
namespace {

// These tests count layers of a three-op elementwise graph: keep it from being fused into one
// kiln::ElementwiseChain.
runtime::BuilderConfig unfused_config() {
  runtime::BuilderConfig c;
  c.disabled_passes = {"elementwise-chain-fusion"};
  return c;
}

using runtime::Builder;
using runtime::BuilderConfig;
using runtime::Engine;

// out = (x + w) * (x + w) - x, with a second output t = x + w.
ir::Model small_model(Shape input_shape = Shape{2, 3}) {
  ir::Model m;
  ir::Graph& g = *m.graph;
  g.set_opset("", 17);
  ir::Value* x = g.add_value("x", ir::ValueType::tensor(DataType::kFloat32, input_shape));
  g.inputs().push_back(x);
  Tensor wt(DataType::kFloat32, {2, 3});
  for (int i = 0; i < 6; ++i) wt.data<float>()[i] = 0.5f * i - 1.0f;
  ir::Value* w = g.add_constant("w", wt);
  auto f32 = [](Shape s) { return ir::ValueType::tensor(DataType::kFloat32, s); };
  ir::Value* t = g.add_value("t", f32(Shape{2, 3}));
  ir::Value* sq = g.add_value("sq", f32(Shape{2, 3}));
  ir::Value* out = g.add_value("out", f32(Shape{2, 3}));
  g.add_node("Add", {x, w}, {t}, "add");
  g.add_node("Mul", {t, t}, {sq}, "square");
  g.add_node("Sub", {sq, x}, {out}, "sub");
  g.outputs() = {out, t};
  return m;
}

Tensor input_x() {
  Tensor x(DataType::kFloat32, {2, 3});
  for (int i = 0; i < 6; ++i) x.data<float>()[i] = 0.25f * i + 0.1f;
  return x;
}

std::vector<Tensor> reference(ir::Model& m) {
  auto interp = cpu::Interpreter::create(m.graph);
  EXPECT_TRUE(interp.is_ok());
  auto out = (*interp)->run(std::map<std::string, RuntimeValue>{{"x", RuntimeValue(input_x())}});
  EXPECT_TRUE(out.is_ok()) << out.status().to_string();
  std::vector<Tensor> r;
  for (auto& v : out.value()) r.push_back(v.tensor());
  return r;
}

void expect_same(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].dims(), b[i].dims());
    for (int64_t k = 0; k < a[i].numel(); ++k) EXPECT_EQ(a[i].data<float>()[k], b[i].data<float>()[k]);
  }
}

std::vector<uint8_t> built_bytes() {
  ir::Model m = small_model();
  auto engine = Builder::build(m, unfused_config());
  EXPECT_TRUE(engine.is_ok()) << engine.status().to_string();
  auto bytes = engine.value()->serialize();
  EXPECT_TRUE(bytes.is_ok());
  return bytes.value();
}

TEST(EngineFile, BuildRunMatchesReference) {
  ir::Model m = small_model();
  auto expected = reference(m);
  auto engine = Builder::build(m, unfused_config());
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  auto ctx = engine.value()->create_context();
  ASSERT_TRUE(ctx.is_ok());
  auto got = ctx.value()->run({{"x", input_x()}});
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  expect_same(expected, got.value());
  // "sq" is the only intermediate ("t" is an output): one slot in the arena.
  EXPECT_EQ(engine.value()->desc().memory.slots.size(), 1u);
}

TEST(EngineFile, RoundTripKeepsEverything) {
  ir::Model m = small_model();
  auto expected = reference(m);
  auto bytes = built_bytes();
  EXPECT_EQ(std::memcmp(bytes.data(), "KILN", 4), 0);
  auto loaded = Engine::load(bytes);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  const auto& d = loaded.value()->desc();
  EXPECT_EQ(d.target.backend, "cpu");
  EXPECT_EQ(d.layers.size(), 3u);
  EXPECT_EQ(d.layers[0].tactic, "cpu.reference");
  EXPECT_EQ(d.graph->nodes()[1]->name(), "square");
  EXPECT_EQ(d.source_node_count, 3);
  auto ctx = loaded.value()->create_context();
  ASSERT_TRUE(ctx.is_ok());
  auto got = ctx.value()->run({{"x", input_x()}});
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  expect_same(expected, got.value());
  // Writing the loaded engine again gives the same bytes.
  auto again = loaded.value()->serialize();
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again.value(), bytes);
}

TEST(EngineFile, KernelStateRoundTrips) {
  ir::Model m = small_model();
  auto desc = Builder::build_desc(m, unfused_config(), runtime::TargetInfo{"cpu", {}, 0, 0, {}, {}, {}});
  ASSERT_TRUE(desc.is_ok()) << desc.status().to_string();
  ASSERT_TRUE(desc.value().layers[0].kernel_state.empty());  // the CPU reference keeps none
  desc.value().layers[1].kernel_state = {0x01, 0x00, 0xFF, 0x7F};
  auto bytes = plan::write_engine(desc.value());
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  auto read = plan::read_engine(plan::engine_bytes(std::move(bytes).value()), desc.value().target);
  ASSERT_TRUE(read.is_ok()) << read.status().to_string();
  EXPECT_TRUE(read.value().layers[0].kernel_state.empty());
  EXPECT_EQ(read.value().layers[1].kernel_state, (std::vector<uint8_t>{0x01, 0x00, 0xFF, 0x7F}));
}

// An engine the reader would refuse as implausible is never written: a model whose shapes
// multiply past any memory (the builder fuzzer's find: a zero-size input reshaped to a huge
// empty tensor, then gathered on its empty axis) is a clean build error.
TEST(EngineFile, WriterRefusesWhatTheReaderWould) {
  ir::Model m = small_model();
  auto desc = Builder::build_desc(m, unfused_config(), runtime::TargetInfo{"cpu", {}, 0, 0, {}, {}, {}});
  ASSERT_TRUE(desc.is_ok()) << desc.status().to_string();
  desc.value().memory.arena_bytes = plan::kMaxArenaBytes + 1;
  auto arena = plan::write_engine(desc.value());
  ASSERT_FALSE(arena.is_ok());
  EXPECT_EQ(arena.status().code(), StatusCode::kOutOfMemory);
  EXPECT_NE(arena.status().message().find("activation memory plan"), std::string::npos);
  const uint64_t workspace = desc.value().workspace_bytes;
  desc.value().workspace_bytes = plan::kMaxWorkspaceBytes + 1;
  EXPECT_FALSE(plan::write_engine(desc.value()).is_ok());
  // At the limit the engine is written and reads back.
  desc.value().workspace_bytes = workspace;
  desc.value().memory.arena_bytes = plan::kMaxArenaBytes;
  auto at_limit = plan::write_engine(desc.value());
  ASSERT_TRUE(at_limit.is_ok()) << at_limit.status().to_string();
  auto back = plan::read_engine_any_target(plan::engine_bytes(std::move(at_limit).value()));
  EXPECT_TRUE(back.is_ok()) << back.status().to_string();
}

TEST(EngineFile, SeveralContextsRunAtOnce) {
  ir::Model m = small_model();
  auto expected = reference(m);
  auto engine = Engine::load(built_bytes());
  ASSERT_TRUE(engine.is_ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      auto ctx = engine.value()->create_context();
      if (!ctx.is_ok()) {
        ++failures;
        return;
      }
      for (int i = 0; i < 200; ++i) {
        auto got = ctx.value()->run({{"x", input_x()}});
        if (!got.is_ok() || got.value()[0].data<float>()[5] != expected[0].data<float>()[5]) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

Status load_error(std::vector<uint8_t> bytes) {
  auto e = Engine::load(std::move(bytes));
  return e.is_ok() ? Status::ok() : e.status();
}

TEST(EngineFile, RejectsTruncatedFile) {
  auto bytes = built_bytes();
  for (size_t keep : {size_t{0}, size_t{10}, size_t{64}, bytes.size() / 2, bytes.size() - 1}) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + keep);
    Status st = load_error(cut);
    ASSERT_FALSE(st.is_ok()) << keep;
    EXPECT_NE(st.message().find("truncated"), std::string::npos) << st.message();
  }
}

TEST(EngineFile, RejectsFlippedByte) {
  auto bytes = built_bytes();
  for (size_t pos : {size_t{20}, size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    auto bad = bytes;
    bad[pos] ^= 0x40;
    Status st = load_error(bad);
    ASSERT_FALSE(st.is_ok()) << pos;
    EXPECT_TRUE(st.message().find("checksum") != std::string::npos ||
                st.message().find("header") != std::string::npos)
        << st.message();
  }
}

TEST(EngineFile, RejectsWrongMagic) {
  auto bytes = built_bytes();
  bytes[0] = 'X';
  Status st = load_error(bytes);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("magic"), std::string::npos) << st.message();
}

TEST(EngineFile, RejectsNewerFormat) {
  auto bytes = built_bytes();
  uint32_t v = plan::kEngineFormatVersion + 1;
  std::memcpy(bytes.data() + 4, &v, 4);
  Status st = load_error(bytes);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("newer"), std::string::npos) << st.message();
}

TEST(EngineFile, RejectsOtherBackendAndOtherGpu) {
  auto bytes = built_bytes();
  runtime::TargetInfo cuda{"cuda", "NVIDIA H100 80GB HBM3", 9, 0, "12.8", "9.19.0", "12.8.4"};
  auto r = plan::read_engine(plan::engine_bytes(bytes), cuda);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("backend: engine 'cpu', this machine 'cuda'"), std::string::npos)
      << r.status().message();

  // An engine built for an H100, read on an A100.
  ir::Model m = small_model();
  auto desc = Builder::build_desc(m, unfused_config(), cuda);
  ASSERT_TRUE(desc.is_ok());
  auto h100 = plan::write_engine(desc.value());
  ASSERT_TRUE(h100.is_ok());
  runtime::TargetInfo a100{"cuda", "NVIDIA A100-SXM4-80GB", 8, 0, "12.8", "9.19.0", "12.8.4"};
  auto r2 = plan::read_engine(plan::engine_bytes(h100.value()), a100);
  ASSERT_FALSE(r2.is_ok());
  EXPECT_NE(r2.status().message().find("GPU"), std::string::npos) << r2.status().message();
  EXPECT_NE(r2.status().message().find("compute capability: engine '9.0', this machine '8.0'"), std::string::npos)
      << r2.status().message();
  EXPECT_TRUE(plan::read_engine(plan::engine_bytes(h100.value()), cuda).is_ok());
  // Loading it with the CPU device is refused too.
  Status st = load_error(h100.value());
  EXPECT_FALSE(st.is_ok());
}

TEST(Builder, DynamicShapeIsRefusedNamingTheValue) {
  ir::Model m = small_model(Shape({Dim::symbol("batch"), Dim(3)}));
  auto engine = Builder::build(m, unfused_config());
  ASSERT_FALSE(engine.is_ok());
  EXPECT_NE(engine.status().message().find("dynamic shapes are not supported yet"), std::string::npos);
  EXPECT_NE(engine.status().message().find("'x'"), std::string::npos) << engine.status().message();
}

TEST(Builder, NodeWithoutKernelIsNamed) {
  ir::Model m = small_model();
  m.graph->nodes()[1]->set_op_type("NoSuchOp", "com.example");
  auto engine = Builder::build(m, unfused_config());
  ASSERT_FALSE(engine.is_ok());
  EXPECT_NE(engine.status().message().find("'square'"), std::string::npos) << engine.status().message();
}

TEST(ExecutionContext, WrongInputShapeIsAnError) {
  auto engine = Engine::load(built_bytes());
  ASSERT_TRUE(engine.is_ok());
  auto ctx = engine.value()->create_context();
  auto r = ctx.value()->run({{"x", Tensor(DataType::kFloat32, {3, 2})}});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("'x'"), std::string::npos);
}

}  // namespace
}  // namespace kiln
