// Random, string, ai.onnx.ml and TfIdf ops: determinism with a seed, shapes and dtypes, edge
// cases the node tests miss, and clean errors on bad models or inputs.
#include <gtest/gtest.h>

#include "unit/onnx/model_builder.h"

namespace kiln::testing {
namespace {

constexpr int kFloat = onnx::TensorProto::FLOAT;
constexpr int kString = onnx::TensorProto::STRING;

Tensor strings(const std::vector<std::string>& v, std::vector<int64_t> dims = {}) {
  if (dims.empty()) dims = {static_cast<int64_t>(v.size())};
  Tensor t(DataType::kString, dims);
  std::copy(v.begin(), v.end(), t.strings().begin());
  return t;
}

// One node reading graph inputs `ins` (name, elem type, dims) and writing unranked outputs.
struct OneNode {
  onnx::ModelProto model = new_model(22);
  onnx::NodeProto* node;
  OneNode(const std::string& op, const std::vector<std::tuple<std::string, int, std::vector<int64_t>>>& ins,
          const std::vector<std::pair<std::string, int>>& outs, const std::string& domain = "") {
    auto* g = model.mutable_graph();
    std::vector<std::string> in_names, out_names;
    for (const auto& [name, type, dims] : ins) {
      tensor_info(g->mutable_input(), name, type, dims);
      in_names.push_back(name);
    }
    for (const auto& [name, type] : outs) {
      tensor_info(g->mutable_output(), name, type, {}, false);
      out_names.push_back(name);
    }
    node = add_node(g, op, in_names, out_names, domain);
    if (!domain.empty()) {
      auto* op_import = model.add_opset_import();
      op_import->set_domain(domain);
      op_import->set_version(domain == "ai.onnx.ml" ? 5 : 1);
    }
  }
};

TEST(Random, SeededOutputsRepeatAndRespectShapeAndRange) {
  OneNode n("RandomUniform", {}, {{"y", onnx::TensorProto::DOUBLE}});
  attr_ints(n.node, "shape", {3, 4});
  attr_int(n.node, "dtype", onnx::TensorProto::DOUBLE);
  attr_float(n.node, "low", 2.0f);
  attr_float(n.node, "high", 3.0f);
  attr_float(n.node, "seed", 7.0f);
  auto a = import_and_run(n.model, {});
  auto b = import_and_run(n.model, {});
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  ASSERT_TRUE(b.is_ok());
  const Tensor& t = a->at(0).tensor();
  EXPECT_EQ(t.dtype(), DataType::kFloat64);
  EXPECT_EQ(t.dims(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(t.to_f64(), b->at(0).tensor().to_f64());
  for (double v : t.to_f64()) {
    EXPECT_GE(v, 2.0);
    EXPECT_LE(v, 3.0);
  }
}

TEST(Random, BernoulliExtremesAndMultinomialShape) {
  OneNode bern("Bernoulli", {{"p", kFloat, {4}}}, {{"y", kFloat}});
  attr_float(bern.node, "seed", 1.0f);
  auto out = import_and_run(bern.model, {floats({0, 1, 0, 1})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(values(out->at(0).tensor()), (std::vector<float>{0, 1, 0, 1}));
  auto bad = import_and_run(bern.model, {floats({0, 2, 0, 1})});
  EXPECT_FALSE(bad.is_ok());

  OneNode multi("Multinomial", {{"x", kFloat, {2, 3}}}, {{"y", onnx::TensorProto::INT64}});
  attr_int(multi.node, "sample_size", 5);
  attr_int(multi.node, "dtype", onnx::TensorProto::INT64);
  // Class 2 of row 0 and class 0 of row 1 carry (nearly) all the mass.
  auto m = import_and_run(multi.model, {floats({-100, -100, 0, 0, -100, -100}, {2, 3})});
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  EXPECT_EQ(m->at(0).tensor().dims(), (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(m->at(0).tensor().to_i64(), (std::vector<int64_t>{2, 2, 2, 2, 2, 0, 0, 0, 0, 0}));
}

TEST(Strings, SplitOnWhitespaceWithMaxsplit) {
  OneNode n("StringSplit", {{"x", kString, {2}}}, {{"parts", kString}, {"n", onnx::TensorProto::INT64}});
  attr_int(n.node, "maxsplit", 1);
  auto out = import_and_run(n.model, {strings({"  a  b c ", ""})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  const Tensor& parts = out->at(0).tensor();
  EXPECT_EQ(parts.dims(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(parts.strings(), (std::vector<std::string>{"a", "b c ", "", ""}));
  EXPECT_EQ(out->at(1).tensor().to_i64(), (std::vector<int64_t>{2, 0}));
}

TEST(Strings, NormalizerRefusesRank3AndRegexRefusesBadPattern) {
  OneNode norm("StringNormalizer", {{"x", kString, {1, 1, 2}}}, {{"y", kString}});
  EXPECT_FALSE(import(norm.model).is_ok());

  OneNode re("RegexFullMatch", {{"x", kString, {1}}}, {{"y", onnx::TensorProto::BOOL}});
  auto* a = add_attr(re.node, "pattern");
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s("(unclosed");
  auto out = import_and_run(re.model, {strings({"x"})});
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("invalid pattern"), std::string::npos) << out.status().to_string();
}

TEST(Ml, LabelEncoderFloatKeysMatchNaNAndRefuseMismatchedLists) {
  OneNode n("LabelEncoder", {{"x", kFloat, {3}}}, {{"y", onnx::TensorProto::INT64}}, "ai.onnx.ml");
  n.model.mutable_opset_import(1)->set_version(4);
  auto* k = add_attr(n.node, "keys_floats");
  k->set_type(onnx::AttributeProto::FLOATS);
  k->add_floats(1.5f);
  k->add_floats(NAN);
  attr_ints(n.node, "values_int64s", {10, 20});
  auto out = import_and_run(n.model, {floats({NAN, 1.5f, 3.0f})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out->at(0).tensor().to_i64(), (std::vector<int64_t>{20, 10, -1}));
  n.node->mutable_attribute(1)->add_ints(30);
  EXPECT_FALSE(import(n.model).is_ok());
}

TEST(Ml, TreeEnsembleRefusesOutOfRangeIds) {
  OneNode n("TreeEnsemble", {{"x", kFloat, {1, 2}}}, {{"y", kFloat}}, "ai.onnx.ml");
  auto tensor_attr = [&](const std::string& name, int type, std::vector<float> v) {
    auto* a = add_attr(n.node, name);
    a->set_type(onnx::AttributeProto::TENSOR);
    a->mutable_t()->set_data_type(type);
    a->mutable_t()->add_dims(static_cast<int64_t>(v.size()));
    for (float f : v) {
      if (type == kFloat) a->mutable_t()->add_float_data(f);
      else a->mutable_t()->add_int32_data(static_cast<int32_t>(f));
    }
  };
  tensor_attr("nodes_splits", kFloat, {0.5f});
  tensor_attr("nodes_modes", onnx::TensorProto::UINT8, {0});
  tensor_attr("leaf_weights", kFloat, {1, 2});
  attr_ints(n.node, "nodes_featureids", {1});
  attr_ints(n.node, "nodes_truenodeids", {0});
  attr_ints(n.node, "nodes_falsenodeids", {1});
  attr_ints(n.node, "nodes_trueleafs", {1});
  attr_ints(n.node, "nodes_falseleafs", {1});
  attr_ints(n.node, "leaf_targetids", {0, 0});
  attr_ints(n.node, "tree_roots", {0});
  attr_int(n.node, "n_targets", 1);
  auto out = import_and_run(n.model, {floats({0, 1}, {1, 2})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(values(out->at(0).tensor()), (std::vector<float>{2}));  // x[1] = 1 > 0.5: false leaf
  n.node->mutable_attribute(5)->set_ints(0, 7);  // nodes_falsenodeids: leaf 7 does not exist
  EXPECT_FALSE(import(n.model).is_ok());
}

TEST(TfIdf, IdfAndTfidfWeights) {
  OneNode n("TfIdfVectorizer", {{"x", onnx::TensorProto::INT64, {4}}}, {{"y", kFloat}});
  attr_int(n.node, "min_gram_length", 1);
  attr_int(n.node, "max_gram_length", 1);
  attr_int(n.node, "max_skip_count", 0);
  attr_ints(n.node, "ngram_counts", {0});
  attr_ints(n.node, "ngram_indexes", {1, 0});
  attr_ints(n.node, "pool_int64s", {5, 6});
  auto* w = add_attr(n.node, "weights");
  w->set_type(onnx::AttributeProto::FLOATS);
  w->add_floats(0.5f);
  w->add_floats(2.0f);
  auto* mode = add_attr(n.node, "mode");
  mode->set_type(onnx::AttributeProto::STRING);
  mode->set_s("TFIDF");
  Tensor x = Tensor::from_i64({5, 5, 6, 9});
  auto out = import_and_run(n.model, {x});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  // 6 -> column 0 (weight 0.5), 5 twice -> column 1 (weight 2).
  EXPECT_EQ(values(out->at(0).tensor()), (std::vector<float>{0.5f, 4.0f}));
  mode->set_s("IDF");
  out = import_and_run(n.model, {x});
  ASSERT_TRUE(out.is_ok());
  EXPECT_EQ(values(out->at(0).tensor()), (std::vector<float>{0.5f, 2.0f}));
}

}  // namespace
}  // namespace kiln::testing
