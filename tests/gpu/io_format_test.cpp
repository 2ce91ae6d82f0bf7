// Engine I/O formats on CUDA (kiln build --io-dtype float16 --input-layout nhwc; docs/PIPELINE.md):
// a CNN whose image input is bound channels-last float16 must lower with no layer before its
// first convolution (the convolution reads the caller's buffer as it is), and every call (plain,
// captured into a CUDA graph, replayed; outputs poisoned before each) must match the CPU
// reference of the model fed the same values in its own form; the input buffer stays unchanged.
// Also float32 NHWC inputs in an FP16 build (the precision Cast runs NHWC to NHWC).
// KILN_GPU_TESTS_LOWER_ONLY=1 (no GPU): only the lowering is checked.
// Run: ./build/kiln_gpu_tests --gtest_filter='*IoFormat*'
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "backends/cpu/interpreter.h"
#include "io/random_inputs.h"
#include "ops/shape_inference.h"
#include "runtime/builder.h"
#include "runtime/execution_context.h"
#include "runtime/io_format.h"
#include "max_rel_error.h"

namespace kiln::gpu_test {
namespace {

using Launch = runtime::ExecutionContext::Launch;

struct IoCase {
  std::string name;
  int64_t c;             // input channels (3: the padded-stem tactic; 16: plain cuDNN)
  DataType io_dtype;     // kFloat16 (--io-dtype float16) or kFloat32 (float32 NHWC binding)
  std::string first_op;  // the first layer's op
};

std::ostream& operator<<(std::ostream& os, const IoCase& c) { return os << c.name; }

// x [2,C,20,20] -> Conv 3x3 (+bias) -> Relu -> MaxPool 2x2 -> Conv 1x1 -> GlobalAveragePool -> y.
std::shared_ptr<ir::Graph> make_model(int64_t c) {
  auto g = std::make_shared<ir::Graph>("io_format");
  g->set_opset("", 17);
  ir::Value* x = g->add_value("x", ir::ValueType::tensor(DataType::kFloat32, Shape::from_dims({2, c, 20, 20})));
  g->inputs().push_back(x);
  auto constant = [&](const char* name, std::vector<int64_t> dims, uint64_t seed, float scale) {
    Tensor t = io::random_tensor(DataType::kFloat32, dims, seed);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] *= scale;
    return g->add_constant(name, t);
  };
  auto v = [&](const char* name) { return g->add_value(name, ir::ValueType::unknown()); };
  ir::Node* c1 = g->add_node("Conv", {x, constant("w1", {32, c, 3, 3}, 11, 0.2f), constant("b1", {32}, 12, 0.1f)},
                             {v("c1")}, "conv1");
  c1->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
  g->add_node("Relu", {g->find_value("c1")}, {v("r1")}, "relu");
  ir::Node* pool = g->add_node("MaxPool", {g->find_value("r1")}, {v("p1")}, "pool");
  pool->attrs().set("kernel_shape", std::vector<int64_t>{2, 2});
  pool->attrs().set("strides", std::vector<int64_t>{2, 2});
  g->add_node("Conv", {g->find_value("p1"), constant("w2", {16, 32, 1, 1}, 13, 0.2f)}, {v("c2")}, "conv2");
  g->add_node("GlobalAveragePool", {g->find_value("c2")}, {v("y")}, "gap");
  g->outputs() = {g->find_value("y")};
  Status st = ops::infer_shapes(*g);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return g;
}

runtime::BuilderConfig config_for(const IoCase& c) {
  runtime::BuilderConfig config;
  config.backend = runtime::Backend::kCuda;
  config.fp16 = true;
  config.io_dtype = c.io_dtype;
  config.input_layout = ir::Layout::kNHWC;
  return config;
}

bool lower_only() {
  const char* env = std::getenv("KILN_GPU_TESTS_LOWER_ONLY");
  return env && *env == '1';
}

// The first layer reads the binding: no Transpose, Reformat (or, with float16 I/O, Cast) before it.
void expect_first_layer(const plan::EngineDesc& d, const IoCase& c) {
  ASSERT_FALSE(d.graph->nodes().empty());
  const ir::Node& first = *d.graph->nodes()[0];
  EXPECT_EQ(first.op_type(), c.first_op) << first.describe();
  EXPECT_EQ(first.input(0), d.graph->inputs()[0]);
  EXPECT_EQ(d.graph->inputs()[0]->type().layout, ir::Layout::kNHWC);
  for (const auto& n : d.graph->nodes()) EXPECT_NE(n->op_type(), "Transpose") << n->describe();
}

class IoFormat : public ::testing::TestWithParam<IoCase> {};

TEST_P(IoFormat, ChannelsLastBindingMatchesTheModel) {
  const IoCase& c = GetParam();
  ir::Model model;
  model.graph = make_model(c.c);
  if (lower_only()) {
    auto target = runtime::target_for_arch(runtime::Backend::kCuda, "sm_90");
    ASSERT_TRUE(target.is_ok());
    auto desc = runtime::Builder::build_desc(model, config_for(c), *target);
    ASSERT_TRUE(desc.is_ok()) << desc.status().to_string();
    expect_first_layer(*desc, c);
    GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  }
  auto engine = runtime::Builder::build(model, config_for(c));
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  const runtime::Engine& e = **engine;
  expect_first_layer(e.desc(), c);
  const runtime::BindingInfo& in = e.inputs()[0];
  const runtime::BindingInfo& out = e.outputs()[0];
  ASSERT_EQ(in.dims, (std::vector<int64_t>{2, 20, 20, c.c}));
  ASSERT_EQ(in.dtype, c.io_dtype);
  ASSERT_EQ(in.layout, ir::Layout::kNHWC);

  auto interp = cpu::Interpreter::create(make_model(c.c));
  ASSERT_TRUE(interp.is_ok());
  auto ctx = e.create_context();
  ASSERT_TRUE(ctx.is_ok()) << ctx.status().to_string();
  runtime::Device& dev = e.device();
  auto d_in = dev.allocate(in.nbytes), d_out = dev.allocate(out.nbytes);
  auto stream = dev.create_stream();
  ASSERT_TRUE(d_in.is_ok() && d_out.is_ok() && stream.is_ok());
  const Launch expected[] = {Launch::kPlain, Launch::kCaptured, Launch::kReplayed};
  for (int it = 0; it < 3; ++it) {
    SCOPED_TRACE("call " + std::to_string(it));
    Tensor x_model = io::random_tensor(DataType::kFloat32, {2, c.c, 20, 20}, 700 + it);
    auto x = runtime::to_binding_form(x_model, in);
    ASSERT_TRUE(x.is_ok()) << x.status().to_string();
    auto x_ref = runtime::to_model_form(*x, in, DataType::kFloat32);  // the same (rounded) values
    ASSERT_TRUE(x_ref.is_ok());
    auto want = (*interp)->run(std::map<std::string, RuntimeValue>{{"x", RuntimeValue(*x_ref)}});
    ASSERT_TRUE(want.is_ok()) << want.status().to_string();
    ASSERT_TRUE(dev.copy_host_to_device(*d_in, x->raw(), in.nbytes, *stream).is_ok());
    ASSERT_EQ(cudaMemsetAsync(*d_out, 0xFF, out.nbytes, static_cast<cudaStream_t>(*stream)), cudaSuccess);
    Status st = (*ctx)->enqueue({{in.dtype, in.dims, ir::Layout::kRowMajor, *d_in}},
                                {{out.dtype, out.dims, ir::Layout::kRowMajor, *d_out}}, *stream);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    Tensor got(out.dtype, out.dims), x_after(in.dtype, in.dims);
    ASSERT_TRUE(dev.copy_device_to_host(got.raw(), *d_out, out.nbytes, *stream).is_ok());
    ASSERT_TRUE(dev.copy_device_to_host(x_after.raw(), *d_in, in.nbytes, *stream).is_ok());
    ASSERT_TRUE(dev.synchronize(*stream).is_ok());
    EXPECT_EQ((*ctx)->last_launch(), expected[it]);
    EXPECT_EQ(std::memcmp(x_after.raw(), x->raw(), in.nbytes), 0) << "the input binding was written";
    auto widened = runtime::to_model_form(got, out, DataType::kFloat32);
    ASSERT_TRUE(widened.is_ok());
    EXPECT_LE(max_rel_error(*widened, (*want)[0].tensor()), 2e-2);
  }
  dev.free(*d_in);
  dev.free(*d_out);
  dev.destroy_stream(*stream);
}

INSTANTIATE_TEST_SUITE_P(Cases, IoFormat,
                         ::testing::Values(IoCase{"rgb_f16_io", 3, DataType::kFloat16, "FusedConv"},
                                           IoCase{"c16_f16_io", 16, DataType::kFloat16, "FusedConv"},
                                           IoCase{"rgb_f32_nhwc", 3, DataType::kFloat32, "Cast"},
                                           IoCase{"c16_f32_nhwc", 16, DataType::kFloat32, "Cast"}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::gpu_test
