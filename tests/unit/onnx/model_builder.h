// Small helpers to build ONNX models in C++ for unit tests, import them and run them on the
// reference interpreter.
#pragma once
#include <string>
#include <vector>

#include "backends/cpu/interpreter.h"
#include "onnx/importer.h"
#include "onnx/onnx-ml.pb.h"

namespace kiln::testing {

inline void set_tensor_type(onnx::TypeProto* t, int elem_type, const std::vector<int64_t>& dims, bool ranked = true) {
  auto* tt = t->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  if (!ranked) return;
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

inline onnx::ValueInfoProto* tensor_info(google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* list,
                                         const std::string& name, int elem_type, const std::vector<int64_t>& dims,
                                         bool ranked = true) {
  auto* vi = list->Add();
  vi->set_name(name);
  set_tensor_type(vi->mutable_type(), elem_type, dims, ranked);
  return vi;
}

inline onnx::ValueInfoProto* sequence_info(google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* list,
                                           const std::string& name, int elem_type) {
  auto* vi = list->Add();
  vi->set_name(name);
  vi->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(elem_type);
  return vi;
}

inline onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, const std::vector<std::string>& inputs,
                                 const std::vector<std::string>& outputs, const std::string& domain = "") {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_domain(domain);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

inline onnx::AttributeProto* add_attr(onnx::NodeProto* n, const std::string& name) {
  auto* a = n->add_attribute();
  a->set_name(name);
  return a;
}
inline void attr_int(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = add_attr(n, name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
inline void attr_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = add_attr(n, name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
inline void attr_float(onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = add_attr(n, name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
inline onnx::GraphProto* attr_graph(onnx::NodeProto* n, const std::string& name) {
  auto* a = add_attr(n, name);
  a->set_type(onnx::AttributeProto::GRAPH);
  a->mutable_g()->set_name(name);
  return a->mutable_g();
}

inline onnx::ModelProto new_model(int64_t opset = 17) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  m.mutable_graph()->set_name("test");
  return m;
}

inline Result<ir::Model> import(const onnx::ModelProto& m) {
  std::string bytes = m.SerializeAsString();
  return importer::import_model_bytes(bytes.data(), bytes.size(), "");
}

inline Tensor floats(const std::vector<float>& v, std::vector<int64_t> dims = {}) {
  if (dims.empty()) dims = {static_cast<int64_t>(v.size())};
  Tensor t(DataType::kFloat32, dims);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

inline std::vector<float> values(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

// Imports and runs a model; fails the test (and returns nothing) on error.
inline Result<std::vector<RuntimeValue>> import_and_run(const onnx::ModelProto& m, const std::vector<RuntimeValue>& in) {
  KILN_ASSIGN_OR_RETURN(ir::Model model, import(m));
  KILN_ASSIGN_OR_RETURN(auto interp, cpu::Interpreter::create(model.graph));
  return interp->run(in);
}

}  // namespace kiln::testing
