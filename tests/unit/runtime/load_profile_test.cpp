// The load profile (runtime/load_profile.h) on the CPU backend: every step is filled, one entry
// per layer with what it did with its stored state, and the first context's allocations.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "plan/engine_format.h"
#include "runtime/builder.h"
#include "runtime/execution_context.h"

namespace kiln {
namespace {

using runtime::LayerLoadTime;

// y = (x + w) * w - x over [4, 8]: three layers (chain fusion off), one 128-byte constant.
ir::Model small_model() {
  ir::Model m;
  ir::Graph& g = *m.graph;
  g.set_opset("", 17);
  auto f32 = ir::ValueType::tensor(DataType::kFloat32, Shape{4, 8});
  ir::Value* x = g.add_value("x", f32);
  g.inputs().push_back(x);
  Tensor wt(DataType::kFloat32, {4, 8});
  for (int i = 0; i < 32; ++i) wt.data<float>()[i] = 0.25f * i - 3.0f;
  ir::Value* w = g.add_constant("w", wt);
  ir::Value *t = g.add_value("t", f32), *p = g.add_value("p", f32), *y = g.add_value("y", f32);
  g.add_node("Add", {x, w}, {t}, "add");
  g.add_node("Mul", {t, w}, {p}, "mul");
  g.add_node("Sub", {p, x}, {y}, "sub");
  g.outputs() = {y};
  return m;
}

// The engine's bytes, layer 1 carrying a state the CPU kernel does not use.
std::vector<uint8_t> engine_bytes() {
  ir::Model m = small_model();
  runtime::BuilderConfig config;
  config.disabled_passes = {"elementwise-chain-fusion"};
  auto desc = runtime::Builder::build_desc(m, config, runtime::TargetInfo{"cpu", {}, 0, 0, {}, {}, {}});
  EXPECT_TRUE(desc.is_ok()) << desc.status().to_string();
  if (!desc.is_ok()) return {};
  EXPECT_EQ(desc->layers.size(), 3u);
  desc->layers[1].kernel_state = {1, 2, 3};
  auto bytes = plan::write_engine(*desc);
  EXPECT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  return bytes.is_ok() ? *bytes : std::vector<uint8_t>{};
}

void expect_complete(const runtime::LoadProfile& p, size_t file_bytes) {
  EXPECT_EQ(p.file_bytes, file_bytes);
  EXPECT_EQ(p.weights_bytes, 128u);
  for (double ms : {p.read_ms, p.checksum_ms, p.verify_ms, p.parse_ms, p.device_ms, p.weights_ms, p.kernels_ms})
    EXPECT_GE(ms, 0);
  EXPECT_GT(p.total_ms, 0);
  EXPECT_LE(p.read_ms + p.checksum_ms + p.verify_ms + p.parse_ms + p.device_ms + p.weights_ms + p.kernels_ms,
            p.total_ms * 1.0001 + 1e-6);
  ASSERT_EQ(p.layers.size(), 3u);
  double sum = 0;
  for (size_t i = 0; i < p.layers.size(); ++i) {
    EXPECT_EQ(p.layers[i].layer, i);
    EXPECT_EQ(p.layers[i].tactic, "cpu.reference");
    EXPECT_GE(p.layers[i].ms, 0);
    sum += p.layers[i].ms;
  }
  EXPECT_NEAR(sum, p.kernels_ms, 1e-9);
  EXPECT_EQ(p.layers[0].state, LayerLoadTime::State::kNone);
  EXPECT_EQ(p.layers[1].state, LayerLoadTime::State::kRebuilt);  // the CPU reference keeps no state
  EXPECT_EQ(p.layers[2].state, LayerLoadTime::State::kNone);
}

TEST(LoadProfile, FromBytes) {
  auto bytes = engine_bytes();
  ASSERT_FALSE(bytes.empty());
  runtime::LoadProfile p;
  auto engine = runtime::Engine::load(bytes, nullptr, &p);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  expect_complete(p, bytes.size());
  EXPECT_DOUBLE_EQ(p.total_ms, (*engine)->load_ms());
}

TEST(LoadProfile, FromFileAndFirstContext) {
  auto bytes = engine_bytes();
  ASSERT_FALSE(bytes.empty());
  std::string path = ::testing::TempDir() + "load_profile_test.kiln";
  {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  runtime::LoadProfile p;
  auto engine = runtime::Engine::load(path, nullptr, &p);
  std::remove(path.c_str());
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  expect_complete(p, bytes.size());

  runtime::ContextProfile c;
  auto ctx = (*engine)->create_context(&c);
  ASSERT_TRUE(ctx.is_ok()) << ctx.status().to_string();
  EXPECT_EQ(c.arena_bytes, (*ctx)->arena_bytes());
  EXPECT_GT(c.arena_bytes, 0u);  // t and p live in the arena
  EXPECT_EQ(c.workspace_bytes, 0u);
  for (double ms : {c.arena_ms, c.workspace_ms, c.stream_ms, c.backend_state_ms}) EXPECT_GE(ms, 0);
  EXPECT_LE(c.arena_ms + c.workspace_ms + c.stream_ms + c.backend_state_ms, c.total_ms * 1.0001 + 1e-6);

  // The profiled engine runs like any other.
  Tensor x(DataType::kFloat32, {4, 8});
  for (int i = 0; i < 32; ++i) x.data<float>()[i] = 0.5f * i;
  auto got = (*ctx)->run({{"x", x}});
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  for (int i = 0; i < 32; ++i) {
    float w = 0.25f * i - 3.0f, xi = 0.5f * i;
    EXPECT_FLOAT_EQ((*got)[0].data<float>()[i], (xi + w) * w - xi);
  }
}

TEST(LoadProfile, NotFilledOnError) {
  auto bytes = engine_bytes();
  ASSERT_FALSE(bytes.empty());
  bytes[bytes.size() / 2] ^= 0x40;  // the checksum refuses it
  runtime::LoadProfile p;
  auto engine = runtime::Engine::load(bytes, nullptr, &p);
  EXPECT_FALSE(engine.is_ok());
  EXPECT_TRUE(p.layers.empty());
  EXPECT_EQ(p.total_ms, 0);
}

}  // namespace
}  // namespace kiln
