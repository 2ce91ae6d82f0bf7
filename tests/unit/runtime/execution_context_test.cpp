// ExecutionContext without a GPU: run() on the CPU backend (persistent buffers, repeated calls,
// clear errors), and the CUDA-graph policy of enqueue() against a fake graph-capable "CUDA"
// device on host memory that records the stream work of a capture and replays it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <functional>

#include "backends/cpu/interpreter.h"
#include "io/random_inputs.h"
#include "runtime/builder.h"
#include "runtime/execution_context.h"

namespace kiln {
namespace {

using runtime::Backend;
using runtime::Stream;
using Launch = runtime::ExecutionContext::Launch;

// y = Softmax(x * w) + x and p = x * w.
ir::Model softmax_model() {
  ir::Model m;
  ir::Graph& g = *m.graph;
  g.set_opset("", 17);
  auto f32 = [](Shape s) { return ir::ValueType::tensor(DataType::kFloat32, std::move(s)); };
  ir::Value* x = g.add_value("x", f32(Shape{3, 5}));
  g.inputs().push_back(x);
  ir::Value* w = g.add_constant("w", io::random_tensor(DataType::kFloat32, {3, 5}, 7));
  ir::Value* p = g.add_value("p", f32(Shape{3, 5}));
  ir::Value* s = g.add_value("s", f32(Shape{3, 5}));
  ir::Value* y = g.add_value("y", f32(Shape{3, 5}));
  g.add_node("Mul", {x, w}, {p}, "mul");
  g.add_node("Softmax", {p}, {s}, "softmax");
  g.add_node("Add", {s, x}, {y}, "add");
  g.outputs() = {y, p};
  return m;
}

std::vector<Tensor> reference(const Tensor& x) {
  ir::Model m = softmax_model();
  auto interp = cpu::Interpreter::create(m.graph);
  EXPECT_TRUE(interp.is_ok());
  auto out = (*interp)->run({RuntimeValue(x)});
  EXPECT_TRUE(out.is_ok());
  std::vector<Tensor> r;
  for (const auto& v : out.value()) r.push_back(v.tensor());
  return r;
}

void expect_same(const std::vector<Tensor>& want, const std::vector<Tensor>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t k = 0; k < want.size(); ++k) {
    ASSERT_EQ(want[k].dims(), got[k].dims());
    ASSERT_EQ(want[k].dtype(), got[k].dtype());
    EXPECT_EQ(std::memcmp(want[k].raw(), got[k].raw(), want[k].nbytes()), 0) << "output " << k;
  }
}

TEST(ExecutionContextRun, CpuRepeatedCallsGiveFreshResults) {
  ir::Model m = softmax_model();
  auto engine = runtime::Builder::build(m, runtime::BuilderConfig{});
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  auto ctx = engine.value()->create_context();
  ASSERT_TRUE(ctx.is_ok());
  for (int it = 0; it < 4; ++it) {
    Tensor x = io::random_tensor(DataType::kFloat32, {3, 5}, 100 + it);
    auto got = (*ctx)->run({{"x", x}});
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    expect_same(reference(x), *got);
    EXPECT_EQ((*ctx)->last_launch(), Launch::kPlain);
    // Results own their memory: the next call does not change them.
    Tensor keep = (*got)[0].clone();
    auto again = (*ctx)->run({{"x", io::random_tensor(DataType::kFloat32, {3, 5}, 200 + it)}});
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(std::memcmp(keep.raw(), (*got)[0].raw(), keep.nbytes()), 0);
  }
  EXPECT_EQ((*ctx)->cuda_graph_count(), 0u);
  EXPECT_EQ((*ctx)->cuda_graph_error(), "");
}

// An input that is also an output (no layer writes it: enqueue's final copy does).
TEST(ExecutionContextRun, CpuInputPassedThroughToAnOutput) {
  ir::Model m = softmax_model();
  m.graph->outputs().push_back(m.graph->inputs()[0]);
  auto engine = runtime::Builder::build(m, runtime::BuilderConfig{});
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  ASSERT_EQ(engine.value()->outputs().size(), 3u);
  auto ctx = engine.value()->create_context();
  ASSERT_TRUE(ctx.is_ok());
  for (int it = 0; it < 3; ++it) {
    Tensor x = io::random_tensor(DataType::kFloat32, {3, 5}, 300 + it);
    auto got = (*ctx)->run({{"x", x}});
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    // The CPU reference on the same graph (as the GPU tests use it) returns x as it is.
    ir::Model ref_model = softmax_model();
    ref_model.graph->outputs().push_back(ref_model.graph->inputs()[0]);
    auto interp = cpu::Interpreter::create(ref_model.graph);
    ASSERT_TRUE(interp.is_ok());
    auto ref = (*interp)->run({RuntimeValue(x)});
    ASSERT_TRUE(ref.is_ok()) << ref.status().to_string();
    std::vector<Tensor> want;
    for (const auto& v : *ref) want.push_back(v.tensor());
    ASSERT_EQ(want.size(), 3u);
    expect_same(want, *got);
    EXPECT_EQ(std::memcmp((*got)[2].raw(), x.raw(), x.nbytes()), 0);
  }
}

TEST(ExecutionContextRun, BadInputsAreRejectedAndTheContextStaysUsable) {
  ir::Model m = softmax_model();
  auto engine = runtime::Builder::build(m, runtime::BuilderConfig{});
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  auto ctx = engine.value()->create_context();
  ASSERT_TRUE(ctx.is_ok());
  Tensor x = io::random_tensor(DataType::kFloat32, {3, 5}, 1);
  auto unknown = (*ctx)->run({{"x", x}, {"nope", x}});
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("no input named 'nope'"), std::string::npos) << unknown.status().to_string();
  auto missing = (*ctx)->run({});
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("input 'x' is missing"), std::string::npos);
  auto shape = (*ctx)->run({{"x", io::random_tensor(DataType::kFloat32, {5, 3}, 2)}});
  ASSERT_FALSE(shape.is_ok());
  EXPECT_EQ(shape.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(shape.status().message().find("float32[3,5]"), std::string::npos) << shape.status().to_string();
  auto dtype = (*ctx)->run({{"x", io::random_tensor(DataType::kFloat64, {3, 5}, 3)}});
  ASSERT_FALSE(dtype.is_ok());
  EXPECT_EQ(dtype.status().code(), StatusCode::kInvalidArgument);
  auto good = (*ctx)->run({{"x", x}});
  ASSERT_TRUE(good.is_ok()) << good.status().to_string();
  expect_same(reference(x), *good);
}

// A "CUDA" device on host memory with graphs: work enqueued while a stream is captured is
// recorded (only copies: the engines below have no layers), launch_graph replays it.
class FakeGraphDevice final : public runtime::Device {
 public:
  struct Graph {
    std::vector<std::function<void()>> work;
  };
  Backend backend() const override { return Backend::kCuda; }
  std::string name() const override { return "fake cuda with graphs"; }
  Result<void*> allocate(size_t bytes) override { return std::malloc(std::max<size_t>(bytes, 1)); }
  void free(void* p) override { std::free(p); }
  Result<void*> allocate_host(size_t bytes) override {
    ++host_allocations;
    return Device::allocate_host(bytes);
  }
  Status copy_host_to_device(void* d, const void* s, size_t n, Stream st) override { return copy(d, s, n, st); }
  Status copy_device_to_host(void* d, const void* s, size_t n, Stream st) override { return copy(d, s, n, st); }
  Status copy_device_to_device(void* d, const void* s, size_t n, Stream st) override { return copy(d, s, n, st); }
  Status memset_zero(void* d, size_t n, Stream) override {
    std::memset(d, 0, n);
    return Status::ok();
  }
  Result<Stream> create_stream() override { return Stream{&stream_tag}; }
  void destroy_stream(Stream) override {}
  Status synchronize(Stream) override {
    if (capturing) return internal_error("synchronize while capturing");
    return Status::ok();
  }
  Result<void*> create_backend_state(Stream) override { return static_cast<void*>(nullptr); }
  void destroy_backend_state(void*) override {}

  bool supports_graphs() const override { return true; }
  bool can_capture(Stream s) override { return s && !capturing; }
  Status begin_capture(Stream) override {
    ++begins;
    capturing = true;
    recorded.clear();
    return Status::ok();
  }
  Status end_capture(Stream, GraphExec& exec) override {
    capturing = false;
    if (fail_capture) {
      destroy_graph(exec);
      exec = nullptr;
      return internal_error("CUDA: cudaStreamEndCapture failed: operation not permitted when stream is capturing");
    }
    if (exec) {
      ++updates;
      static_cast<Graph*>(exec)->work = std::move(recorded);
    } else {
      ++instantiations;
      ++live;
      exec = new Graph{std::move(recorded)};
    }
    recorded.clear();
    return Status::ok();
  }
  Status launch_graph(GraphExec exec, Stream) override {
    ++launches;
    for (auto& w : static_cast<Graph*>(exec)->work) w();
    return Status::ok();
  }
  void destroy_graph(GraphExec exec) override {
    if (!exec) return;
    --live;
    delete static_cast<Graph*>(exec);
  }

  int stream_tag = 0;
  bool capturing = false, fail_capture = false;
  int begins = 0, instantiations = 0, updates = 0, launches = 0, live = 0, host_allocations = 0;
  std::vector<std::function<void()>> recorded;

 private:
  Status copy(void* d, const void* s, size_t n, Stream) {
    if (capturing) {
      recorded.push_back([d, s, n] { std::memmove(d, s, n); });
    } else if (n) {
      std::memmove(d, s, n);
    }
    return Status::ok();
  }
};

// x passes straight through to the output y: no layers, the output copy is the only work.
ir::Model pass_through_model() {
  ir::Model m;
  ir::Graph& g = *m.graph;
  g.set_opset("", 17);
  ir::Value* x = g.add_value("x", ir::ValueType::tensor(DataType::kFloat32, Shape{4, 6}));
  g.inputs().push_back(x);
  g.outputs() = {x};
  return m;
}

struct GraphPolicy : ::testing::Test {
  std::shared_ptr<FakeGraphDevice> dev = std::make_shared<FakeGraphDevice>();
  std::shared_ptr<runtime::Engine> engine;
  void SetUp() override {
    ir::Model m = pass_through_model();
    runtime::BuilderConfig c;
    c.backend = Backend::kCuda;
    auto e = runtime::Builder::build(m, c, dev);
    ASSERT_TRUE(e.is_ok()) << e.status().to_string();
    engine = e.value();
    ASSERT_EQ(engine->desc().layers.size(), 0u);
  }
  // One enqueue from buffer `in` to buffer `out` with fresh values; checks the result.
  Launch call(runtime::ExecutionContext& ctx, std::vector<float>& in, std::vector<float>& out, float seed,
              Stream stream) {
    for (size_t i = 0; i < in.size(); ++i) in[i] = seed + static_cast<float>(i);
    std::fill(out.begin(), out.end(), -1.0f);
    runtime::TensorRef a{DataType::kFloat32, {4, 6}, ir::Layout::kRowMajor, in.data()};
    runtime::TensorRef b{DataType::kFloat32, {4, 6}, ir::Layout::kRowMajor, out.data()};
    Status st = ctx.enqueue({a}, {b}, stream);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ(in, out) << "seed " << seed;
    return ctx.last_launch();
  }
};

TEST_F(GraphPolicy, FirstCallPlainSecondCapturesThenReplaysPerPointerSet) {
  auto ctx = engine->create_context();
  ASSERT_TRUE(ctx.is_ok());
  Stream s = &dev->stream_tag;
  std::vector<std::vector<float>> bufs(12, std::vector<float>(24));
  EXPECT_EQ(call(**ctx, bufs[0], bufs[1], 1, s), Launch::kPlain);
  EXPECT_EQ(call(**ctx, bufs[0], bufs[1], 2, s), Launch::kCaptured);
  EXPECT_EQ(call(**ctx, bufs[0], bufs[1], 3, s), Launch::kReplayed);
  EXPECT_EQ(call(**ctx, bufs[0], bufs[1], 4, s), Launch::kReplayed);
  EXPECT_EQ(dev->begins, 1);
  EXPECT_EQ(dev->launches, 3);
  // Another output buffer: a new set; the first set still replays.
  EXPECT_EQ(call(**ctx, bufs[0], bufs[2], 5, s), Launch::kPlain);
  EXPECT_EQ(call(**ctx, bufs[0], bufs[2], 6, s), Launch::kCaptured);
  EXPECT_EQ(call(**ctx, bufs[0], bufs[1], 7, s), Launch::kReplayed);
  EXPECT_EQ(call(**ctx, bufs[0], bufs[2], 8, s), Launch::kReplayed);
  EXPECT_EQ((*ctx)->cuda_graph_count(), 2u);
  // Sets 3..5 fill the cache (4 graphs); set 6 updates the least recently used graph in place.
  for (int k = 3; k <= 6; ++k) {
    EXPECT_EQ(call(**ctx, bufs[0], bufs[k], 10.0f * k, s), Launch::kPlain);
    EXPECT_EQ(call(**ctx, bufs[0], bufs[k], 10.0f * k + 1, s), Launch::kCaptured);
  }
  EXPECT_EQ((*ctx)->cuda_graph_count(), 4u);
  EXPECT_EQ(dev->instantiations, 4);
  EXPECT_EQ(dev->updates, 2);  // sets 5 and 6 replaced the graphs of sets 1 and 2
  EXPECT_EQ(call(**ctx, bufs[0], bufs[1], 99, s), Launch::kPlain);
  EXPECT_EQ(call(**ctx, bufs[0], bufs[6], 98, s), Launch::kReplayed);
  EXPECT_EQ(dev->live, 4);
  ctx.value().reset();
  EXPECT_EQ(dev->live, 0) << "~ExecutionContext destroys its graphs";
}

TEST_F(GraphPolicy, OptOutsAndUncapturableStreamsRunPlainly) {
  auto ctx = engine->create_context();
  ASSERT_TRUE(ctx.is_ok());
  Stream s = &dev->stream_tag;
  std::vector<float> in(24), out(24);
  (*ctx)->set_cuda_graphs(false);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(call(**ctx, in, out, static_cast<float>(i), s), Launch::kPlain);
  (*ctx)->set_cuda_graphs(true);
  (*ctx)->set_layer_hook([](size_t, bool, Stream) {});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(call(**ctx, in, out, static_cast<float>(i), s), Launch::kPlain);
  (*ctx)->set_layer_hook(nullptr);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(call(**ctx, in, out, static_cast<float>(i), nullptr), Launch::kPlain);
  EXPECT_EQ(dev->begins, 0);
  EXPECT_EQ(call(**ctx, in, out, 10, s), Launch::kPlain);
  EXPECT_EQ(call(**ctx, in, out, 11, s), Launch::kCaptured);
}

TEST_F(GraphPolicy, AFailedCaptureTurnsGraphsOffForTheContextOnly) {
  auto ctx = engine->create_context(), other = engine->create_context();
  ASSERT_TRUE(ctx.is_ok() && other.is_ok());
  Stream s = &dev->stream_tag;
  std::vector<float> in(24), out(24);
  EXPECT_EQ(call(**ctx, in, out, 1, s), Launch::kPlain);
  dev->fail_capture = true;
  EXPECT_EQ(call(**ctx, in, out, 2, s), Launch::kPlain);  // the capture failed: ran plainly, right values
  EXPECT_NE((*ctx)->cuda_graph_error().find("cudaStreamEndCapture"), std::string::npos) << (*ctx)->cuda_graph_error();
  dev->fail_capture = false;
  for (int i = 3; i < 6; ++i) EXPECT_EQ(call(**ctx, in, out, static_cast<float>(i), s), Launch::kPlain);
  EXPECT_EQ(dev->begins, 1) << "no second attempt";
  EXPECT_EQ((*ctx)->cuda_graph_count(), 0u);
  EXPECT_EQ(dev->live, 0);
  EXPECT_EQ(call(**other, in, out, 7, s), Launch::kPlain);
  EXPECT_EQ(call(**other, in, out, 8, s), Launch::kCaptured);
  EXPECT_EQ((*other)->cuda_graph_error(), "");
}

TEST_F(GraphPolicy, RunStagesThroughHostBuffersAndReplays) {
  auto ctx = engine->create_context();
  ASSERT_TRUE(ctx.is_ok());
  const Launch expected[] = {Launch::kPlain, Launch::kCaptured, Launch::kReplayed, Launch::kReplayed};
  for (int it = 0; it < 4; ++it) {
    Tensor x = io::random_tensor(DataType::kFloat32, {4, 6}, 50 + it);
    auto got = (*ctx)->run({{"x", x}});
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    ASSERT_EQ(got->size(), 1u);
    EXPECT_EQ(std::memcmp((*got)[0].raw(), x.raw(), x.nbytes()), 0) << "call " << it;
    EXPECT_EQ((*ctx)->last_launch(), expected[it]) << "call " << it;
  }
  EXPECT_EQ(dev->host_allocations, 2) << "one staging buffer per binding, allocated once";
  auto bad = (*ctx)->run({{"x", io::random_tensor(DataType::kFloat32, {4, 5}, 1)}});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kiln
