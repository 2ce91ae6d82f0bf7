// CUDA graphs inside the runtime (ExecutionContext::enqueue captures and replays per set of
// binding pointers) and run()'s pinned staging: every result matches the plain launches and
// the CPU reference, over several calls with fresh inputs and poisoned outputs; pointer changes
// recapture; contexts on several streams from several threads; engines with CPU-fallback layers
// and the opt-outs stay on plain launches.
// Run: ./build/kiln_gpu_tests --gtest_filter='RuntimeGraphs*'
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <thread>

#include "backends/cpu/interpreter.h"
#include "io/random_inputs.h"
#include "ops/shape_inference.h"
#include "runtime/builder.h"
#include "runtime/cpu_fallback.h"
#include "library_mix_model.h"
#include "runtime/execution_context.h"
#include "max_rel_error.h"

namespace kiln::gpu_test {
namespace {

using Launch = runtime::ExecutionContext::Launch;

const char* launch_name(Launch l) {
  return l == Launch::kPlain ? "plain" : l == Launch::kCaptured ? "captured" : "replayed";
}

// tests/gpu/library_mix_model.h, plus x itself as an output that no layer writes (enqueue's
// final copy, which a graph must capture too).
std::shared_ptr<ir::Graph> model_graph(bool pass_through = true) {
  return library_mix_model("runtime_graphs", {2, 8, 10, 6, 5}, 11, pass_through);
}

// KILN_GPU_TESTS_LOWER_ONLY=1 (no GPU): only check that the model lowers for CUDA.
bool lower_only(const runtime::BuilderConfig& base) {
  const char* env = std::getenv("KILN_GPU_TESTS_LOWER_ONLY");
  if (!env || *env != '1') return false;
  ir::Model model;
  model.graph = model_graph();
  auto target = runtime::target_for_arch(runtime::Backend::kCuda, "sm_90");
  EXPECT_TRUE(target.is_ok());
  if (target.is_ok()) {
    auto desc = runtime::Builder::build_desc(model, base, *target);
    EXPECT_TRUE(desc.is_ok()) << desc.status().to_string();
    if (desc.is_ok()) {
      EXPECT_EQ(runtime::cpu_fallback_layers(*desc) > 0, base.allow_cpu_fallback);
    }
  }
  return true;
}

runtime::BuilderConfig cuda_config() {
  runtime::BuilderConfig c;
  c.backend = runtime::Backend::kCuda;
  return c;
}

// An engine, its CPU reference and helpers to run either on given inputs.
struct Fixture {
  std::shared_ptr<runtime::Engine> engine;
  std::unique_ptr<cpu::Interpreter> interp;
  std::shared_ptr<ir::Graph> ref_graph;

  static Fixture make(const runtime::BuilderConfig& config, bool pass_through = true) {
    Fixture f;
    f.ref_graph = model_graph(pass_through);
    ir::Model model;
    model.graph = model_graph(pass_through);
    auto engine = runtime::Builder::build(model, config);
    EXPECT_TRUE(engine.is_ok()) << engine.status().to_string();
    if (engine.is_ok()) f.engine = engine.value();
    auto interp = cpu::Interpreter::create(f.ref_graph);
    EXPECT_TRUE(interp.is_ok()) << interp.status().to_string();
    if (interp.is_ok()) f.interp = std::move(interp).value();
    return f;
  }
  bool ok() const { return engine && interp; }

  Tensor input(uint64_t seed) const {
    return io::random_tensor(DataType::kFloat32, engine->inputs()[0].dims, seed);
  }
  std::vector<Tensor> reference(const Tensor& x) const {
    auto ref = interp->run(std::map<std::string, RuntimeValue>{{"x", RuntimeValue(x)}});
    EXPECT_TRUE(ref.is_ok()) << ref.status().to_string();
    std::vector<Tensor> out;
    if (ref.is_ok())
      for (const RuntimeValue& r : *ref) out.push_back(r.tensor());
    return out;
  }
};

// Device buffers for one call's input and outputs.
struct Buffers {
  runtime::Device* dev = nullptr;
  std::vector<void*> ptrs;  // input, then the outputs
  Buffers(const runtime::Engine& e) : dev(&e.device()) {
    ptrs.push_back(alloc(e.inputs()[0].nbytes));
    for (const auto& b : e.outputs()) ptrs.push_back(alloc(b.nbytes));
  }
  ~Buffers() {
    for (void* p : ptrs)
      if (p) dev->free(p);
  }
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;
  void* alloc(size_t bytes) {
    auto p = dev->allocate(bytes);
    EXPECT_TRUE(p.is_ok()) << p.status().to_string();
    return p.is_ok() ? p.value() : nullptr;
  }
  bool ok() const {
    for (void* p : ptrs)
      if (!p) return false;
    return true;
  }
};

// One enqueue: input up, outputs poisoned (NaN bytes), enqueue, outputs down, wait.
Status call(runtime::ExecutionContext& ctx, const Buffers& bufs, const Tensor& x, runtime::Stream stream,
            std::vector<Tensor>& out) {
  const runtime::Engine& e = ctx.engine();
  runtime::Device& dev = e.device();
  auto s = static_cast<cudaStream_t>(stream);
  KILN_RETURN_IF_ERROR(dev.copy_host_to_device(bufs.ptrs[0], x.raw(), x.nbytes(), stream));
  std::vector<runtime::TensorRef> ins{{e.inputs()[0].dtype, e.inputs()[0].dims, ir::Layout::kRowMajor, bufs.ptrs[0]}};
  std::vector<runtime::TensorRef> outs;
  out.clear();
  for (size_t o = 0; o < e.outputs().size(); ++o) {
    const auto& b = e.outputs()[o];
    if (cudaMemsetAsync(bufs.ptrs[o + 1], 0xFF, b.nbytes, s) != cudaSuccess) return internal_error("poison failed");
    outs.push_back({b.dtype, b.dims, ir::Layout::kRowMajor, bufs.ptrs[o + 1]});
    out.emplace_back(b.dtype, b.dims);
  }
  KILN_RETURN_IF_ERROR(ctx.enqueue(ins, outs, stream));
  for (size_t o = 0; o < out.size(); ++o)
    KILN_RETURN_IF_ERROR(dev.copy_device_to_host(out[o].raw(), bufs.ptrs[o + 1], out[o].nbytes(), stream));
  return dev.synchronize(stream);
}

std::string check(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double tol) {
  if (got.size() != want.size()) return "output count " + std::to_string(got.size());
  for (size_t o = 0; o < got.size(); ++o) {
    double e = max_rel_error(got[o], want[o]);
    if (e > tol) return "output " + std::to_string(o) + ": max relative error " + std::to_string(e);
  }
  return "";
}

struct StreamHolder {
  runtime::Device& dev;
  runtime::Stream s = nullptr;
  explicit StreamHolder(runtime::Device& d) : dev(d) {
    auto r = dev.create_stream();
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    if (r.is_ok()) s = r.value();
  }
  ~StreamHolder() {
    if (s) dev.destroy_stream(s);
  }
};

TEST(RuntimeGraphs, ReplayMatchesPlainLaunchesAndTheReference) {
  if (lower_only(cuda_config())) GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  Fixture f = Fixture::make(cuda_config());
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(runtime::cpu_fallback_layers(f.engine->desc()), 0u);
  auto graph_ctx = f.engine->create_context(), plain_ctx = f.engine->create_context();
  ASSERT_TRUE(graph_ctx.is_ok() && plain_ctx.is_ok());
  (*plain_ctx)->set_cuda_graphs(false);
  EXPECT_TRUE((*graph_ctx)->cuda_graphs());
  StreamHolder stream(f.engine->device());
  Buffers gb(*f.engine), pb(*f.engine);
  ASSERT_TRUE(gb.ok() && pb.ok() && stream.s);
  const Launch expected[] = {Launch::kPlain, Launch::kCaptured, Launch::kReplayed, Launch::kReplayed,
                             Launch::kReplayed, Launch::kReplayed};
  for (int it = 0; it < 6; ++it) {
    SCOPED_TRACE("call " + std::to_string(it));
    Tensor x = f.input(500 + it);
    std::vector<Tensor> want = f.reference(x), got, plain;
    Status st = call(**graph_ctx, gb, x, stream.s, got);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ(launch_name((*graph_ctx)->last_launch()), std::string(launch_name(expected[it])))
        << (*graph_ctx)->cuda_graph_error();
    st = call(**plain_ctx, pb, x, stream.s, plain);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ((*plain_ctx)->last_launch(), Launch::kPlain);
    EXPECT_EQ(check(got, want, 2e-3), "");
    EXPECT_EQ(check(plain, want, 2e-3), "");
    EXPECT_EQ(check(got, plain, 1e-5), "") << "graph replay differs from the plain launches";
  }
  EXPECT_EQ((*graph_ctx)->cuda_graph_error(), "");
  EXPECT_EQ((*graph_ctx)->cuda_graph_count(), 1u);
  EXPECT_EQ((*plain_ctx)->cuda_graph_count(), 0u);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST(RuntimeGraphs, NewPointersRecaptureAndOldOnesStillReplay) {
  if (lower_only(cuda_config())) GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  Fixture f = Fixture::make(cuda_config());
  ASSERT_TRUE(f.ok());
  auto ctx = f.engine->create_context();
  ASSERT_TRUE(ctx.is_ok());
  StreamHolder stream(f.engine->device());
  // Six buffer sets: more than a context keeps graphs for, so some are evicted and updated.
  std::vector<std::unique_ptr<Buffers>> sets;
  for (int i = 0; i < 6; ++i) {
    sets.push_back(std::make_unique<Buffers>(*f.engine));
    ASSERT_TRUE(sets.back()->ok());
  }
  // (buffer set, expected launch): a set is captured on its second call.
  const std::vector<std::pair<int, Launch>> plan = {
      {0, Launch::kPlain},    {0, Launch::kCaptured}, {0, Launch::kReplayed}, {1, Launch::kPlain},
      {1, Launch::kCaptured}, {0, Launch::kReplayed}, {1, Launch::kReplayed}, {0, Launch::kReplayed},
      {2, Launch::kPlain},    {2, Launch::kCaptured}, {3, Launch::kPlain},    {3, Launch::kCaptured},
      // A fifth graph: the least recently used one (set 1's) is updated in place for set 4.
      {4, Launch::kPlain},    {4, Launch::kCaptured}, {1, Launch::kPlain},    {1, Launch::kCaptured},
      {5, Launch::kPlain},    {5, Launch::kCaptured}, {0, Launch::kPlain},    {0, Launch::kCaptured},
      {2, Launch::kPlain},    {4, Launch::kReplayed}, {5, Launch::kReplayed}, {1, Launch::kReplayed},
      {0, Launch::kReplayed}};
  for (size_t it = 0; it < plan.size(); ++it) {
    SCOPED_TRACE("call " + std::to_string(it) + " on buffer set " + std::to_string(plan[it].first));
    Tensor x = f.input(900 + it);
    std::vector<Tensor> want = f.reference(x), got;
    Status st = call(**ctx, *sets[plan[it].first], x, stream.s, got);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ(std::string(launch_name((*ctx)->last_launch())), launch_name(plan[it].second))
        << (*ctx)->cuda_graph_error();
    EXPECT_EQ(check(got, want, 2e-3), "");
  }
  EXPECT_LE((*ctx)->cuda_graph_count(), 4u);
  EXPECT_EQ((*ctx)->cuda_graph_error(), "");

  // Only one output pointer changes: a new set too.
  Buffers mixed(*f.engine);
  ASSERT_TRUE(mixed.ok());
  std::swap(mixed.ptrs[0], sets[0]->ptrs[0]);  // set 0's input with fresh outputs
  for (int it = 0; it < 3; ++it) {
    Tensor x = f.input(950 + it);
    std::vector<Tensor> got;
    Status st = call(**ctx, mixed, x, stream.s, got);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ(check(got, f.reference(x), 2e-3), "") << "call " << it;
  }
  EXPECT_EQ((*ctx)->last_launch(), Launch::kReplayed);
  std::swap(mixed.ptrs[0], sets[0]->ptrs[0]);
}

TEST(RuntimeGraphs, ContextsOnSeveralStreamsFromSeveralThreads) {
  if (lower_only(cuda_config())) GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  Fixture f = Fixture::make(cuda_config());
  ASSERT_TRUE(f.ok());
  constexpr int kThreads = 4, kIterations = 30, kInputSets = 3;
  std::vector<std::vector<Tensor>> inputs(kThreads);
  std::vector<std::vector<std::vector<Tensor>>> expected(kThreads);
  for (int t = 0; t < kThreads; ++t)
    for (int s = 0; s < kInputSets; ++s) {
      inputs[t].push_back(f.input(2000 + 10 * t + s));
      expected[t].push_back(f.reference(inputs[t].back()));
    }
  std::vector<std::string> errors(kThreads);
  std::vector<int> replays(kThreads, 0);
  auto worker = [&](int t) {
    auto ctx = f.engine->create_context();
    if (!ctx.is_ok()) return void(errors[t] = ctx.status().to_string());
    StreamHolder stream(f.engine->device());
    Buffers a(*f.engine), b(*f.engine);  // alternating buffers: both get a graph
    if (!stream.s || !a.ok() || !b.ok()) return void(errors[t] = "setup failed");
    for (int it = 0; it < kIterations; ++it) {
      int s = (it * 7 + t) % kInputSets;
      std::vector<Tensor> got;
      Status st = call(**ctx, it % 2 ? b : a, inputs[t][s], stream.s, got);
      if (!st.is_ok()) return void(errors[t] = "iteration " + std::to_string(it) + ": " + st.to_string());
      std::string bad = check(got, expected[t][s], 2e-3);
      if (!bad.empty()) return void(errors[t] = "iteration " + std::to_string(it) + ": " + bad);
      replays[t] += (*ctx)->last_launch() == Launch::kReplayed;
    }
    if (!(*ctx)->cuda_graph_error().empty()) errors[t] = "graphs were turned off: " + (*ctx)->cuda_graph_error();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "") << "thread " << t;
    EXPECT_EQ(replays[t], kIterations - 4) << "thread " << t << ": two plain and two captured calls, then replays";
  }
}

TEST(RuntimeGraphs, RunStagesThroughPinnedMemoryAndRejectsBadInputs) {
  if (lower_only(cuda_config())) GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  Fixture f = Fixture::make(cuda_config());
  ASSERT_TRUE(f.ok());
  auto ctx = f.engine->create_context();
  ASSERT_TRUE(ctx.is_ok());
  const Launch expected[] = {Launch::kPlain, Launch::kCaptured, Launch::kReplayed, Launch::kReplayed, Launch::kReplayed};
  for (int it = 0; it < 5; ++it) {
    Tensor x = f.input(3000 + it);
    auto got = (*ctx)->run({{"x", x}});
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    EXPECT_EQ(check(*got, f.reference(x), 2e-3), "") << "call " << it;
    EXPECT_EQ(std::string(launch_name((*ctx)->last_launch())), launch_name(expected[it])) << "call " << it;
  }
  const auto& in = f.engine->inputs()[0];
  auto bad_name = (*ctx)->run({{"x", f.input(1)}, {"q", f.input(2)}});
  ASSERT_FALSE(bad_name.is_ok());
  EXPECT_EQ(bad_name.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_name.status().message().find("no input named 'q'"), std::string::npos) << bad_name.status().to_string();
  auto missing = (*ctx)->run({});
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("'x' is missing"), std::string::npos) << missing.status().to_string();
  std::vector<int64_t> wrong_dims = in.dims;
  wrong_dims[0] += 1;
  auto bad_shape = (*ctx)->run({{"x", io::random_tensor(DataType::kFloat32, wrong_dims, 3)}});
  ASSERT_FALSE(bad_shape.is_ok());
  EXPECT_EQ(bad_shape.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_shape.status().message().find("the engine expects"), std::string::npos) << bad_shape.status().to_string();
  auto bad_dtype = (*ctx)->run({{"x", io::random_tensor(DataType::kFloat16, in.dims, 4)}});
  ASSERT_FALSE(bad_dtype.is_ok());
  EXPECT_EQ(bad_dtype.status().code(), StatusCode::kInvalidArgument);
  // The context still works, and still replays.
  Tensor x = f.input(3100);
  auto got = (*ctx)->run({{"x", x}});
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(check(*got, f.reference(x), 2e-3), "");
  EXPECT_EQ((*ctx)->last_launch(), Launch::kReplayed);

  // Pinned host memory through the Device API.
  auto host = runtime::HostBuffer::allocate(f.engine->device_ptr(), 1 << 20);
  ASSERT_TRUE(host.is_ok()) << host.status().to_string();
  cudaPointerAttributes attrs{};
  ASSERT_EQ(cudaPointerGetAttributes(&attrs, host->data()), cudaSuccess);
  EXPECT_EQ(attrs.type, cudaMemoryTypeHost);
}

TEST(RuntimeGraphs, EnginesWithCpuFallbackLayersRunPlainly) {
  runtime::BuilderConfig config = cuda_config();
  config.allow_cpu_fallback = true;
  config.warn = [](const std::string&) {};
  {  // Every CUDA tactic that could run the Softmax is disabled: it falls back to the CPU.
    auto g = model_graph();
    for (const auto& n : g->nodes())
      if (n->op_type() == "Softmax")
        for (const runtime::Tactic* t : runtime::TacticRegistry::global().candidates(runtime::Backend::kCuda, *n))
          config.disabled_tactics.emplace_back(t->id());
  }
  ASSERT_FALSE(config.disabled_tactics.empty());
  if (lower_only(config)) GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  Fixture f = Fixture::make(config);
  ASSERT_TRUE(f.ok());
  ASSERT_GE(runtime::cpu_fallback_layers(f.engine->desc()), 1u);
  auto ctx = f.engine->create_context();
  ASSERT_TRUE(ctx.is_ok());
  StreamHolder stream(f.engine->device());
  Buffers bufs(*f.engine);
  ASSERT_TRUE(bufs.ok() && stream.s);
  for (int it = 0; it < 4; ++it) {
    Tensor x = f.input(4000 + it);
    std::vector<Tensor> got;
    Status st = call(**ctx, bufs, x, stream.s, got);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ(check(got, f.reference(x), 2e-3), "") << "call " << it;
    EXPECT_EQ((*ctx)->last_launch(), Launch::kPlain) << "call " << it;
    auto ran = (*ctx)->run({{"x", x}});
    ASSERT_TRUE(ran.is_ok()) << ran.status().to_string();
    EXPECT_EQ(check(*ran, f.reference(x), 2e-3), "") << "run() call " << it;
    EXPECT_EQ((*ctx)->last_launch(), Launch::kPlain);
  }
  EXPECT_EQ((*ctx)->cuda_graph_count(), 0u);
  EXPECT_EQ((*ctx)->cuda_graph_error(), "");
}

TEST(RuntimeGraphs, OptOutsHookDefaultStreamAndCallersCaptureRunPlainly) {
  if (lower_only(cuda_config())) GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  Fixture f = Fixture::make(cuda_config());
  ASSERT_TRUE(f.ok());
  auto ctx = f.engine->create_context();
  ASSERT_TRUE(ctx.is_ok());
  StreamHolder stream(f.engine->device());
  Buffers bufs(*f.engine);
  ASSERT_TRUE(bufs.ok() && stream.s);
  auto run_once = [&](runtime::Stream s, uint64_t seed) {
    Tensor x = f.input(seed);
    std::vector<Tensor> got;
    Status st = call(**ctx, bufs, x, s, got);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ(check(got, f.reference(x), 2e-3), "") << "seed " << seed;
    return (*ctx)->last_launch();
  };
  (*ctx)->set_cuda_graphs(false);
  for (int it = 0; it < 3; ++it) EXPECT_EQ(run_once(stream.s, 5000 + it), Launch::kPlain);
  (*ctx)->set_cuda_graphs(true);
  int hook_calls = 0;
  (*ctx)->set_layer_hook([&](size_t, bool, runtime::Stream) { ++hook_calls; });
  for (int it = 0; it < 3; ++it) EXPECT_EQ(run_once(stream.s, 5010 + it), Launch::kPlain);
  EXPECT_EQ(hook_calls, static_cast<int>(3 * 2 * f.engine->desc().layers.size()));
  (*ctx)->set_layer_hook(nullptr);
  for (int it = 0; it < 3; ++it) EXPECT_EQ(run_once(nullptr, 5020 + it), Launch::kPlain);  // legacy default stream
  // Nothing of that counted as a first call: graphs start over from a plain call.
  EXPECT_EQ(run_once(stream.s, 5030), Launch::kPlain);
  EXPECT_EQ(run_once(stream.s, 5031), Launch::kCaptured);
  EXPECT_EQ(run_once(stream.s, 5032), Launch::kReplayed);

  // The caller captures the stream itself (as kiln bench does): enqueue launches plainly into
  // the caller's capture, and the caller's graph computes the right thing.
  const runtime::Engine& e = *f.engine;
  auto s = static_cast<cudaStream_t>(stream.s);
  Tensor x = f.input(5040);
  ASSERT_TRUE(e.device().copy_host_to_device(bufs.ptrs[0], x.raw(), x.nbytes(), stream.s).is_ok());
  for (size_t o = 0; o < e.outputs().size(); ++o)
    ASSERT_EQ(cudaMemsetAsync(bufs.ptrs[o + 1], 0xFF, e.outputs()[o].nbytes, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  std::vector<runtime::TensorRef> ins{{e.inputs()[0].dtype, e.inputs()[0].dims, ir::Layout::kRowMajor, bufs.ptrs[0]}};
  std::vector<runtime::TensorRef> outs;
  for (size_t o = 0; o < e.outputs().size(); ++o)
    outs.push_back({e.outputs()[o].dtype, e.outputs()[o].dims, ir::Layout::kRowMajor, bufs.ptrs[o + 1]});
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  Status st = (*ctx)->enqueue(ins, outs, stream.s);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_EQ((*ctx)->last_launch(), Launch::kPlain);
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  std::vector<Tensor> got;
  for (size_t o = 0; o < e.outputs().size(); ++o) {
    got.emplace_back(e.outputs()[o].dtype, e.outputs()[o].dims);
    ASSERT_TRUE(e.device().copy_device_to_host(got[o].raw(), bufs.ptrs[o + 1], got[o].nbytes(), stream.s).is_ok());
  }
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(check(got, f.reference(x), 2e-3), "");
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  EXPECT_EQ((*ctx)->cuda_graph_error(), "");
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

}  // namespace
}  // namespace kiln::gpu_test
