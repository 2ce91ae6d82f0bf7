// Views end to end on the CPU backend: engines whose Reshape/Squeeze/Unsqueeze/Flatten layers
// alias their input give exactly the outputs of the same engine built with copies
// (--disable-pass view-alias) and of the reference interpreter; the engine file keeps the
// aliases, and the reader refuses inconsistent ones.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "io/random_inputs.h"
#include "plan/checksum.h"
#include "plan/engine_format.h"
#include "plan/views.h"
#include "runtime/builder.h"
#include "runtime/execution_context.h"
#include "unit/onnx/model_builder.h"

namespace kiln {
namespace {

using namespace kiln::testing;

void add_i64(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& v) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(v.size()));
  for (int64_t x : v) t->add_int64_data(x);
}

void add_f32(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims, uint64_t seed) {
  Tensor r = io::random_tensor(DataType::kFloat32, dims, seed);
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  for (int64_t i = 0; i < r.numel(); ++i) t->add_float_data(r.data<float>()[i]);
}

// Views of an intermediate (a chain through every view op), of a graph input, of an output that
// later nodes read; outputs that are views of an intermediate and of an input, and two outputs
// over the same bytes. Elementwise ops that could work in place read the views.
onnx::ModelProto mixed_model() {
  onnx::ModelProto m = new_model(17);
  auto* g = m.mutable_graph();
  tensor_info(g->mutable_input(), "x", onnx::TensorProto::FLOAT, {2, 3, 4});
  tensor_info(g->mutable_input(), "y", onnx::TensorProto::FLOAT, {4, 6});
  add_f32(g, "c1", {2, 3, 4}, 5);
  add_i64(g, "shape46", {4, 6});
  add_i64(g, "shape24", {24});
  add_i64(g, "shape234", {2, 3, 4});
  add_i64(g, "axes0", {0});
  add_node(g, "Add", {"x", "c1"}, {"a"});
  attr_int(add_node(g, "Flatten", {"a"}, {"f"}), "axis", 1);         // [2,12]
  add_node(g, "Unsqueeze", {"f", "axes0"}, {"u"});                     // [1,2,12]
  add_node(g, "Squeeze", {"u", "axes0"}, {"s"});                       // [2,12]
  add_node(g, "Reshape", {"s", "shape46"}, {"r"});                     // [4,6]
  add_node(g, "Mul", {"r", "r"}, {"m"});
  add_node(g, "Reshape", {"x", "shape46"}, {"xr"});                    // a view of an input
  add_node(g, "Sub", {"m", "xr"}, {"d"});
  add_node(g, "Add", {"d", "y"}, {"e"});
  add_node(g, "Reshape", {"e", "shape234"}, {"out_a"});                // output: a view of an intermediate
  add_node(g, "Reshape", {"x", "shape24"}, {"out_b"});                 // output: a view of an input
  add_node(g, "Relu", {"r"}, {"out_c"});                               // output read later
  add_node(g, "Reshape", {"out_c", "shape24"}, {"v"});                 // a view of an output
  add_node(g, "Neg", {"v"}, {"w"});
  add_node(g, "Mul", {"w", "out_b"}, {"out_d"});
  attr_int(add_node(g, "Flatten", {"a"}, {"out_e"}), "axis", 0);      // two outputs, the same bytes
  add_node(g, "Reshape", {"a", "shape24"}, {"out_f"});
  add_node(g, "Unsqueeze", {"s", "axes0"}, {"s1"});                    // a view read by one node
  add_node(g, "Sigmoid", {"s1"}, {"out_g"});
  add_node(g, "Mul", {"x", "c1"}, {"p"});                              // p's bytes must outlive pv's reader,
  add_node(g, "Reshape", {"p", "shape46"}, {"pv"});                    // not just the view
  add_node(g, "Sin", {"x"}, {"q1"});
  add_node(g, "Cos", {"q1"}, {"q2"});
  add_node(g, "Exp", {"q2"}, {"q3"});
  add_node(g, "Reshape", {"q3", "shape46"}, {"q3r"});
  add_node(g, "Add", {"pv", "q3r"}, {"out_h"});
  tensor_info(g->mutable_output(), "out_a", onnx::TensorProto::FLOAT, {2, 3, 4});
  tensor_info(g->mutable_output(), "out_b", onnx::TensorProto::FLOAT, {24});
  tensor_info(g->mutable_output(), "out_c", onnx::TensorProto::FLOAT, {4, 6});
  tensor_info(g->mutable_output(), "out_d", onnx::TensorProto::FLOAT, {24});
  tensor_info(g->mutable_output(), "out_e", onnx::TensorProto::FLOAT, {1, 24});
  tensor_info(g->mutable_output(), "out_f", onnx::TensorProto::FLOAT, {24});
  tensor_info(g->mutable_output(), "out_g", onnx::TensorProto::FLOAT, {1, 2, 12});
  tensor_info(g->mutable_output(), "out_h", onnx::TensorProto::FLOAT, {4, 6});
  return m;
}

runtime::BuilderConfig config(bool views) {
  runtime::BuilderConfig c;
  c.disabled_passes = {"elementwise-chain-fusion"};  // keep the elementwise layers apart
  if (!views) c.disabled_passes.push_back(plan::kViewAliasPass);
  return c;
}

std::shared_ptr<runtime::Engine> build(const onnx::ModelProto& proto, bool views) {
  auto model = import(proto);
  EXPECT_TRUE(model.is_ok()) << model.status().to_string();
  if (!model.is_ok()) return nullptr;
  auto engine = runtime::Builder::build(model.value(), config(views));
  EXPECT_TRUE(engine.is_ok()) << engine.status().to_string();
  return engine.is_ok() ? engine.value() : nullptr;
}

size_t view_layers(const runtime::Engine& e) {
  size_t n = 0;
  for (const auto& l : e.desc().layers) n += l.tactic == plan::kAliasTactic;
  return n;
}

// Runs `engine` through enqueue on host buffers: outputs poisoned with NaN first, inputs checked
// unchanged afterwards (no kernel may write through an alias into an input).
std::vector<Tensor> run(runtime::ExecutionContext& ctx, const std::map<std::string, Tensor>& inputs) {
  const runtime::Engine& e = ctx.engine();
  std::vector<Tensor> ins, outs;
  std::vector<runtime::TensorRef> in_refs, out_refs;
  for (const auto& b : e.inputs()) {
    ins.push_back(inputs.at(b.name).clone());
    in_refs.push_back({b.dtype, b.dims, ir::Layout::kRowMajor, ins.back().raw()});
  }
  for (const auto& b : e.outputs()) {
    Tensor t(b.dtype, b.dims);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = std::numeric_limits<float>::quiet_NaN();
    outs.push_back(std::move(t));
  }
  for (size_t o = 0; o < outs.size(); ++o)
    out_refs.push_back({outs[o].dtype(), outs[o].dims(), ir::Layout::kRowMajor, outs[o].raw()});
  Status st = ctx.enqueue(in_refs, out_refs, nullptr);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  for (size_t i = 0; i < ins.size(); ++i)
    EXPECT_EQ(std::memcmp(ins[i].raw(), inputs.at(e.inputs()[i].name).raw(), ins[i].nbytes()), 0)
        << "input '" << e.inputs()[i].name << "' was written";
  return outs;
}

void expect_equal(const std::vector<Tensor>& a, const std::vector<Tensor>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].dims(), b[i].dims()) << what << " output " << i;
    for (int64_t k = 0; k < a[i].numel(); ++k) {
      ASSERT_FALSE(std::isnan(a[i].data<float>()[k])) << what << " output " << i << " element " << k;
      ASSERT_EQ(a[i].data<float>()[k], b[i].data<float>()[k]) << what << " output " << i << " element " << k;
    }
  }
}

TEST(ViewAlias, EngineMatchesCopiesAndReference) {
  onnx::ModelProto proto = mixed_model();
  auto aliased = build(proto, true);
  auto copied = build(proto, false);
  ASSERT_TRUE(aliased && copied);
  // Flatten, Unsqueeze, Squeeze, Reshape (r), Reshape (xr), Reshape (v), Unsqueeze (s1),
  // Reshape (pv), Reshape (q3r): views; the reshapes and flatten that are graph outputs keep
  // their copies.
  EXPECT_EQ(view_layers(*aliased), 9u);
  EXPECT_EQ(view_layers(*copied), 0u);
  EXPECT_EQ(aliased->desc().layers.size(), copied->desc().layers.size());
  EXPECT_EQ(aliased->desc().memory.aliases.size(), 9u);
  EXPECT_LT(aliased->desc().memory.slots.size(), copied->desc().memory.slots.size());
  EXPECT_LE(aliased->desc().memory.arena_bytes, copied->desc().memory.arena_bytes);
  for (const auto& [alias, root] : aliased->desc().memory.aliases) EXPECT_NE(alias->name().rfind("out_", 0), 0u);

  auto model = import(proto);
  ASSERT_TRUE(model.is_ok());
  auto interp = cpu::Interpreter::create(model->graph);
  ASSERT_TRUE(interp.is_ok());
  auto ctx_a = aliased->create_context();
  auto ctx_c = copied->create_context();
  ASSERT_TRUE(ctx_a.is_ok() && ctx_c.is_ok());
  for (uint64_t seed = 1; seed <= 4; ++seed) {  // fresh inputs each call, one context
    std::map<std::string, Tensor> inputs = {{"x", io::random_tensor(DataType::kFloat32, {2, 3, 4}, seed)},
                                            {"y", io::random_tensor(DataType::kFloat32, {4, 6}, seed + 100)}};
    std::map<std::string, RuntimeValue> ref_in;
    for (const auto& [n, t] : inputs) ref_in[n] = RuntimeValue(t);
    auto ref = (*interp)->run(ref_in);
    ASSERT_TRUE(ref.is_ok()) << ref.status().to_string();
    std::vector<Tensor> expected;
    for (auto& v : *ref) expected.push_back(v.tensor());
    expect_equal(run(**ctx_a, inputs), expected, "aliased engine, seed " + std::to_string(seed));
    expect_equal(run(**ctx_c, inputs), expected, "copying engine, seed " + std::to_string(seed));
  }
}

TEST(ViewAlias, EngineFileKeepsAliases) {
  onnx::ModelProto proto = mixed_model();
  auto aliased = build(proto, true);
  ASSERT_TRUE(aliased);
  auto bytes = aliased->serialize();
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  uint32_t version;
  std::memcpy(&version, bytes->data() + 4, 4);
  EXPECT_EQ(version, plan::kEngineFormatVersion);
  auto loaded = runtime::Engine::load(*bytes);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  const auto& d = loaded.value()->desc();
  EXPECT_EQ(view_layers(*loaded.value()), 9u);
  ASSERT_EQ(d.memory.aliases.size(), 9u);
  for (const auto& [alias, root] : aliased->desc().memory.aliases) {
    const ir::Value* a = nullptr;
    for (const auto& [la, lr] : d.memory.aliases)
      if (la->name() == alias->name()) {
        a = la;
        EXPECT_EQ(lr->name(), root->name());
      }
    EXPECT_NE(a, nullptr) << alias->name();
  }
  EXPECT_EQ(d.memory.arena_bytes, aliased->desc().memory.arena_bytes);
  std::map<std::string, Tensor> inputs = {{"x", io::random_tensor(DataType::kFloat32, {2, 3, 4}, 9)},
                                          {"y", io::random_tensor(DataType::kFloat32, {4, 6}, 10)}};
  auto c1 = aliased->create_context();
  auto c2 = loaded.value()->create_context();
  ASSERT_TRUE(c1.is_ok() && c2.is_ok());
  expect_equal(run(**c2, inputs), run(**c1, inputs), "loaded engine");
  auto again = loaded.value()->serialize();
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(*again, *bytes);
}

// The reader refuses engines whose aliases do not hold together.
class ViewAliasReader : public ::testing::Test {
 protected:
  void SetUp() override {
    auto model = import(mixed_model());
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    model_ = std::move(model).value();
    auto device = runtime::make_device(runtime::Backend::kCpu);
    ASSERT_TRUE(device.is_ok());
    auto desc = runtime::Builder::build_desc(model_, config(true), device.value()->target());
    ASSERT_TRUE(desc.is_ok()) << desc.status().to_string();
    desc_ = std::move(desc).value();
  }
  size_t layer_of(const std::string& output) {
    const auto& nodes = desc_.graph->nodes();
    for (size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i]->num_outputs() && nodes[i]->output(0) && nodes[i]->output(0)->name() == output) return i;
    ADD_FAILURE() << "no node writes " << output;
    return 0;
  }
  std::string read_error() {
    auto bytes = plan::write_engine(desc_);
    if (!bytes.is_ok()) return "writer: " + bytes.status().message();
    auto loaded = runtime::Engine::load(*bytes);
    return loaded.is_ok() ? "" : loaded.status().message();
  }
  ir::Model model_;
  plan::EngineDesc desc_;
};

TEST_F(ViewAliasReader, RefusesAnAliasOfTheWrongSize) {
  // r's root becomes the int64[2] shape constant its Reshape reads.
  const ir::Node& reshape = *desc_.graph->nodes()[layer_of("r")];
  desc_.memory.aliases[reshape.output(0)] = reshape.input(1);
  EXPECT_NE(read_error().find("bytes, the value it aliases"), std::string::npos) << read_error();
}

TEST_F(ViewAliasReader, RefusesAKernelWritingAnAlias) {
  desc_.layers[layer_of("r")].tactic = "cpu.reference";
  EXPECT_NE(read_error().find("an alias of another value's bytes"), std::string::npos) << read_error();
}

TEST_F(ViewAliasReader, RefusesAViewLayerWithoutAnAlias) {
  desc_.layers[layer_of("m")].tactic = plan::kAliasTactic;
  EXPECT_NE(read_error().find("view layer whose output is not an alias"), std::string::npos) << read_error();
}

TEST_F(ViewAliasReader, RefusesAnAliasOfTheWrongInput) {
  // u's root becomes x: the same size, but not the bytes its Unsqueeze reads.
  const ir::Node& unsqueeze = *desc_.graph->nodes()[layer_of("u")];
  desc_.memory.aliases[unsqueeze.output(0)] = desc_.graph->inputs()[0];
  EXPECT_NE(read_error().find("view layer whose output is not an alias"), std::string::npos) << read_error();
}

TEST_F(ViewAliasReader, RefusesAliasesInFormatVersion1) {
  auto bytes = plan::write_engine(desc_);
  ASSERT_TRUE(bytes.is_ok());
  uint32_t v1 = 1;
  std::memcpy(bytes->data() + 4, &v1, 4);
  uint64_t c = plan::engine_checksum(bytes->data(), bytes->size());
  std::memcpy(bytes->data() + 8, &c, 8);
  auto loaded = runtime::Engine::load(*bytes);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_NE(loaded.status().message().find("format version 1 does not have"), std::string::npos)
      << loaded.status().message();
}

TEST(ViewAlias, ViewPredicate) {
  ir::Graph g;
  auto t = [](DataType dt, Shape s, ir::Layout l = ir::Layout::kRowMajor) {
    ir::ValueType v = ir::ValueType::tensor(dt, std::move(s));
    v.layout = l;
    return v;
  };
  ir::Value* x = g.add_value("x", t(DataType::kFloat32, Shape{2, 3, 4, 4}));
  ir::Value* shape = g.add_constant("shape", floats({1}));
  auto node = [&](const std::string& op, ir::ValueType out_type, const std::string& domain = "",
                  ir::Value* in = nullptr) {
    ir::Value* out = g.add_value(g.unique_name("o"), out_type);
    return g.add_node(op, {in ? in : x, shape}, {out}, "", domain);
  };
  EXPECT_TRUE(plan::is_view_node(*node("Reshape", t(DataType::kFloat32, Shape{96}))));
  EXPECT_TRUE(plan::is_view_node(*node("Squeeze", t(DataType::kFloat32, Shape{2, 3, 16}))));
  EXPECT_TRUE(plan::is_view_node(*node("Unsqueeze", t(DataType::kFloat32, Shape{1, 2, 3, 4, 4}))));
  EXPECT_TRUE(plan::is_view_node(*node("Flatten", t(DataType::kFloat32, Shape{2, 48}))));
  EXPECT_TRUE(plan::is_view_node(*node("Identity", t(DataType::kFloat32, Shape{2, 3, 4, 4}))));
  EXPECT_TRUE(plan::is_view_node(*node("Reformat", t(DataType::kFloat32, Shape{2, 3, 4, 4}), "kiln")));
  // Not views: other ops, other dtypes or sizes, channels-last values, dynamic shapes.
  EXPECT_FALSE(plan::is_view_node(*node("Transpose", t(DataType::kFloat32, Shape{2, 3, 4, 4}))));
  EXPECT_FALSE(plan::is_view_node(*node("Reshape", t(DataType::kFloat32, Shape{2, 3, 4, 4}), "com.other")));
  EXPECT_FALSE(plan::is_view_node(*node("Reshape", t(DataType::kInt32, Shape{96}))));
  EXPECT_FALSE(plan::is_view_node(*node("Reshape", t(DataType::kFloat32, Shape{48}))));
  EXPECT_FALSE(plan::is_view_node(*node("Reformat", t(DataType::kFloat32, Shape{2, 3, 4, 4}, ir::Layout::kNHWC), "kiln")));
  ir::Value* nhwc = g.add_value("nhwc", t(DataType::kFloat32, Shape{2, 3, 4, 4}, ir::Layout::kNHWC));
  EXPECT_FALSE(plan::is_view_node(*node("Reshape", t(DataType::kFloat32, Shape{96}), "", nhwc)));
  EXPECT_FALSE(plan::is_view_node(*node("Reshape", t(DataType::kFloat32, Shape({Dim::symbol("n")})))));
}

}  // namespace
}  // namespace kiln
