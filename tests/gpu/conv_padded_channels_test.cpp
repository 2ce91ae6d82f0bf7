// cuda.cudnn.conv_padded: convolutions over 1-3 input channels, channels-last float16/bfloat16,
// run by cuDNN on the input padded to 4 channels (src/backends/cuda/conv_cudnn.cpp). Whole
// engines built as `kiln build --fp16` builds them (the model's Conv + Relu becomes a
// channels-last FusedConv fed by the fused cast/reformat of the float32 NCHW input): the conv
// layer must use the padded tactic, and every call (plain, captured into a CUDA graph, replayed;
// outputs poisoned before each) must match the CPU reference; with the tactic disabled the
// plain cuda.cudnn.conv runs and agrees. Stored plans: restored on load, and never taken across
// the padded and plain forms. Nodes the tactic must leave alone are checked by lowering only.
// KILN_GPU_TESTS_LOWER_ONLY=1 (no GPU): only the tactic choices are checked.
// Run: ./build/kiln_gpu_tests --gtest_filter='ConvPadded*'
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "backends/cpu/interpreter.h"
#include "io/random_inputs.h"
#include "ops/shape_inference.h"
#include "plan/engine_format.h"
#include "runtime/builder.h"
#include "runtime/execution_context.h"
#include "max_rel_error.h"

namespace kiln::gpu_test {
namespace {

using Launch = runtime::ExecutionContext::Launch;
using runtime::LayerLoadTime;

constexpr const char* kPadded = "cuda.cudnn.conv_padded";
constexpr const char* kPlain = "cuda.cudnn.conv";

struct PadCase {
  std::string name;
  int64_t n, c, h, w, k, kernel, stride, pad, dilation;
  bool bias, relu;
  DataType precision;  // kFloat16 (--fp16) or kBFloat16 (--bf16)
  double tol;          // relative to max|reference|
};

std::ostream& operator<<(std::ostream& os, const PadCase& p) { return os << p.name; }

std::vector<PadCase> pad_cases() {
  const auto f16 = DataType::kFloat16, b16 = DataType::kBFloat16;
  return {
      // ResNet's stem (7x7/2, pad 3, 3 -> 64, bias + ReLU) at odd sizes, and at its real size.
      {"stem_c3_odd", 2, 3, 37, 41, 64, 7, 2, 3, 1, true, true, f16, 1e-2},
      {"stem_c3_224", 2, 3, 224, 224, 64, 7, 2, 3, 1, true, true, f16, 1e-2},
      {"c1_5x5", 3, 1, 23, 19, 16, 5, 1, 2, 1, true, true, f16, 1e-2},
      {"c2_3x3_s2_d2_nobias", 2, 2, 17, 17, 24, 3, 2, 1, 2, false, false, f16, 1e-2},
      {"c3_relu_nobias", 1, 3, 15, 9, 8, 3, 1, 1, 1, false, true, f16, 1e-2},
      {"stem_c3_bf16", 2, 3, 29, 29, 32, 7, 2, 3, 1, true, true, b16, 4e-2},
  };
}

// x [N,C,H,W] float32 -> Conv (weights, bias constant) -> Relu -> y.
std::shared_ptr<ir::Graph> make_model(const PadCase& p) {
  auto g = std::make_shared<ir::Graph>("conv_padded_" + p.name);
  g->set_opset("", 17);
  ir::Value* x = g->add_value("x", ir::ValueType::tensor(DataType::kFloat32, Shape::from_dims({p.n, p.c, p.h, p.w})));
  g->inputs().push_back(x);
  auto constant = [&](const char* name, std::vector<int64_t> dims, uint64_t seed, float scale) {
    Tensor t = io::random_tensor(DataType::kFloat32, dims, seed);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] *= scale;
    return g->add_constant(name, t);
  };
  std::vector<ir::Value*> ins = {x, constant("w", {p.k, p.c, p.kernel, p.kernel}, 101, 0.2f)};
  if (p.bias) ins.push_back(constant("b", {p.k}, 102, 0.1f));
  ir::Value* conv = g->add_value(p.relu ? "conv" : "y", ir::ValueType::unknown());
  ir::Node* node = g->add_node("Conv", ins, {conv}, "conv");
  node->attrs().set("kernel_shape", std::vector<int64_t>{p.kernel, p.kernel});
  node->attrs().set("strides", std::vector<int64_t>{p.stride, p.stride});
  node->attrs().set("pads", std::vector<int64_t>{p.pad, p.pad, p.pad, p.pad});
  node->attrs().set("dilations", std::vector<int64_t>{p.dilation, p.dilation});
  ir::Value* y = conv;
  if (p.relu) {
    y = g->add_value("y", ir::ValueType::unknown());
    g->add_node("Relu", {conv}, {y}, "relu");
  }
  g->outputs() = {y};
  Status st = ops::infer_shapes(*g);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return g;
}

runtime::BuilderConfig config_for(DataType precision, bool padded) {
  runtime::BuilderConfig c;
  c.backend = runtime::Backend::kCuda;
  c.fp16 = precision == DataType::kFloat16;
  c.bf16 = precision == DataType::kBFloat16;
  if (!padded) c.disabled_tactics = {kPadded};
  return c;
}

// The tactic of the engine's convolution layer ("" when there is none, "several" for two).
std::string conv_tactic(const plan::EngineDesc& d) {
  std::string found;
  for (size_t i = 0; i < d.layers.size() && i < d.graph->nodes().size(); ++i) {
    const std::string& op = d.graph->nodes()[i]->op_type();
    if (op != "Conv" && op != "FusedConv") continue;
    found = found.empty() ? d.layers[i].tactic : "several";
  }
  return found;
}

bool lower_only() {
  const char* env = std::getenv("KILN_GPU_TESTS_LOWER_ONLY");
  return env && *env == '1';
}

// The tactic the builder picks for the model's convolution, lowering for sm_90 (no GPU).
std::string lowered_tactic(std::shared_ptr<ir::Graph> graph, const runtime::BuilderConfig& config) {
  ir::Model model;
  model.graph = std::move(graph);
  auto target = runtime::target_for_arch(runtime::Backend::kCuda, "sm_90");
  EXPECT_TRUE(target.is_ok()) << target.status().to_string();
  if (!target.is_ok()) return "";
  auto desc = runtime::Builder::build_desc(model, config, *target);
  EXPECT_TRUE(desc.is_ok()) << desc.status().to_string();
  return desc.is_ok() ? conv_tactic(*desc) : "";
}

Tensor reference(const PadCase& p, const Tensor& x) {
  auto interp = cpu::Interpreter::create(make_model(p));
  EXPECT_TRUE(interp.is_ok()) << interp.status().to_string();
  if (!interp.is_ok()) return {};
  auto out = (*interp)->run(std::map<std::string, RuntimeValue>{{"x", RuntimeValue(x)}});
  EXPECT_TRUE(out.is_ok()) << out.status().to_string();
  return out.is_ok() ? (*out)[0].tensor() : Tensor();
}

std::shared_ptr<runtime::Engine> build(const PadCase& p, bool padded) {
  ir::Model model;
  model.graph = make_model(p);
  auto engine = runtime::Builder::build(model, config_for(p.precision, padded));
  EXPECT_TRUE(engine.is_ok()) << engine.status().to_string();
  if (!engine.is_ok()) return nullptr;
  EXPECT_EQ(conv_tactic((*engine)->desc()), padded ? kPadded : kPlain);
  return *engine;
}

// Device input and output of one engine, and a stream CUDA graphs can capture.
struct DeviceRun {
  runtime::Device& dev;
  void* x = nullptr;
  void* y = nullptr;
  runtime::Stream stream = nullptr;
  explicit DeviceRun(const runtime::Engine& e) : dev(e.device()) {
    auto a = dev.allocate(e.inputs()[0].nbytes), b = dev.allocate(e.outputs()[0].nbytes);
    auto s = dev.create_stream();
    EXPECT_TRUE(a.is_ok() && b.is_ok() && s.is_ok());
    if (a.is_ok()) x = *a;
    if (b.is_ok()) y = *b;
    if (s.is_ok()) stream = *s;
  }
  ~DeviceRun() {
    if (x) dev.free(x);
    if (y) dev.free(y);
    if (stream) dev.destroy_stream(stream);
  }
  bool ok() const { return x && y && stream; }

  // Input up, output poisoned (0xFF bytes: NaN), enqueue, output down, wait.
  Status call(runtime::ExecutionContext& ctx, const Tensor& in, Tensor& out) {
    const runtime::Engine& e = ctx.engine();
    const auto& ib = e.inputs()[0];
    const auto& ob = e.outputs()[0];
    KILN_RETURN_IF_ERROR(dev.copy_host_to_device(x, in.raw(), in.nbytes(), stream));
    if (cudaMemsetAsync(y, 0xFF, ob.nbytes, static_cast<cudaStream_t>(stream)) != cudaSuccess)
      return internal_error("poisoning the output failed");
    KILN_RETURN_IF_ERROR(ctx.enqueue({{ib.dtype, ib.dims, ir::Layout::kRowMajor, x}},
                                     {{ob.dtype, ob.dims, ir::Layout::kRowMajor, y}}, stream));
    out = Tensor(ob.dtype, ob.dims);
    KILN_RETURN_IF_ERROR(dev.copy_device_to_host(out.raw(), y, out.nbytes(), stream));
    return dev.synchronize(stream);
  }
};

class ConvPadded : public ::testing::TestWithParam<PadCase> {};

TEST_P(ConvPadded, MatchesReferenceInPlainCapturedAndReplayedCalls) {
  const PadCase& p = GetParam();
  if (lower_only()) {
    EXPECT_EQ(lowered_tactic(make_model(p), config_for(p.precision, true)), kPadded);
    EXPECT_EQ(lowered_tactic(make_model(p), config_for(p.precision, false)), kPlain);
    GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  }
  auto padded = build(p, true), plain = build(p, false);
  ASSERT_TRUE(padded && plain);
  auto ctx = padded->create_context(), plain_ctx = plain->create_context();
  ASSERT_TRUE(ctx.is_ok() && plain_ctx.is_ok());
  DeviceRun run(*padded), plain_run(*plain);
  ASSERT_TRUE(run.ok() && plain_run.ok());
  const Launch expected[] = {Launch::kPlain, Launch::kCaptured, Launch::kReplayed};
  for (int it = 0; it < 3; ++it) {
    SCOPED_TRACE("call " + std::to_string(it));
    Tensor x = io::random_tensor(DataType::kFloat32, {p.n, p.c, p.h, p.w}, 900 + it);
    Tensor want = reference(p, x), got, got_plain;
    Status st = run.call(**ctx, x, got);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ((*ctx)->last_launch(), expected[it]) << (*ctx)->cuda_graph_error();
    EXPECT_LE(max_rel_error(got, want), p.tol) << "padded form vs the CPU reference";
    st = plain_run.call(**plain_ctx, x, got_plain);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_LE(max_rel_error(got_plain, want), p.tol) << "plain form vs the CPU reference";
    EXPECT_LE(max_rel_error(got, got_plain), p.tol) << "padded form vs the plain form";
  }
  EXPECT_EQ((*ctx)->cuda_graph_error(), "");
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

INSTANTIATE_TEST_SUITE_P(Cases, ConvPadded, ::testing::ValuesIn(pad_cases()),
                         [](const auto& info) { return info.param.name; });

// Loads `bytes`, checks one call against the reference and returns the conv layer's state.
LayerLoadTime::State load_and_check(const PadCase& p, const std::vector<uint8_t>& bytes, const char* tactic) {
  runtime::LoadProfile profile;
  auto engine = runtime::Engine::load(bytes, nullptr, &profile);
  EXPECT_TRUE(engine.is_ok()) << engine.status().to_string();
  if (!engine.is_ok()) return LayerLoadTime::State::kNone;
  EXPECT_EQ(conv_tactic((*engine)->desc()), tactic);
  auto ctx = (*engine)->create_context();
  EXPECT_TRUE(ctx.is_ok()) << ctx.status().to_string();
  if (ctx.is_ok()) {
    Tensor x = io::random_tensor(DataType::kFloat32, {p.n, p.c, p.h, p.w}, 77);
    auto got = (*ctx)->run({{"x", x}});
    EXPECT_TRUE(got.is_ok()) << got.status().to_string();
    if (got.is_ok()) {
      EXPECT_LE(max_rel_error((*got)[0], reference(p, x)), p.tol);
    }
  }
  LayerLoadTime::State state = LayerLoadTime::State::kNone;
  for (const auto& l : profile.layers)
    if (l.tactic == tactic) state = l.state;
  return state;
}

// The engine's bytes with its convolution layer's stored state replaced.
std::vector<uint8_t> with_conv_state(const std::vector<uint8_t>& bytes, const std::vector<uint8_t>& state) {
  auto desc = plan::read_engine_any_target(plan::engine_bytes(bytes));
  EXPECT_TRUE(desc.is_ok()) << desc.status().to_string();
  if (!desc.is_ok()) return {};
  for (size_t i = 0; i < desc->layers.size(); ++i) {
    const std::string& op = desc->graph->nodes()[i]->op_type();
    if (op == "Conv" || op == "FusedConv") desc->layers[i].kernel_state = state;
  }
  auto out = plan::write_engine(*desc);
  EXPECT_TRUE(out.is_ok()) << out.status().to_string();
  return out.is_ok() ? *out : std::vector<uint8_t>{};
}

std::vector<uint8_t> conv_state(const runtime::Engine& e) {
  for (size_t i = 0; i < e.desc().layers.size(); ++i) {
    const std::string& op = e.desc().graph->nodes()[i]->op_type();
    if (op == "Conv" || op == "FusedConv") return e.desc().layers[i].kernel_state;
  }
  return {};
}

// The padded form's plan is stored and restored; a plan of the plain form (same node, 3
// channels) is never used for the padded one, nor the padded one's for the plain form: their
// fingerprints differ, so each rebuilds and still computes the reference.
TEST(ConvPaddedState, RestoredAndNeverTakenAcrossForms) {
  const PadCase p = pad_cases()[0];
  if (lower_only()) GTEST_SKIP() << "needs a GPU (the tactic choice is checked by ConvPadded)";
  auto padded = build(p, true), plain = build(p, false);
  ASSERT_TRUE(padded && plain);
  auto padded_bytes = padded->serialize(), plain_bytes = plain->serialize();
  ASSERT_TRUE(padded_bytes.is_ok() && plain_bytes.is_ok());
  std::vector<uint8_t> padded_state = conv_state(*padded), plain_state = conv_state(*plain);
  ASSERT_FALSE(padded_state.empty());
  ASSERT_FALSE(plain_state.empty());
  EXPECT_NE(padded_state, plain_state);

  EXPECT_EQ(load_and_check(p, *padded_bytes, kPadded), LayerLoadTime::State::kRestored);
  EXPECT_EQ(load_and_check(p, *plain_bytes, kPlain), LayerLoadTime::State::kRestored);
  EXPECT_EQ(load_and_check(p, with_conv_state(*padded_bytes, plain_state), kPadded), LayerLoadTime::State::kRebuilt);
  EXPECT_EQ(load_and_check(p, with_conv_state(*plain_bytes, padded_state), kPlain), LayerLoadTime::State::kRebuilt);
}

// Lowering only (no GPU needed): nodes the padded form must leave to other tactics.
TEST(ConvPaddedChoice, LeavesOtherConvolutionsAlone) {
  auto tactic = [](PadCase p, runtime::BuilderConfig config) { return lowered_tactic(make_model(p), config); };
  const PadCase base = pad_cases()[0];
  PadCase c4 = base;  // already a multiple of 4 channels
  c4.c = 4;
  EXPECT_EQ(tactic(c4, config_for(DataType::kFloat16, true)), kPlain);
  PadCase pointwise = base;  // 1x1: a product over 3 channels
  pointwise.kernel = 1;
  pointwise.stride = 1;
  pointwise.pad = 0;
  EXPECT_NE(tactic(pointwise, config_for(DataType::kFloat16, true)), kPadded);
  runtime::BuilderConfig tf32;  // float32 (channels-last under TF32): not padded
  tf32.backend = runtime::Backend::kCuda;
  tf32.tf32 = true;
  EXPECT_EQ(tactic(base, tf32), kPlain);
  runtime::BuilderConfig row_major = config_for(DataType::kFloat16, true);  // NCHW: not padded
  row_major.disabled_passes = {"channels-last"};
  EXPECT_EQ(tactic(base, row_major), kPlain);
}

}  // namespace
}  // namespace kiln::gpu_test
