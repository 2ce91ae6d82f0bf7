// Engine I/O formats end to end on the CPU backend (runtime/io_format.h): float16 NHWC bindings
// built, saved, loaded and run against the model; the conversions; the refusals.
#include "runtime/io_format.h"

#include <cstring>

#include "plan/checksum.h"
#include "runtime/builder.h"
#include "runtime/execution_context.h"
#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

using ir::Layout;

// X [batch,3,8,8] -> Conv -> Relu -> GlobalAveragePool -> Flatten -> MatMul = Y [batch,5].
onnx::ModelProto cnn(int64_t batch = 2) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {batch, 3, 8, 8});
  if (batch < 0) m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->set_dim_param("batch");
  add_initializer(g, "W1", {8, 3, 3, 3});
  add_initializer(g, "Wfc", {8, 5});
  attr_ints(add_node(g, "Conv", {"X", "W1"}, {"c1"}), "pads", {1, 1, 1, 1});
  add_node(g, "Relu", {"c1"}, {"r1"});
  add_node(g, "GlobalAveragePool", {"r1"}, {"gap"});
  add_node(g, "Flatten", {"gap"}, {"flat"});
  add_node(g, "MatMul", {"flat", "Wfc"}, {"Y"});
  float_output(m, "Y");
  return m;
}

runtime::BuilderConfig io_config() {
  runtime::BuilderConfig c;
  c.fp16 = true;
  c.io_dtype = DataType::kFloat16;
  c.input_layout = Layout::kNHWC;
  return c;
}

std::shared_ptr<runtime::Engine> build(const onnx::ModelProto& proto, const runtime::BuilderConfig& config) {
  auto m = import(proto);
  EXPECT_TRUE(m.is_ok()) << m.status().to_string();
  if (!m.is_ok()) return nullptr;
  auto e = runtime::Builder::build(m.value(), config);
  EXPECT_TRUE(e.is_ok()) << e.status().to_string();
  return e.is_ok() ? e.value() : nullptr;
}

TEST(IoFormat, ChannelsLastConversionsRoundTrip) {
  Tensor t(DataType::kInt32, {2, 3, 2, 4});
  for (int i = 0; i < 48; ++i) t.data<int32_t>()[i] = i;
  Tensor nhwc = runtime::nchw_to_nhwc(t);
  EXPECT_EQ(nhwc.dims(), (std::vector<int64_t>{2, 2, 4, 3}));
  // nhwc[n,h,w,c] = t[n,c,h,w]: n=1, h=1, w=2, c=2 -> 24 + 2*8 + 1*4 + 2.
  EXPECT_EQ(nhwc.data<int32_t>()[((1 * 2 + 1) * 4 + 2) * 3 + 2], 24 + 16 + 4 + 2);
  Tensor back = runtime::nhwc_to_nchw(nhwc);
  EXPECT_EQ(back.dims(), t.dims());
  EXPECT_EQ(std::memcmp(back.raw(), t.raw(), t.nbytes()), 0);
  EXPECT_THROW(runtime::nchw_to_nhwc(Tensor(DataType::kFloat32, {2, 3})), Error);
}

TEST(IoFormat, Float16ChannelsLastEngineMatchesTheModel) {
  auto engine = build(cnn(), io_config());
  ASSERT_TRUE(engine);
  ASSERT_EQ(engine->inputs().size(), 1u);
  const runtime::BindingInfo& in = engine->inputs()[0];
  EXPECT_EQ(in.name, "X");
  EXPECT_EQ(in.dtype, DataType::kFloat16);
  EXPECT_EQ(in.dims, (std::vector<int64_t>{2, 8, 8, 3}));
  EXPECT_EQ(in.layout, Layout::kNHWC);
  EXPECT_EQ(in.nbytes, 2u * 8 * 8 * 3 * 2);
  EXPECT_EQ(runtime::binding_type(in), "float16[2,8,8,3] (channels-last: NHWC)");
  EXPECT_EQ(engine->outputs()[0].dtype, DataType::kFloat16);
  for (const auto& n : engine->desc().graph->nodes()) EXPECT_NE(n->op_type(), "Cast") << n->describe();

  // Saved and loaded: the same bindings and settings.
  auto bytes = engine->serialize();
  ASSERT_TRUE(bytes.is_ok());
  auto loaded = runtime::Engine::load(bytes.value());
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  const runtime::Engine& e = *loaded.value();
  EXPECT_EQ(e.desc().config.io_dtype, DataType::kFloat16);
  EXPECT_EQ(e.desc().config.input_layout, Layout::kNHWC);
  EXPECT_EQ(e.inputs()[0].dims, in.dims);
  EXPECT_EQ(e.inputs()[0].layout, Layout::kNHWC);
  EXPECT_EQ(e.outputs()[0].dtype, DataType::kFloat16);

  // Runs like the model: the same values fed in both forms.
  auto model = import(cnn());
  ASSERT_TRUE(model.is_ok());
  Tensor x = io::random_tensor(DataType::kFloat32, {2, 3, 8, 8}, 3);
  auto bound = runtime::to_binding_form(x, e.inputs()[0]);
  ASSERT_TRUE(bound.is_ok()) << bound.status().to_string();
  auto as_model = runtime::to_model_form(bound.value(), e.inputs()[0], DataType::kFloat32);
  ASSERT_TRUE(as_model.is_ok());
  auto want = cpu::Interpreter::create(model->graph).value()->run(
      std::map<std::string, RuntimeValue>{{"X", RuntimeValue(as_model.value())}});
  ASSERT_TRUE(want.is_ok()) << want.status().to_string();
  auto ctx = e.create_context();
  ASSERT_TRUE(ctx.is_ok());
  auto got = ctx.value()->run({{"X", bound.value()}});
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  auto widened = runtime::to_model_form(got.value()[0], e.outputs()[0], DataType::kFloat32);
  ASSERT_TRUE(widened.is_ok());
  auto c = io::compare_values(want.value()[0], RuntimeValue(widened.value()), 2e-2, 2e-3);
  EXPECT_TRUE(c.ok) << c.message;

  // The model's form is refused, naming what the binding takes.
  auto wrong = ctx.value()->run({{"X", x}});
  ASSERT_FALSE(wrong.is_ok());
  EXPECT_NE(wrong.status().message().find("expects float16[2,8,8,3] (channels-last"), std::string::npos)
      << wrong.status().message();
}

TEST(IoFormat, SymbolicBatchBindsAfterTheLayout) {
  runtime::BuilderConfig c = io_config();
  c.dims["batch"] = 3;
  auto engine = build(cnn(-1), c);
  ASSERT_TRUE(engine);
  EXPECT_EQ(engine->inputs()[0].dims, (std::vector<int64_t>{3, 8, 8, 3}));
  EXPECT_EQ(engine->outputs()[0].dims, (std::vector<int64_t>{3, 5}));
}

TEST(IoFormat, IoDtypeMustBeTheBuildPrecision) {
  auto m = import(cnn());
  ASSERT_TRUE(m.is_ok());
  runtime::BuilderConfig c;
  c.io_dtype = DataType::kFloat16;
  auto r = runtime::Builder::build(m.value(), c);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("--io-dtype float16 needs --fp16"), std::string::npos) << r.status().message();
  c.fp16 = true;
  c.io_dtype = DataType::kBFloat16;
  r = runtime::Builder::build(m.value(), c);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("--io-dtype bfloat16 needs --bf16"), std::string::npos) << r.status().message();
}

TEST(IoFormat, ReaderChecksChannelsLastBindings) {
  // A CUDA engine tags an absorbed input kNHWC; tag the CPU desc's input by hand to read it back.
  auto m = import(cnn());
  ASSERT_TRUE(m.is_ok());
  runtime::BuilderConfig c;
  auto cpu = runtime::make_device(runtime::Backend::kCpu);
  ASSERT_TRUE(cpu.is_ok());
  auto desc = runtime::Builder::build_desc(m.value(), c, cpu.value()->target());
  ASSERT_TRUE(desc.is_ok()) << desc.status().to_string();
  desc->graph->inputs()[0]->type().layout = Layout::kNHWC;
  auto bytes = plan::write_engine(desc.value());
  ASSERT_TRUE(bytes.is_ok());
  auto read = plan::read_engine_any_target(plan::engine_bytes(bytes.value()));
  ASSERT_TRUE(read.is_ok()) << read.status().to_string();
  EXPECT_EQ(read->graph->inputs()[0]->type().layout, Layout::kNHWC);
  runtime::BindingInfo b = runtime::input_binding(*read->graph->inputs()[0], read->config.input_layout);
  EXPECT_EQ(b.dims, (std::vector<int64_t>{2, 8, 8, 3}));

  // Format version 2 has no channels-last bindings.
  auto old = bytes.value();
  uint32_t v2 = 2;
  std::memcpy(old.data() + 4, &v2, 4);
  uint64_t sum = plan::engine_checksum(old.data(), old.size());
  std::memcpy(old.data() + 8, &sum, 8);
  auto refused = plan::read_engine_any_target(plan::engine_bytes(old));
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.status().message().find("format version 2 does not have"), std::string::npos)
      << refused.status().message();

  // Only rank-4 inputs can be.
  desc->graph->inputs()[0]->type().layout = Layout::kRowMajor;
  desc->graph->outputs()[0]->type().layout = Layout::kNHWC;
  auto out_bytes = plan::write_engine(desc.value());
  ASSERT_TRUE(out_bytes.is_ok());
  auto bad = plan::read_engine_any_target(plan::engine_bytes(out_bytes.value()));
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("not a rank-4 input"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace kiln::testing
