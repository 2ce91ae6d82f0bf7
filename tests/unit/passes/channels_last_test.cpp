#include "passes/channels_last.h"
#include "passes/precision.h"

#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

using ir::Layout;

// Conv+Relu -> MaxPool -> Conv + residual + Relu -> GlobalAveragePool -> Flatten -> Gemm.
onnx::ModelProto resnet_like() {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 3, 8, 8});
  add_initializer(g, "W1", {8, 3, 3, 3});
  add_initializer(g, "W2", {8, 8, 1, 1});
  add_initializer(g, "Wfc", {8, 5});
  attr_ints(add_node(g, "Conv", {"X", "W1"}, {"c1"}), "pads", {1, 1, 1, 1});
  add_node(g, "Relu", {"c1"}, {"r1"});
  auto* pool = add_node(g, "MaxPool", {"r1"}, {"p"});
  attr_ints(pool, "kernel_shape", {2, 2});
  attr_ints(pool, "strides", {2, 2});
  add_node(g, "Conv", {"p", "W2"}, {"c2"});
  add_node(g, "Add", {"c2", "p"}, {"s"});
  add_node(g, "Relu", {"s"}, {"r2"});
  add_node(g, "GlobalAveragePool", {"r2"}, {"gap"});
  add_node(g, "Flatten", {"gap"}, {"flat"});
  add_node(g, "MatMul", {"flat", "Wfc"}, {"Y"});
  float_output(m, "Y");
  return m;
}

struct Lowered {
  ir::Model model;
  passes::ChannelsLastStats stats;
};

Lowered lower(const onnx::ModelProto& m, const passes::LayoutSupport& supported) {
  Lowered r;
  auto imported = import(m);
  EXPECT_TRUE(imported.is_ok()) << imported.status().to_string();
  if (!imported.is_ok()) return r;
  r.model = std::move(imported.value());
  EXPECT_TRUE(passes::optimize(*r.model.graph, {}).is_ok());
  auto stats = passes::assign_channels_last(*r.model.graph, supported, nullptr);
  EXPECT_TRUE(stats.is_ok()) << stats.status().to_string();
  if (stats.is_ok()) r.stats = stats.value();
  return r;
}

const ir::Node* first(const ir::Graph& g, const std::string& op) {
  for (const auto& n : g.nodes())
    if (n->op_type() == op) return n.get();
  return nullptr;
}

bool everything(const ir::Node&) { return true; }

TEST(ChannelsLast, ConvolutionRegionIsChannelsLastWithReformatsOnlyAtItsEdges) {
  Lowered r = lower(resnet_like(), everything);
  const ir::Graph& g = *r.model.graph;
  EXPECT_EQ(op_types(g), (std::vector<std::string>{"kiln::Reformat", "kiln::FusedConv", "MaxPool", "kiln::FusedConv",
                                                   "GlobalAveragePool", "Flatten", "MatMul"}));
  EXPECT_EQ(r.stats.convolutions, 2);
  EXPECT_EQ(r.stats.followers, 2);  // MaxPool, GlobalAveragePool
  EXPECT_EQ(r.stats.reformats, 1);  // the graph input; the pool's [2,8,1,1] output is layout-neutral
  EXPECT_EQ(r.stats.repacked_weights, 1);  // W1; W2 is 1x1 ([8,8,1,1] is layout-neutral)
  const ir::Node* reformat = first(g, "Reformat");
  EXPECT_EQ(reformat->input(0)->type().layout, Layout::kRowMajor);
  EXPECT_EQ(reformat->output(0)->type().layout, Layout::kNHWC);
  const ir::Node* conv = first(g, "FusedConv");
  EXPECT_EQ(conv->input(0), reformat->output(0));
  EXPECT_EQ(conv->output(0)->type().layout, Layout::kNHWC);
  EXPECT_EQ(first(g, "MaxPool")->output(0)->type().layout, Layout::kNHWC);
  EXPECT_EQ(first(g, "GlobalAveragePool")->input(0)->type().layout, Layout::kNHWC);
  EXPECT_EQ(first(g, "GlobalAveragePool")->output(0)->type().layout, Layout::kRowMajor);
  EXPECT_EQ(g.outputs()[0]->type().layout, Layout::kRowMajor);
  EXPECT_EQ(g.outputs()[0]->name(), "Y");
  EXPECT_TRUE(g.inputs()[0]->type().layout == Layout::kRowMajor);
}

TEST(ChannelsLast, WeightsAreRepackedKrsc) {
  auto m = resnet_like();
  Lowered r = lower(m, everything);
  const ir::Value* w = first(*r.model.graph, "FusedConv")->input(1);
  ASSERT_TRUE(w->is_constant());
  EXPECT_EQ(w->type().layout, Layout::kNHWC);
  EXPECT_EQ(w->constant().dims(), (std::vector<int64_t>{8, 3, 3, 3}));  // logical dims stay KCRS
  auto original = import(m);
  ASSERT_TRUE(original.is_ok());
  const Tensor& src = original.value().graph->find_value("W1")->constant();
  const float* a = src.data<float>();
  const float* b = w->constant().data<float>();
  for (int k = 0; k < 8; ++k)
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 9; ++p) ASSERT_EQ(b[(k * 9 + p) * 3 + c], a[(k * 3 + c) * 9 + p]) << k << " " << c << " " << p;
}

TEST(ChannelsLast, NodesNoKernelTakesChannelsLastStayRowMajor) {
  // Only convolutions and reformats run channels-last: the pooling gets row-major data.
  auto convs_only = [](const ir::Node& n) { return n.op_type() == "FusedConv" || n.op_type() == "Conv" || n.op_type() == "Reformat"; };
  Lowered r = lower(resnet_like(), convs_only);
  const ir::Graph& g = *r.model.graph;
  EXPECT_EQ(r.stats.convolutions, 2);
  EXPECT_EQ(r.stats.followers, 0);
  // X -> NHWC, conv1 -> NCHW for MaxPool, pool -> NHWC (shared by conv2's X and residual), conv2 -> NCHW.
  EXPECT_EQ(r.stats.reformats, 4);
  EXPECT_EQ(first(g, "MaxPool")->input(0)->type().layout, Layout::kRowMajor);
  for (const auto& n : g.nodes()) {
    if (n->op_type() == "FusedConv" || n->op_type() == "Reformat") continue;
    for (const ir::Value* v : n->inputs()) EXPECT_NE(v->type().layout, Layout::kNHWC) << n->describe();
  }
}

TEST(ChannelsLast, NothingSupportedLeavesTheGraphAlone) {
  Lowered r = lower(resnet_like(), [](const ir::Node&) { return false; });
  EXPECT_EQ(r.stats.reformats, 0);
  EXPECT_EQ(r.stats.convolutions, 0);
  for (const auto& v : r.model.graph->values()) EXPECT_EQ(v->type().layout, Layout::kRowMajor) << v->name();
}

TEST(ChannelsLast, ChannelsLastGraphOutputIsReformattedUnderItsOwnName) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {1, 4, 5, 5});
  add_initializer(g, "W", {6, 4, 3, 3});
  add_node(g, "Conv", {"X", "W"}, {"Y"});
  add_node(g, "Relu", {"Y"}, {"Z"});
  float_output(m, "Y");
  float_output(m, "Z");
  Lowered r = lower(m, everything);
  const ir::Graph& lowered = *r.model.graph;
  ASSERT_EQ(lowered.outputs().size(), 2u);
  for (const ir::Value* out : lowered.outputs()) {
    EXPECT_EQ(out->type().layout, Layout::kRowMajor) << out->name();
    ASSERT_TRUE(out->producer());
    EXPECT_EQ(out->producer()->op_type(), "Reformat") << out->name();
  }
  EXPECT_EQ(lowered.outputs()[0]->name(), "Y");
  EXPECT_EQ(lowered.outputs()[1]->name(), "Z");
  // The Relu reads the convolution's channels-last result, not the row-major output copy.
  EXPECT_EQ(first(lowered, "Relu")->input(0)->type().layout, Layout::kNHWC);
}

TEST(ChannelsLast, InputPrecisionCastWritesChannelsLastItself) {
  auto imported = import(resnet_like());
  ASSERT_TRUE(imported.is_ok());
  ir::Graph& g = *imported.value().graph;
  ASSERT_TRUE(passes::optimize(g, {}).is_ok());
  ASSERT_TRUE(passes::lower_precision(g, DataType::kFloat16, nullptr).is_ok());
  auto stats = passes::assign_channels_last(g, everything, nullptr);
  ASSERT_TRUE(stats.is_ok());
  EXPECT_EQ(stats.value().reformats, 0);  // the input's Reformat went into its Cast
  EXPECT_EQ(count_op(g, "kiln::Reformat"), 0);
  const ir::Node* cast = first(g, "Cast");
  ASSERT_NE(cast, nullptr);
  EXPECT_EQ(cast->input(0)->type().layout, Layout::kRowMajor);
  EXPECT_EQ(cast->output(0)->type().layout, Layout::kNHWC);
  EXPECT_EQ(first(g, "FusedConv")->input(0), cast->output(0));
  // Without a kernel for the fused form the Reformat stays.
  auto again = import(resnet_like());
  ir::Graph& h = *again.value().graph;
  ASSERT_TRUE(passes::optimize(h, {}).is_ok());
  ASSERT_TRUE(passes::lower_precision(h, DataType::kFloat16, nullptr).is_ok());
  auto no_cast = [](const ir::Node& n) { return n.op_type() != "Cast" || n.output(0)->type().layout != Layout::kNHWC; };
  ASSERT_TRUE(passes::assign_channels_last(h, no_cast, nullptr).is_ok());
  EXPECT_EQ(count_op(h, "kiln::Reformat"), 1);
}

TEST(ChannelsLast, SingleChannelInputNeedsNoReformat) {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 1, 6, 6});
  add_initializer(g, "W", {4, 1, 3, 3});
  add_node(g, "Conv", {"X", "W"}, {"c"});
  add_node(g, "GlobalAveragePool", {"c"}, {"Y"});
  float_output(m, "Y");
  Lowered r = lower(m, everything);
  EXPECT_EQ(r.stats.reformats, 0);  // [2,1,6,6] in, [2,4,1,1] out: both layout-neutral
  EXPECT_EQ(r.stats.repacked_weights, 0);
  EXPECT_EQ(first(*r.model.graph, "Conv")->output(0)->type().layout, Layout::kNHWC);
}

}  // namespace
}  // namespace kiln::testing
