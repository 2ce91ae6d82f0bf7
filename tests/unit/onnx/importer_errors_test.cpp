// The importer on malformed and hostile models: each one is refused with a Status naming the
// problem, never a crash, never a huge allocation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "backends/cpu/interpreter.h"
#include "onnx/importer.h"
#include "onnx/onnx-ml.pb.h"

namespace kiln::importer {
namespace {

namespace fs = std::filesystem;

void set_tensor_type(onnx::ValueInfoProto* vi, const std::string& name, std::vector<int64_t> dims) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, std::vector<std::string> in,
                          std::vector<std::string> out) {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(op + "_" + out[0]);
  for (auto& s : in) n->add_input(s);
  for (auto& s : out) n->add_output(s);
  return n;
}

// X float[2,3] -> Identity -> Y
onnx::ModelProto small_model(int64_t opset = 13) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(opset);
  auto* g = m.mutable_graph();
  g->set_name("g");
  set_tensor_type(g->add_input(), "X", {2, 3});
  add_node(g, "Identity", {"X"}, {"Y"});
  set_tensor_type(g->add_output(), "Y", {2, 3});
  return m;
}

Result<ir::Model> import(const onnx::ModelProto& m, const std::string& base_dir = "") {
  std::string bytes = m.SerializeAsString();
  return import_model_bytes(bytes.data(), bytes.size(), base_dir);
}

#define EXPECT_IMPORT_ERROR(model_expr, fragment, ...)                                                  \
  do {                                                                                                  \
    auto r_ = import(model_expr __VA_OPT__(, ) __VA_ARGS__);                                            \
    ASSERT_FALSE(r_.is_ok()) << "expected an error containing: " << (fragment);                         \
    EXPECT_NE(r_.status().message().find(fragment), std::string::npos) << r_.status().message();        \
    EXPECT_EQ(r_.status().message().find('\n'), std::string::npos) << "one line: " << r_.status().message(); \
  } while (0)

TEST(ImporterErrors, ValidModelImportsAndRuns) {
  auto r = import(small_model());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_TRUE(cpu::Interpreter::create(r->graph).is_ok());
}

TEST(ImporterErrors, TruncatedProtobuf) {
  const std::string bytes = small_model().SerializeAsString();
  for (size_t len = 0; len < bytes.size(); ++len) {
    auto r = import_model_bytes(bytes.data(), len, "");
    EXPECT_FALSE(r.is_ok()) << "truncated to " << len << " bytes";
  }
  auto r = import_model_bytes(bytes.data(), bytes.size() - 3, "");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("truncated or corrupt"), std::string::npos) << r.status().message();
}

TEST(ImporterErrors, EveryBitFlipIsHandled) {
  const std::string bytes = small_model().SerializeAsString();
  int failed = 0;
  for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    std::string flipped = bytes;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    auto r = import_model_bytes(flipped.data(), flipped.size(), "");
    if (!r.is_ok()) {
      ++failed;
      EXPECT_FALSE(r.status().message().empty());
      continue;
    }
    auto interp = cpu::Interpreter::create(r->graph);  // must not crash either
    (void)interp;
  }
  EXPECT_GT(failed, 0);
}

TEST(ImporterErrors, Cycle) {
  onnx::ModelProto m = small_model();
  auto* g = m.mutable_graph();
  g->clear_node();
  add_node(g, "Add", {"X", "c"}, {"a"});
  add_node(g, "Identity", {"a"}, {"c"});
  add_node(g, "Identity", {"a"}, {"Y"});
  EXPECT_IMPORT_ERROR(m, "cycle");
}

TEST(ImporterErrors, SelfLoop) {
  onnx::ModelProto m = small_model();
  auto* g = m.mutable_graph();
  g->clear_node();
  add_node(g, "Add", {"X", "Y"}, {"Y"});
  EXPECT_IMPORT_ERROR(m, "cycle");
}

TEST(ImporterErrors, NodeReadsAValueNobodyProduces) {
  onnx::ModelProto m = small_model();
  auto* g = m.mutable_graph();
  g->clear_node();
  add_node(g, "Add", {"X", "ghost"}, {"Y"});
  EXPECT_IMPORT_ERROR(m, "reads 'ghost', which no node, graph input or initializer produces");
}

TEST(ImporterErrors, GraphOutputNobodyProduces) {
  onnx::ModelProto m = small_model();
  set_tensor_type(m.mutable_graph()->add_output(), "Z", {2, 3});
  EXPECT_IMPORT_ERROR(m, "output 'Z' is not produced by any node");
}

onnx::ModelProto model_with_initializer(std::vector<int64_t> dims, int raw_bytes) {
  onnx::ModelProto m = small_model();
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name("W");
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  if (raw_bytes >= 0) t->set_raw_data(std::string(static_cast<size_t>(raw_bytes), '\0'));
  return m;
}

TEST(ImporterErrors, InitializerWithNegativeDim) {
  EXPECT_IMPORT_ERROR(model_with_initializer({2, -3}, 0), "tensor 'W' has a negative dim in [2,-3]");
}

TEST(ImporterErrors, InitializerDimsOverflow) {
  EXPECT_IMPORT_ERROR(model_with_initializer({int64_t{1} << 40, int64_t{1} << 40}, 0), "whose size overflows");
}

TEST(ImporterErrors, HugeClaimedSizeWithLittleRawData) {
  // 8 GiB claimed (under the 16 GiB tensor limit), 16 bytes given: refused before allocating.
  EXPECT_IMPORT_ERROR(model_with_initializer({int64_t{1} << 31}, 16), "bytes of raw_data");
  EXPECT_IMPORT_ERROR(model_with_initializer({int64_t{1} << 40}, 16), "exceeds the tensor size limit");
}

TEST(ImporterErrors, HugeClaimedSizeWithFewTypedValues) {
  onnx::ModelProto m = model_with_initializer({int64_t{1} << 31}, -1);
  auto* t = m.mutable_graph()->mutable_initializer(0);
  for (int i = 0; i < 3; ++i) t->add_float_data(1.0f);
  EXPECT_IMPORT_ERROR(m, "float_data holds 3 values, 2147483648 expected");
  // The same for a tensor with no data at all.
  EXPECT_IMPORT_ERROR(model_with_initializer({int64_t{1} << 31}, -1), "float_data holds 0 values");
}

TEST(ImporterErrors, InputShapeWithNegativeDim) {
  onnx::ModelProto m = small_model();
  m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(1)->set_dim_value(-5);
  EXPECT_IMPORT_ERROR(m, "input 'X' has a negative dim -5");
}

TEST(ImporterErrors, InputShapeDimsOverflow) {
  onnx::ModelProto m = small_model();
  m.mutable_graph()->clear_output();
  set_tensor_type(m.mutable_graph()->add_output(), "Y", {});
  m.mutable_graph()->mutable_output(0)->mutable_type()->mutable_tensor_type()->clear_shape();
  auto* shape = m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
  shape->mutable_dim(0)->set_dim_value(int64_t{1} << 40);
  shape->mutable_dim(1)->set_dim_value(int64_t{1} << 40);
  EXPECT_IMPORT_ERROR(m, "input 'X' has dims whose product overflows");
}

TEST(ImporterErrors, OpsetNewerThanSupported) {
  EXPECT_IMPORT_ERROR(small_model(1000), "imports opset 1000 of domain ai.onnx; Kiln supports up to");
}

// ---- external data --------------------------------------------------------------------------

class ExternalData : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("kiln_extdata_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "model");
    std::ofstream(root_ / "model" / "weights.bin", std::ios::binary) << std::string(24, '\x01');
    std::ofstream(root_ / "secret.bin", std::ios::binary) << std::string(24, '\x02');
    fs::create_symlink(root_ / "secret.bin", root_ / "model" / "link.bin");
  }
  void TearDown() override { fs::remove_all(root_); }

  // W float[6] (24 bytes) stored externally.
  onnx::ModelProto model(const std::string& location, const std::string& offset = "", const std::string& length = "") {
    onnx::ModelProto m = model_with_initializer({6}, -1);
    auto* t = m.mutable_graph()->mutable_initializer(0);
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [&](const char* k, const std::string& v) {
      if (v.empty()) return;
      auto* e = t->add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", location);
    add("offset", offset);
    add("length", length);
    return m;
  }
  std::string dir() const { return (root_ / "model").string(); }
  fs::path root_;
};

TEST_F(ExternalData, InsideTheFolderLoads) {
  auto r = import(model("weights.bin"), dir());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
}

TEST_F(ExternalData, AbsolutePathRefused) {
  EXPECT_IMPORT_ERROR(model((root_ / "secret.bin").string()), "absolute paths are refused", dir());
}

TEST_F(ExternalData, DotDotRefused) {
  EXPECT_IMPORT_ERROR(model("../secret.bin"), "'..' is refused", dir());
  EXPECT_IMPORT_ERROR(model("sub/../../secret.bin"), "'..' is refused", dir());
}

TEST_F(ExternalData, SymlinkLeadingOutRefused) {
  EXPECT_IMPORT_ERROR(model("link.bin"), "resolves outside the model's folder", dir());
}

TEST_F(ExternalData, OffsetOrLengthBeyondTheFileRefused) {
  EXPECT_IMPORT_ERROR(model("weights.bin", "100"), "offset 100 is outside the file", dir());
  EXPECT_IMPORT_ERROR(model("weights.bin", "8", "24"), "runs past the end of the file", dir());
  EXPECT_IMPORT_ERROR(model("weights.bin", "0", "999999999999999999"), "runs past the end of the file", dir());
  EXPECT_IMPORT_ERROR(model("weights.bin", "-1"), "is not a valid number", dir());
}

TEST_F(ExternalData, MissingFileAndNoFolder) {
  EXPECT_IMPORT_ERROR(model("nope.bin"), "cannot open", dir());
  EXPECT_IMPORT_ERROR(model("weights.bin"), "the model was not loaded from a folder");
}

}  // namespace
}  // namespace kiln::importer
