#include "onnx/function_inliner.h"

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>

#include "onnx/onnx-ml.pb.h"

namespace kiln::importer {
namespace {

constexpr int kMaxCallDepth = 32;
// Calls nested a few deep, each calling the next twice, grow exponentially: bound the total.
constexpr size_t kMaxInlinedNodes = size_t{1} << 20;

std::string canonical_domain(const std::string& d) { return d == "ai.onnx" ? "" : d; }

using FunctionKey = std::tuple<std::string, std::string, std::string>;  // domain, name, overload

class Inliner {
 public:
  explicit Inliner(onnx::ModelProto& model) : model_(model) {
    for (const auto& f : model.functions())
      functions_[{canonical_domain(f.domain()), f.name(), f.overload()}] = &f;
    collect_names(model.graph());
  }

  Status run() {
    if (functions_.empty()) return Status::ok();
    KILN_RETURN_IF_ERROR(rewrite_graph(*model_.mutable_graph(), 0));
    for (const auto& [domain, version] : extra_opsets_) {
      auto* op = model_.add_opset_import();
      op->set_domain(domain);
      op->set_version(version);
    }
    model_.clear_functions();
    return Status::ok();
  }

 private:
  const onnx::FunctionProto* find(const onnx::NodeProto& n) const {
    auto it = functions_.find({canonical_domain(n.domain()), n.op_type(), n.overload()});
    return it == functions_.end() ? nullptr : it->second;
  }

  void collect_names(const onnx::GraphProto& g) {
    for (const auto& v : g.input()) names_.insert(v.name());
    for (const auto& t : g.initializer()) names_.insert(t.name());
    for (const auto& n : g.node()) {
      for (const auto& o : n.output()) names_.insert(o);
      for (const auto& a : n.attribute()) {
        if (a.has_g()) collect_names(a.g());
        for (const auto& sg : a.graphs()) collect_names(sg);
      }
    }
  }

  // A fresh prefix no name of the model starts with.
  std::string fresh_prefix(const std::string& fn) {
    for (;;) {
      std::string p = "__" + fn + "_" + std::to_string(counter_++) + "/";
      bool clash = false;
      for (auto it = names_.lower_bound(p); it != names_.end() && it->compare(0, p.size(), p) == 0; ++it) clash = true;
      if (!clash) return p;
    }
  }

  Status merge_opsets(const onnx::FunctionProto& f) {
    std::map<std::string, int64_t> model_opsets;
    for (const auto& op : model_.opset_import()) model_opsets[canonical_domain(op.domain())] = op.version();
    for (const auto& op : f.opset_import()) {
      std::string d = canonical_domain(op.domain());
      if (functions_domain(d)) continue;  // calls of other local functions
      int64_t have = 0;
      if (auto it = model_opsets.find(d); it != model_opsets.end()) have = it->second;
      else if (auto jt = extra_opsets_.find(d); jt != extra_opsets_.end()) have = jt->second;
      if (have == 0) {
        extra_opsets_[d] = op.version();
      } else if (have != op.version()) {
        return unsupported("function '" + f.name() + "' imports opset " + std::to_string(op.version()) + " of domain " +
                           (d.empty() ? "ai.onnx" : d) + " but the model imports opset " + std::to_string(have) +
                           "; Kiln runs a model under one opset per domain");
      }
    }
    return Status::ok();
  }

  bool functions_domain(const std::string& d) const {
    for (const auto& [key, f] : functions_)
      if (std::get<0>(key) == d) return true;
    return false;
  }

  // Rewrites calls in g's nodes (and in their subgraphs).
  Status rewrite_graph(onnx::GraphProto& g, int depth) {
    google::protobuf::RepeatedPtrField<onnx::NodeProto> out;
    KILN_RETURN_IF_ERROR(rewrite_nodes(*g.mutable_node(), out, depth));
    g.mutable_node()->Swap(&out);
    return Status::ok();
  }

  Status rewrite_nodes(google::protobuf::RepeatedPtrField<onnx::NodeProto>& nodes,
                       google::protobuf::RepeatedPtrField<onnx::NodeProto>& out, int depth) {
    for (auto& n : nodes) {
      for (auto& a : *n.mutable_attribute()) {
        if (a.has_g()) KILN_RETURN_IF_ERROR(rewrite_graph(*a.mutable_g(), depth));
        for (auto& sg : *a.mutable_graphs()) KILN_RETURN_IF_ERROR(rewrite_graph(sg, depth));
      }
      const onnx::FunctionProto* f = find(n);
      if (!f) {
        *out.Add() = std::move(n);
        continue;
      }
      if (depth >= kMaxCallDepth)
        return invalid_model("function calls are nested more than " + std::to_string(kMaxCallDepth) +
                             " deep (a recursive function?) at node '" + n.name() + "' calling '" + f->name() + "'");
      KILN_RETURN_IF_ERROR(merge_opsets(*f));
      google::protobuf::RepeatedPtrField<onnx::NodeProto> body;
      KILN_RETURN_IF_ERROR(expand(n, *f, body));
      inlined_nodes_ += static_cast<size_t>(body.size());
      if (inlined_nodes_ > kMaxInlinedNodes)
        return invalid_model("inlining the model's functions would create more than " +
                             std::to_string(kMaxInlinedNodes) + " nodes (calls nested exponentially?) at node '" +
                             n.name() + "' calling '" + f->name() + "'");
      KILN_RETURN_IF_ERROR(rewrite_nodes(body, out, depth + 1));
    }
    return Status::ok();
  }

  struct Renamer {
    std::unordered_map<std::string, std::string> formal;  // formal name -> actual name
    std::string prefix;
    std::string operator()(const std::string& name) const {
      if (name.empty()) return name;
      auto it = formal.find(name);
      return it != formal.end() ? it->second : prefix + name;
    }
  };

  // Attributes of a body node: a reference to the caller's attribute takes its value (or the
  // function's default); an unresolved reference leaves the attribute out.
  Status resolve_attributes(onnx::NodeProto& n, const onnx::NodeProto& call, const onnx::FunctionProto& f,
                            const Renamer& rename) {
    google::protobuf::RepeatedPtrField<onnx::AttributeProto> attrs;
    for (auto& a : *n.mutable_attribute()) {
      if (!a.ref_attr_name().empty()) {
        const onnx::AttributeProto* src = nullptr;
        for (const auto& ca : call.attribute())
          if (ca.name() == a.ref_attr_name()) src = &ca;
        if (!src)
          for (const auto& da : f.attribute_proto())
            if (da.name() == a.ref_attr_name()) src = &da;
        if (!src) continue;
        if (a.type() != onnx::AttributeProto::UNDEFINED && src->type() != a.type())
          return invalid_model("node '" + call.name() + "' passes attribute '" + src->name() + "' of another type than function '" +
                               f.name() + "' expects");
        std::string name = a.name();
        a = *src;
        a.set_name(name);
        a.clear_ref_attr_name();
      }
      if (a.has_g()) KILN_RETURN_IF_ERROR(rename_graph(*a.mutable_g(), call, f, rename));
      for (auto& sg : *a.mutable_graphs()) KILN_RETURN_IF_ERROR(rename_graph(sg, call, f, rename));
      *attrs.Add() = std::move(a);
    }
    n.mutable_attribute()->Swap(&attrs);
    return Status::ok();
  }

  // Renames a subgraph of a body node consistently (its own names get the prefix too).
  Status rename_graph(onnx::GraphProto& g, const onnx::NodeProto& call, const onnx::FunctionProto& f,
                      const Renamer& rename) {
    for (auto& v : *g.mutable_input()) v.set_name(rename(v.name()));
    for (auto& v : *g.mutable_output()) v.set_name(rename(v.name()));
    for (auto& v : *g.mutable_value_info()) v.set_name(rename(v.name()));
    for (auto& t : *g.mutable_initializer()) t.set_name(rename(t.name()));
    for (auto& n : *g.mutable_node()) {
      for (auto& s : *n.mutable_input()) s = rename(s);
      for (auto& s : *n.mutable_output()) s = rename(s);
      if (!n.name().empty()) n.set_name(rename.prefix + n.name());
      KILN_RETURN_IF_ERROR(resolve_attributes(n, call, f, rename));
    }
    return Status::ok();
  }

  Status expand(const onnx::NodeProto& call, const onnx::FunctionProto& f,
                google::protobuf::RepeatedPtrField<onnx::NodeProto>& body) {
    if (call.input_size() > f.input_size() || call.output_size() > f.output_size())
      return invalid_model("node '" + call.name() + "' calls function '" + f.name() + "' with " +
                           std::to_string(call.input_size()) + " inputs and " + std::to_string(call.output_size()) +
                           " outputs; it takes " + std::to_string(f.input_size()) + " and returns " +
                           std::to_string(f.output_size()));
    Renamer rename;
    rename.prefix = fresh_prefix(call.name().empty() ? f.name() : call.name());
    for (int i = 0; i < f.input_size(); ++i)
      rename.formal[f.input(i)] = i < call.input_size() ? call.input(i) : std::string();
    for (int i = 0; i < f.output_size(); ++i)
      if (i < call.output_size() && !call.output(i).empty()) rename.formal[f.output(i)] = call.output(i);
    for (const auto& fn : f.node()) {
      onnx::NodeProto n = fn;
      for (auto& s : *n.mutable_input()) s = rename(s);
      for (auto& s : *n.mutable_output()) s = rename(s);
      n.set_name(rename.prefix + (fn.name().empty() ? fn.op_type() : fn.name()));
      KILN_RETURN_IF_ERROR(resolve_attributes(n, call, f, rename));
      *body.Add() = std::move(n);
    }
    return Status::ok();
  }

  onnx::ModelProto& model_;
  std::map<FunctionKey, const onnx::FunctionProto*> functions_;
  std::set<std::string> names_;
  std::map<std::string, int64_t> extra_opsets_;
  int counter_ = 0;
  size_t inlined_nodes_ = 0;
};

}  // namespace

Status inline_functions(onnx::ModelProto& model) { return Inliner(model).run(); }

}  // namespace kiln::importer
