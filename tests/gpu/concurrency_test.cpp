// One CUDA engine, several ExecutionContexts running at once from several threads, each on its
// own stream with its own inputs: every result must match the CPU reference. And out-of-memory:
// contexts whose arenas no longer fit give a clean kOutOfMemory, and the device stays usable.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cmath>
#include <thread>

#include "backends/cpu/interpreter.h"
#include "io/random_inputs.h"
#include "ops/shape_inference.h"
#include "runtime/builder.h"
#include "runtime/execution_context.h"
#include "library_mix_model.h"
#include "max_rel_error.h"

namespace kiln::gpu_test {
namespace {

// Every library handle of a context is used (tests/gpu/library_mix_model.h).
std::shared_ptr<ir::Graph> small_model() { return library_mix_model("concurrency", {4, 16, 12, 10, 20}, 1); }

// KILN_GPU_TESTS_LOWER_ONLY=1 (no GPU): only check that the model lowers for CUDA.
bool lower_only(ir::Model& model) {
  const char* env = std::getenv("KILN_GPU_TESTS_LOWER_ONLY");
  if (!env || *env != '1') return false;
  runtime::BuilderConfig config;
  config.backend = runtime::Backend::kCuda;
  auto target = runtime::target_for_arch(runtime::Backend::kCuda, "sm_90");
  EXPECT_TRUE(target.is_ok());
  if (target.is_ok()) {
    auto desc = runtime::Builder::build_desc(model, config, *target);
    EXPECT_TRUE(desc.is_ok()) << desc.status().to_string();
  }
  return true;
}

TEST(CudaConcurrency, ContextsOnSeveralStreamsFromSeveralThreads) {
  auto ref_graph = small_model();
  ir::Model model;
  model.graph = small_model();
  if (lower_only(model)) GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  runtime::BuilderConfig config;
  config.backend = runtime::Backend::kCuda;
  auto engine = runtime::Builder::build(model, config);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  auto interp = cpu::Interpreter::create(ref_graph);
  ASSERT_TRUE(interp.is_ok()) << interp.status().to_string();
  runtime::Device& dev = (*engine)->device();
  const auto& in_b = (*engine)->inputs();
  const auto& out_b = (*engine)->outputs();
  ASSERT_EQ(in_b.size(), 1u);
  ASSERT_EQ(out_b.size(), 2u);

  constexpr int kThreads = 4, kIterations = 25, kInputSets = 3;
  // Per thread: its input sets and their reference outputs.
  std::vector<std::vector<Tensor>> inputs(kThreads);
  std::vector<std::vector<std::vector<Tensor>>> expected(kThreads);
  for (int t = 0; t < kThreads; ++t)
    for (int s = 0; s < kInputSets; ++s) {
      Tensor x = io::random_tensor(DataType::kFloat32, in_b[0].dims, 1000 + 10 * t + s);
      auto ref = (*interp)->run(std::map<std::string, RuntimeValue>{{"x", RuntimeValue(x)}});
      ASSERT_TRUE(ref.is_ok()) << ref.status().to_string();
      inputs[t].push_back(x);
      expected[t].push_back({(*ref)[0].tensor(), (*ref)[1].tensor()});
    }

  std::atomic<int> failures{0};
  std::vector<std::string> errors(kThreads);
  auto worker = [&](int t) {
    auto fail = [&](const std::string& m) {
      errors[t] = "thread " + std::to_string(t) + ": " + m;
      ++failures;
    };
    auto ctx = (*engine)->create_context();
    if (!ctx.is_ok()) return fail(ctx.status().to_string());
    auto stream = dev.create_stream();
    if (!stream.is_ok()) return fail(stream.status().to_string());
    std::vector<void*> bufs;
    auto alloc = [&](size_t bytes) -> void* {
      auto p = dev.allocate(bytes);
      if (!p.is_ok()) return nullptr;
      bufs.push_back(p.value());
      return p.value();
    };
    void* din = alloc(in_b[0].nbytes);
    void* dout0 = alloc(out_b[0].nbytes);
    void* dout1 = alloc(out_b[1].nbytes);
    if (!din || !dout0 || !dout1) return fail("device allocation failed");
    for (int it = 0; it < kIterations && errors[t].empty(); ++it) {
      int s = (it * 7 + t) % kInputSets;
      const Tensor& x = inputs[t][s];
      Tensor y0(out_b[0].dtype, out_b[0].dims), y1(out_b[1].dtype, out_b[1].dims);
      Status st = dev.memset_zero(dout0, out_b[0].nbytes, *stream);
      if (st.is_ok()) st = dev.memset_zero(dout1, out_b[1].nbytes, *stream);
      if (st.is_ok()) st = dev.copy_host_to_device(din, x.raw(), x.nbytes(), *stream);
      runtime::TensorRef in_ref{in_b[0].dtype, in_b[0].dims, ir::Layout::kRowMajor, din};
      runtime::TensorRef o0{out_b[0].dtype, out_b[0].dims, ir::Layout::kRowMajor, dout0};
      runtime::TensorRef o1{out_b[1].dtype, out_b[1].dims, ir::Layout::kRowMajor, dout1};
      if (st.is_ok()) st = (*ctx)->enqueue({in_ref}, {o0, o1}, *stream);
      if (st.is_ok()) st = dev.copy_device_to_host(y0.raw(), dout0, y0.nbytes(), *stream);
      if (st.is_ok()) st = dev.copy_device_to_host(y1.raw(), dout1, y1.nbytes(), *stream);
      if (st.is_ok()) st = dev.synchronize(*stream);
      if (!st.is_ok()) {
        fail("iteration " + std::to_string(it) + ": " + st.to_string());
        break;
      }
      double e0 = max_rel_error(y0, expected[t][s][0]), e1 = max_rel_error(y1, expected[t][s][1]);
      if (e0 > 2e-3 || e1 > 2e-3)
        fail("iteration " + std::to_string(it) + " input set " + std::to_string(s) + ": max relative error " +
             std::to_string(e0) + " / " + std::to_string(e1));
    }
    for (void* p : bufs) dev.free(p);
    dev.destroy_stream(*stream);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_TRUE(e.empty()) << e;
  EXPECT_EQ(failures.load(), 0);
}

// x [1] -> Expand to 2^30 floats (a 4 GiB intermediate in the arena) -> ReduceSum.
std::shared_ptr<ir::Graph> big_arena_model() {
  auto g = std::make_shared<ir::Graph>("big_arena");
  g->set_opset("", 18);
  ir::Value* x = g->add_value("x", ir::ValueType::tensor(DataType::kFloat32, Shape::from_dims({1})));
  g->inputs().push_back(x);
  ir::Value* big = g->add_value("big", ir::ValueType::unknown());
  ir::Value* y = g->add_value("y", ir::ValueType::unknown());
  g->add_node("Expand", {x, g->add_constant("shape", Tensor::from_i64({int64_t{1} << 30}))}, {big}, "expand");
  g->add_node("ReduceSum", {big}, {y}, "sum");
  g->outputs().push_back(y);
  Status st = ops::infer_shapes(*g);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return g;
}

TEST(CudaOutOfMemory, ContextsBeyondTheGpuGiveACleanErrorAndTheDeviceStaysUsable) {
  ir::Model model;
  model.graph = big_arena_model();
  if (lower_only(model)) GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  runtime::BuilderConfig config;
  config.backend = runtime::Backend::kCuda;
  auto engine = runtime::Builder::build(model, config);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  ASSERT_GE((*engine)->desc().memory.arena_bytes, size_t{1} << 32) << "the arena should hold the 4 GiB intermediate";
  size_t free_bytes = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_bytes, &total), cudaSuccess);
  const size_t limit = total / (size_t{1} << 32) + 4;  // more contexts than can fit
  std::vector<std::unique_ptr<runtime::ExecutionContext>> contexts;
  Status oom = Status::ok();
  for (size_t i = 0; i < limit; ++i) {
    auto ctx = (*engine)->create_context();
    if (!ctx.is_ok()) {
      oom = ctx.status();
      break;
    }
    contexts.push_back(std::move(ctx).value());
  }
  ASSERT_FALSE(oom.is_ok()) << "created " << contexts.size() << " contexts of 4 GiB without running out of memory";
  EXPECT_EQ(oom.code(), StatusCode::kOutOfMemory) << oom.to_string();
  EXPECT_NE(oom.message().find("out of memory"), std::string::npos) << oom.to_string();
  EXPECT_GT(contexts.size(), 0u);
  // The device still works: free the contexts, then one runs and gives the right sum.
  contexts.clear();
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  auto ctx = (*engine)->create_context();
  ASSERT_TRUE(ctx.is_ok()) << ctx.status().to_string();
  Tensor x(DataType::kFloat32, {1});
  x.data<float>()[0] = 0.5f;
  auto out = (*ctx)->run({{"x", x}});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_NEAR((*out)[0].data<float>()[0], 0.5 * static_cast<double>(int64_t{1} << 30), 1e-3 * (int64_t{1} << 29));
}

}  // namespace
}  // namespace kiln::gpu_test
