#include <filesystem>

#include "unit/passes/pass_test_util.h"

namespace kiln::testing {
namespace {

// Conv -> BN -> Relu, Conv -> BN -> Add(residual) -> Relu, then Flatten via a shape chain,
// Gemm + Relu: every pass has something to do.
onnx::ModelProto small_cnn() {
  auto m = new_model(13);
  auto* g = m.mutable_graph();
  float_input(m, "X", {2, 3, 8, 8});
  auto bn = [&](const std::string& in, const std::string& out, const std::string& p) {
    for (std::string s : {"g", "b", "m", "v"}) add_initializer(g, p + s, {4}, s == "v" || s == "g" ? 0.5f : -1.0f, 1.5f);
    add_node(g, "BatchNormalization", {in, p + "g", p + "b", p + "m", p + "v"}, {out});
  };
  add_initializer(g, "W1", {4, 3, 3, 3});
  add_initializer(g, "W2", {4, 4, 3, 3});
  attr_ints(add_node(g, "Conv", {"X", "W1"}, {"c1"}), "pads", {1, 1, 1, 1});
  bn("c1", "b1", "bn1");
  add_node(g, "Relu", {"b1"}, {"r1"});
  attr_ints(add_node(g, "Conv", {"r1", "W2"}, {"c2"}), "pads", {1, 1, 1, 1});
  bn("c2", "b2", "bn2");
  add_node(g, "Add", {"b2", "r1"}, {"s2"});
  add_node(g, "Relu", {"s2"}, {"r2"});
  add_node(g, "Identity", {"r2"}, {"r2i"});
  add_initializer_i64(g, "zero", {}, {0});
  add_initializer_i64(g, "axes0", {1}, {0});
  add_initializer_i64(g, "minus1", {1}, {-1});
  add_node(g, "Shape", {"r2i"}, {"shape"});
  attr_int(add_node(g, "Gather", {"shape", "zero"}, {"batch"}), "axis", 0);
  add_node(g, "Unsqueeze", {"batch", "axes0"}, {"batch1"});
  attr_int(add_node(g, "Concat", {"batch1", "minus1"}, {"target"}), "axis", 0);
  add_node(g, "Reshape", {"r2i", "target"}, {"flat"});
  add_initializer(g, "Wfc", {10, 256});
  add_initializer(g, "Bfc", {10});
  attr_int(add_node(g, "Gemm", {"flat", "Wfc", "Bfc"}, {"fc"}), "transB", 1);
  add_node(g, "Relu", {"fc"}, {"Y"});
  float_output(m, "Y");
  return m;
}

TEST(PassManager, AllPassesShrinkASmallCnn) {
  auto r = optimize_and_compare(small_cnn());
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(r.before.graph->nodes().size(), 15u);
  EXPECT_EQ(op_types(*r.after.graph),
            (std::vector<std::string>{"kiln::FusedConv", "kiln::FusedConv", "Reshape", "kiln::FusedGemm"}));
  EXPECT_FALSE(r.log.empty());
  EXPECT_NE(r.log.back().find("15 nodes -> 4 nodes"), std::string::npos) << r.log.back();
}

TEST(PassManager, DisabledPassesDoNotRun) {
  passes::PassOptions o;
  o.disabled = {"activation-fusion", "batchnorm-folding", "elementwise-chain-fusion"};
  auto r = optimize_and_compare(small_cnn(), o);
  ASSERT_TRUE(r.after.graph);
  EXPECT_EQ(count_op(*r.after.graph, "BatchNormalization"), 2);
  EXPECT_EQ(count_op(*r.after.graph, "Relu"), 3);
  for (const auto& line : r.log) EXPECT_EQ(line.find("activation-fusion:"), std::string::npos) << line;
}

TEST(PassManager, UnknownPassNameIsAnError) {
  auto model = import(small_cnn());
  ASSERT_TRUE(model.is_ok());
  passes::PassOptions o;
  o.disabled = {"no-such-pass"};
  Status s = passes::optimize(*model->graph, o);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("constant-folding"), std::string::npos);
}

TEST(PassManager, FashionMnistDemoModelShrinks) {
  std::string path = std::string(KILN_SOURCE_DIR) + "/models/fashion_mnist/model.onnx";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no demo model at " << path;
  auto before = importer::import_model_file(path);
  auto after = importer::import_model_file(path);
  ASSERT_TRUE(before.is_ok() && after.is_ok());
  ASSERT_TRUE(passes::optimize(*after->graph, {}).is_ok());
  EXPECT_LT(after->graph->nodes().size(), before->graph->nodes().size());
  auto inputs = io::random_inputs(*before->graph, 7);
  ASSERT_TRUE(inputs.is_ok());
  auto want = cpu::Interpreter::create(before->graph).value()->run(inputs.value());
  auto got = cpu::Interpreter::create(after->graph).value()->run(inputs.value());
  ASSERT_TRUE(want.is_ok() && got.is_ok());
  for (size_t i = 0; i < want.value().size(); ++i)
    EXPECT_TRUE(io::compare_values(want.value()[i], got.value()[i], 1e-4, 1e-5).ok);
}

}  // namespace
}  // namespace kiln::testing
