#include "onnx/importer.h"

#include <fstream>
#include <new>
#include <sstream>

#include <google/protobuf/io/coded_stream.h>

#include "ir/verifier.h"
#include "onnx/function_inliner.h"
#include "onnx/onnx-ml.pb.h"
#include "onnx/tensor_proto.h"
#include "onnx/type_proto.h"
#include "ops/registry.h"
#include "ops/shape_inference.h"

namespace kiln::importer {
namespace {

constexpr int kMaxSubgraphDepth = 64;

class GraphImporter {
 public:
  explicit GraphImporter(ExternalDataRoot root) : root_(std::move(root)) {}

  Status import_graph(const onnx::GraphProto& gp, ir::Graph& g, int depth);

 private:
  Status import_attribute(const onnx::AttributeProto& ap, ir::Node& node, ir::Graph& g, int depth);
  Result<std::shared_ptr<ir::Graph>> import_subgraph(const onnx::GraphProto& gp, ir::Graph& parent, int depth);

  ExternalDataRoot root_;
  int anonymous_nodes_ = 0;
};

Result<std::shared_ptr<ir::Graph>> GraphImporter::import_subgraph(const onnx::GraphProto& gp, ir::Graph& parent,
                                                                  int depth) {
  auto sub = std::make_shared<ir::Graph>(gp.name().empty() ? "subgraph" : gp.name(), &parent);
  KILN_RETURN_IF_ERROR(import_graph(gp, *sub, depth + 1));
  return sub;
}

Status GraphImporter::import_attribute(const onnx::AttributeProto& ap, ir::Node& node, ir::Graph& g, int depth) {
  const std::string who = node.describe() + ", attribute '" + ap.name() + "'";
  if (ap.name().empty()) return invalid_model(node.describe() + " has an attribute without a name");
  if (!ap.ref_attr_name().empty())
    return invalid_model(who + " refers to a function attribute outside a function");
  auto type = ap.type();
  if (type == onnx::AttributeProto::UNDEFINED) {  // very old models leave the type out
    if (ap.has_f()) type = onnx::AttributeProto::FLOAT;
    else if (ap.has_i()) type = onnx::AttributeProto::INT;
    else if (ap.has_s()) type = onnx::AttributeProto::STRING;
    else if (ap.has_t()) type = onnx::AttributeProto::TENSOR;
    else if (ap.has_g()) type = onnx::AttributeProto::GRAPH;
    else if (ap.floats_size()) type = onnx::AttributeProto::FLOATS;
    else if (ap.ints_size()) type = onnx::AttributeProto::INTS;
    else if (ap.strings_size()) type = onnx::AttributeProto::STRINGS;
    else return invalid_model(who + " has no type and no value");
  }
  auto& attrs = node.attrs();
  switch (type) {
    case onnx::AttributeProto::FLOAT: attrs.set(ap.name(), ap.f()); break;
    case onnx::AttributeProto::INT: attrs.set(ap.name(), static_cast<int64_t>(ap.i())); break;
    case onnx::AttributeProto::STRING: attrs.set(ap.name(), ap.s()); break;
    case onnx::AttributeProto::FLOATS: attrs.set(ap.name(), std::vector<float>(ap.floats().begin(), ap.floats().end())); break;
    case onnx::AttributeProto::INTS: attrs.set(ap.name(), std::vector<int64_t>(ap.ints().begin(), ap.ints().end())); break;
    case onnx::AttributeProto::STRINGS: attrs.set(ap.name(), std::vector<std::string>(ap.strings().begin(), ap.strings().end())); break;
    case onnx::AttributeProto::TENSOR: {
      auto t = tensor_from_proto(ap.t(), root_);
      if (!t.is_ok()) return t.status().with_context(who);
      attrs.set(ap.name(), std::move(t).value());
      break;
    }
    case onnx::AttributeProto::SPARSE_TENSOR: {
      auto t = tensor_from_sparse_proto(ap.sparse_tensor(), root_);
      if (!t.is_ok()) return t.status().with_context(who);
      attrs.set(ap.name(), std::move(t).value());
      break;
    }
    case onnx::AttributeProto::TENSORS: {
      std::vector<Tensor> ts;
      for (const auto& tp : ap.tensors()) {
        auto t = tensor_from_proto(tp, root_);
        if (!t.is_ok()) return t.status().with_context(who);
        ts.push_back(std::move(t).value());
      }
      attrs.set(ap.name(), std::move(ts));
      break;
    }
    case onnx::AttributeProto::GRAPH: {
      auto sub = import_subgraph(ap.g(), g, depth);
      if (!sub.is_ok()) return sub.status().with_context(who);
      attrs.set(ap.name(), std::move(sub).value());
      break;
    }
    case onnx::AttributeProto::GRAPHS: {
      std::vector<std::shared_ptr<ir::Graph>> subs;
      for (const auto& gp : ap.graphs()) {
        auto sub = import_subgraph(gp, g, depth);
        if (!sub.is_ok()) return sub.status().with_context(who);
        subs.push_back(std::move(sub).value());
      }
      attrs.set(ap.name(), std::move(subs));
      break;
    }
    case onnx::AttributeProto::TYPE_PROTO: {
      auto vt = value_type_from_proto(ap.tp(), who);
      if (!vt.is_ok()) return vt.status();
      attrs.set(ap.name(), std::move(vt).value());
      break;
    }
    default:
      return unsupported(who + " has attribute type " + std::to_string(static_cast<int>(type)) +
                         ", which Kiln does not support");
  }
  return Status::ok();
}

Status GraphImporter::import_graph(const onnx::GraphProto& gp, ir::Graph& g, int depth) {
  if (depth > kMaxSubgraphDepth) return invalid_model("subgraphs are nested more than 64 deep");
  const std::string gname = "graph '" + g.name() + "'";

  // Initializers first: an input of the same name (IR < 4 models) is then an overridable
  // constant, which Kiln treats as a constant.
  for (const auto& tp : gp.initializer()) {
    if (tp.name().empty()) return invalid_model(gname + " has an initializer without a name");
    if (g.find_value(tp.name())) return invalid_model(gname + ": initializer '" + tp.name() + "' is defined twice");
    KILN_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(tp, root_));
    g.add_constant(tp.name(), std::move(t));
  }
  for (const auto& sp : gp.sparse_initializer()) {
    const std::string& name = sp.values().name();
    if (name.empty()) return invalid_model(gname + " has a sparse initializer without a name");
    if (g.find_value(name)) return invalid_model(gname + ": initializer '" + name + "' is defined twice");
    KILN_ASSIGN_OR_RETURN(Tensor t, tensor_from_sparse_proto(sp, root_));
    g.add_constant(name, std::move(t));
  }
  for (const auto& vi : gp.input()) {
    if (vi.name().empty()) return invalid_model(gname + " has an input without a name");
    KILN_ASSIGN_OR_RETURN(ir::ValueType vt, value_type_from_proto(vi.type(), "input '" + vi.name() + "'"));
    if (ir::Value* existing = g.find_value(vi.name())) {
      if (existing->is_constant()) continue;  // initializer listed as input
      return invalid_model(gname + ": input '" + vi.name() + "' is defined twice");
    }
    g.inputs().push_back(g.add_value(vi.name(), std::move(vt)));
  }

  // Node outputs before node inputs, so that nodes may come in any order and subgraphs may
  // read outer values produced later in the list; the topological sort orders them after.
  std::vector<ir::Node*> nodes;
  for (const auto& np : gp.node()) {
    std::vector<ir::Value*> outputs;
    for (const auto& name : np.output()) {
      if (name.empty()) {
        outputs.push_back(nullptr);
        continue;
      }
      if (g.find_value(name))
        return invalid_model(gname + ": value '" + name + "' is produced twice (again by node '" + np.name() + "')");
      outputs.push_back(g.add_value(name, ir::ValueType::unknown()));
    }
    std::string name = np.name().empty() ? np.op_type() + "_" + std::to_string(anonymous_nodes_++) : np.name();
    nodes.push_back(g.add_node(np.op_type(), {}, outputs, name, np.domain() == "ai.onnx" ? "" : np.domain()));
  }
  for (int i = 0; i < gp.node_size(); ++i) {
    const auto& np = gp.node(i);
    ir::Node* node = nodes[static_cast<size_t>(i)];
    if (np.op_type().empty()) return invalid_model(node->describe() + " has no op_type");
    for (int k = 0; k < np.input_size(); ++k) {
      const std::string& in = np.input(k);
      if (in.empty()) {
        node->set_input(static_cast<size_t>(k), nullptr);
        continue;
      }
      ir::Value* v = g.lookup(in);
      if (!v)
        return invalid_model(node->describe() + " reads '" + in +
                             "', which no node, graph input or initializer produces");
      node->set_input(static_cast<size_t>(k), v);
    }
    for (const auto& ap : np.attribute()) KILN_RETURN_IF_ERROR(import_attribute(ap, *node, g, depth));
  }

  for (const auto& vi : gp.value_info()) {
    ir::Value* v = g.find_value(vi.name());
    if (!v || v->is_constant()) continue;
    auto vt = value_type_from_proto(vi.type(), "value '" + vi.name() + "'");
    if (vt.is_ok()) v->type() = std::move(vt).value();
  }
  for (const auto& vi : gp.output()) {
    ir::Value* v = g.lookup(vi.name());
    if (!v) return invalid_model(gname + ": output '" + vi.name() + "' is not produced by any node");
    KILN_ASSIGN_OR_RETURN(ir::ValueType vt, value_type_from_proto(vi.type(), "output '" + vi.name() + "'"));
    if (!v->is_constant() && !v->producer() && v->owner() == &g) {
      bool is_input = false;
      for (ir::Value* in : g.inputs()) is_input |= in == v;
      if (!is_input) return invalid_model(gname + ": output '" + vi.name() + "' is not produced by any node");
    }
    if (v->producer() && v->owner() == &g)
      KILN_RETURN_IF_ERROR(ops::merge_types(v->type(), vt, "output '" + vi.name() + "'"));
    g.outputs().push_back(v);
  }
  return g.topological_sort();
}

Result<ir::Model> import_model(onnx::ModelProto& mp, const std::string& base_dir, const ImportOptions& options) {
  ir::Model model;
  model.ir_version = mp.ir_version();
  model.producer_name = mp.producer_name();
  model.producer_version = mp.producer_version();
  if (!mp.has_graph()) return invalid_model("the model has no graph");
  // Functions first: inlining may add the functions' opset imports to the model's.
  KILN_RETURN_IF_ERROR(inline_functions(mp));
  ir::Graph& g = *model.graph;
  if (mp.opset_import_size() == 0 && mp.ir_version() >= 3) return invalid_model("the model imports no opset");
  for (const auto& op : mp.opset_import()) {
    std::string domain = op.domain() == "ai.onnx" ? "" : op.domain();
    int64_t max = ops::max_supported_opset(domain);
    if (op.version() < 1) return invalid_model("opset " + std::to_string(op.version()) + " of domain '" + domain + "' is invalid");
    if (max > 0 && op.version() > max)
      return unsupported("the model imports opset " + std::to_string(op.version()) + " of domain " +
                         (domain.empty() ? "ai.onnx" : domain) + "; Kiln supports up to " + std::to_string(max));
    g.set_opset(domain, op.version());
  }
  if (mp.opset_import_size() == 0) g.set_opset("", 1);
  GraphImporter importer(ExternalDataRoot{base_dir});
  try {
    KILN_RETURN_IF_ERROR(importer.import_graph(mp.graph(), g, 0));
    KILN_RETURN_IF_ERROR(ir::verify(g));
    if (options.infer_shapes) KILN_RETURN_IF_ERROR(ops::infer_shapes(g));
  } catch (const Error& e) {
    return e.to_status();
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "out of host memory while importing the model");
  }
  return model;
}

}  // namespace

Result<ir::Model> import_model_bytes(const void* data, size_t size, const std::string& base_dir,
                                     const ImportOptions& options) {
  if (size > static_cast<size_t>(INT32_MAX)) return unsupported("models over 2 GiB must keep weights in external data");
  onnx::ModelProto mp;
  google::protobuf::io::CodedInputStream stream(static_cast<const uint8_t*>(data), static_cast<int>(size));
  stream.SetRecursionLimit(256);
  if (!mp.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage())
    return invalid_model("the file is not a valid ONNX model (protobuf parse failed: truncated or corrupt)");
  return import_model(mp, base_dir, options);
}

Result<ir::Model> import_model_file(const std::string& path, const ImportOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string bytes = buffer.str();
  std::string dir = ".";
  if (auto slash = path.find_last_of('/'); slash != std::string::npos) dir = slash == 0 ? "/" : path.substr(0, slash);
  auto model = import_model_bytes(bytes.data(), bytes.size(), dir, options);
  if (!model.is_ok()) return model.status().with_context(path);
  model->path = path;
  return model;
}

}  // namespace kiln::importer
