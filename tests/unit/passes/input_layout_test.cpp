// Channels-last input bindings (passes/input_layout.h): the rebinding with its Transpose, the
// error cases, and the channels-last step absorbing the Transpose into the binding.
#include "passes/input_layout.h"

#include "passes/channels_last.h"
#include "passes/precision.h"
#include "runtime/io_format.h"
#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

using ir::Layout;

// X [2,C,8,8] -> Conv(+bias) -> Relu -> GlobalAveragePool -> Flatten -> MatMul -> + Z [2,5].
onnx::ModelProto cnn(int64_t channels = 3) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, channels, 8, 8});
  float_input(m, "Z", {2, 5});
  add_initializer(g, "W1", {8, channels, 3, 3});
  add_initializer(g, "B1", {8});
  add_initializer(g, "Wfc", {8, 5});
  attr_ints(add_node(g, "Conv", {"X", "W1", "B1"}, {"c1"}), "pads", {1, 1, 1, 1});
  add_node(g, "Relu", {"c1"}, {"r1"});
  add_node(g, "GlobalAveragePool", {"r1"}, {"gap"});
  add_node(g, "Flatten", {"gap"}, {"flat"});
  add_node(g, "MatMul", {"flat", "Wfc"}, {"fc"});
  add_node(g, "Add", {"fc", "Z"}, {"Y"});
  float_output(m, "Y");
  return m;
}

ir::Model imported(const onnx::ModelProto& m) {
  auto r = import(m);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? std::move(r).value() : ir::Model{};
}

const ir::Node* first(const ir::Graph& g, const std::string& op) {
  for (const auto& n : g.nodes())
    if (n->op_type() == op) return n.get();
  return nullptr;
}

bool everything(const ir::Node&) { return true; }

TEST(InputLayout, BindsRank4InputsAsNhwcBehindATranspose) {
  ir::Model ref = imported(cnn());
  ir::Model m = imported(cnn());
  ir::Graph& g = *m.graph;
  auto bound = passes::bind_inputs_channels_last(g, nullptr);
  ASSERT_TRUE(bound.is_ok()) << bound.status().to_string();
  EXPECT_EQ(bound.value(), 1);
  ir::Value* x = g.inputs()[0];
  EXPECT_EQ(x->name(), "X");
  EXPECT_EQ(x->type().shape->static_dims(), (std::vector<int64_t>{2, 8, 8, 3}));
  EXPECT_EQ(g.inputs()[1]->type().shape->static_dims(), (std::vector<int64_t>{2, 5}));  // rank 2: as it was
  const ir::Node* t = g.nodes()[0].get();
  ASSERT_EQ(t->op_type(), "Transpose");
  EXPECT_EQ(t->input(0), x);
  EXPECT_EQ(t->attrs().get_ints("perm"), (std::vector<int64_t>{0, 3, 1, 2}));
  EXPECT_EQ(t->output(0)->type().shape->static_dims(), (std::vector<int64_t>{2, 3, 8, 8}));
  EXPECT_EQ(g.consumers(x).size(), 1u);
  EXPECT_EQ(first(g, "Conv")->input(0), t->output(0));

  // Same outputs as the model fed [N,C,H,W].
  auto inputs = io::random_inputs(*ref.graph, 7);
  ASSERT_TRUE(inputs.is_ok());
  auto want = cpu::Interpreter::create(ref.graph).value()->run(inputs.value());
  auto nhwc = inputs.value();
  nhwc["X"] = RuntimeValue(runtime::nchw_to_nhwc(nhwc["X"].tensor()));
  auto got = cpu::Interpreter::create(m.graph).value()->run(nhwc);
  ASSERT_TRUE(want.is_ok() && got.is_ok()) << got.status().to_string();
  auto c = io::compare_values(want.value()[0], got.value()[0], 0, 0);
  EXPECT_TRUE(c.ok) << c.message;
}

TEST(InputLayout, SymbolicDimsMoveWithTheirAxes) {
  auto m = cnn();
  auto* dims = m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
  dims->mutable_dim(0)->set_dim_param("batch");
  dims->mutable_dim(3)->set_dim_param("width");
  ir::Model model = imported(m);
  ir::Graph& g = *model.graph;
  ASSERT_TRUE(passes::bind_inputs_channels_last(g, nullptr).is_ok());
  const Shape& s = *g.inputs()[0]->type().shape;
  ASSERT_EQ(s.rank(), 4u);
  EXPECT_EQ(s[0], Dim::symbol("batch"));
  EXPECT_EQ(s[1], Dim(8));
  EXPECT_EQ(s[2], Dim::symbol("width"));
  EXPECT_EQ(s[3], Dim(3));
  const Shape& nchw = *g.nodes()[0]->output(0)->type().shape;
  EXPECT_EQ(nchw[0], Dim::symbol("batch"));
  EXPECT_EQ(nchw[1], Dim(3));
  EXPECT_EQ(nchw[3], Dim::symbol("width"));
}

TEST(InputLayout, ErrorsWithoutARank4Input) {
  auto m = new_model(13);
  float_input(m, "A", {4, 8});
  add_node(m.mutable_graph(), "Relu", {"A"}, {"B"});
  float_output(m, "B");
  ir::Model model = imported(m);
  auto r = passes::bind_inputs_channels_last(*model.graph, nullptr);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("rank-4"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("A float32[4,8]"), std::string::npos) << r.status().message();
}

TEST(InputLayout, ErrorsForAnInputThatIsAlsoAnOutput) {
  auto m = new_model(13);
  float_input(m, "X", {1, 3, 4, 4});
  add_node(m.mutable_graph(), "Relu", {"X"}, {"Y"});
  float_output(m, "Y");
  float_output(m, "X");
  ir::Model model = imported(m);
  auto r = passes::bind_inputs_channels_last(*model.graph, nullptr);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("'X' is also a graph output"), std::string::npos) << r.status().message();
}

// bind -> optimize -> precision -> channels-last, as the builder does for CUDA.
struct Lowered {
  ir::Model model;
  passes::ChannelsLastStats stats;
};
Lowered lower(const onnx::ModelProto& proto, bool low_precision_io, const passes::LayoutSupport& supported) {
  Lowered r;
  r.model = imported(proto);
  ir::Graph& g = *r.model.graph;
  EXPECT_TRUE(passes::bind_inputs_channels_last(g, nullptr).is_ok());
  EXPECT_TRUE(passes::optimize(g, {}).is_ok());
  EXPECT_TRUE(passes::lower_precision(g, DataType::kFloat16, nullptr, {}, low_precision_io).is_ok());
  auto stats = passes::assign_channels_last(g, supported, nullptr);
  EXPECT_TRUE(stats.is_ok()) << stats.status().to_string();
  if (stats.is_ok()) r.stats = stats.value();
  return r;
}

TEST(InputLayout, ChannelsLastStepReadsTheBindingAsItIs) {
  Lowered r = lower(cnn(), true, everything);
  const ir::Graph& g = *r.model.graph;
  EXPECT_EQ(r.stats.absorbed_inputs, 1);
  EXPECT_EQ(count_op(g, "Transpose"), 0);
  EXPECT_EQ(count_op(g, "kiln::Reformat"), 0);
  EXPECT_EQ(count_op(g, "Cast"), 0);
  ir::Value* x = g.inputs()[0];
  EXPECT_EQ(x->name(), "X");
  EXPECT_EQ(x->type().layout, Layout::kNHWC);
  EXPECT_EQ(x->type().dtype, DataType::kFloat16);
  EXPECT_EQ(x->type().shape->static_dims(), (std::vector<int64_t>{2, 3, 8, 8}));  // logical
  const ir::Node* conv = first(g, "FusedConv");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->input(0), x);
  // The engine binds it [N,H,W,C], channels-last.
  runtime::BindingInfo b = runtime::input_binding(*x, Layout::kNHWC);
  EXPECT_EQ(b.dims, (std::vector<int64_t>{2, 8, 8, 3}));
  EXPECT_EQ(b.layout, Layout::kNHWC);
  EXPECT_EQ(b.nbytes, 2u * 8 * 8 * 3 * 2);
}

TEST(InputLayout, PrecisionCastRunsChannelsLastOnBothSides) {
  Lowered r = lower(cnn(), false, everything);
  const ir::Graph& g = *r.model.graph;
  EXPECT_EQ(r.stats.absorbed_inputs, 1);
  EXPECT_EQ(count_op(g, "Transpose"), 0);
  EXPECT_EQ(count_op(g, "kiln::Reformat"), 0);
  const ir::Node* cast = g.consumers(g.inputs()[0]).at(0);
  ASSERT_EQ(cast->op_type(), "Cast");
  EXPECT_EQ(cast->input(0)->type().layout, Layout::kNHWC);
  EXPECT_EQ(cast->output(0)->type().layout, Layout::kNHWC);
  EXPECT_EQ(first(g, "FusedConv")->input(0), cast->output(0));
}

TEST(InputLayout, TransposeStaysWhereNoKernelTakesTheChannelsLastCast) {
  auto no_nhwc_cast = [](const ir::Node& n) { return n.op_type() != "Cast" || n.output(0)->type().layout != Layout::kNHWC; };
  Lowered r = lower(cnn(), false, no_nhwc_cast);
  const ir::Graph& g = *r.model.graph;
  EXPECT_EQ(r.stats.absorbed_inputs, 0);
  EXPECT_EQ(count_op(g, "Transpose"), 1);
  EXPECT_EQ(g.inputs()[0]->type().layout, Layout::kRowMajor);
  EXPECT_EQ(g.inputs()[0]->type().shape->static_dims(), (std::vector<int64_t>{2, 8, 8, 3}));
}

// A TensorFlow-style model: its own input is [N,H,W,C], then Transpose to NCHW and a Conv. The
// channels-last step absorbs that Transpose too (no --input-layout): the binding is unchanged for
// the caller, [N,H,W,C], and not "channels-last" relative to the model.
TEST(InputLayout, ModelsOwnNhwcInputIsAbsorbedWithItsBindingUnchanged) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 8, 8, 3});
  add_initializer(g, "W", {4, 3, 3, 3});
  attr_ints(add_node(g, "Transpose", {"X"}, {"nchw"}), "perm", {0, 3, 1, 2});
  add_node(g, "Conv", {"nchw", "W"}, {"Y"});
  float_output(m, "Y");
  ir::Model model = imported(m);
  ir::Graph& graph = *model.graph;
  ASSERT_TRUE(passes::optimize(graph, {}).is_ok());
  ASSERT_TRUE(passes::lower_precision(graph, DataType::kFloat16, nullptr, {}, true).is_ok());
  auto stats = passes::assign_channels_last(graph, everything, nullptr);
  ASSERT_TRUE(stats.is_ok());
  EXPECT_EQ(stats.value().absorbed_inputs, 1);
  EXPECT_EQ(count_op(graph, "Transpose"), 0);
  runtime::BindingInfo b = runtime::input_binding(*graph.inputs()[0], Layout::kRowMajor);
  EXPECT_EQ(b.dims, (std::vector<int64_t>{2, 8, 8, 3}));
  EXPECT_EQ(b.layout, Layout::kRowMajor);
}

TEST(InputLayout, NeutralOrConvolutionFreeInputsKeepTheirTranspose) {
  Lowered gray = lower(cnn(1), true, everything);  // [N,H,W,1]: no channels to move
  EXPECT_EQ(gray.stats.absorbed_inputs, 0);
  EXPECT_EQ(gray.model.graph->inputs()[0]->type().layout, Layout::kRowMajor);

  auto m = new_model(13);
  float_input(m, "X", {2, 3, 4, 4});
  add_node(m.mutable_graph(), "Sigmoid", {"X"}, {"Y"});
  float_output(m, "Y");
  Lowered plain = lower(m, true, everything);
  EXPECT_EQ(plain.stats.absorbed_inputs, 0);
  EXPECT_EQ(count_op(*plain.model.graph, "Transpose"), 1);
}

}  // namespace
}  // namespace kiln::testing
