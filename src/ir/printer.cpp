#include "ir/printer.h"

#include <sstream>

namespace kiln::ir {
namespace {

std::string attribute_to_string(const Attribute& a) {
  std::ostringstream os;
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, float>) os << v;
        else if constexpr (std::is_same_v<T, std::string>) os << '"' << v << '"';
        else if constexpr (std::is_same_v<T, Tensor>) os << "tensor " << v.describe();
        else if constexpr (std::is_same_v<T, std::shared_ptr<Graph>>) os << "graph '" << v->name() << "'";
        else if constexpr (std::is_same_v<T, ValueType>) os << v.to_string();
        else if constexpr (std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, std::vector<float>>) {
          os << '[';
          for (size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
          os << ']';
        } else {
          os << '[' << v.size() << " items]";
        }
      },
      a);
  return os.str();
}

void print_graph(const Graph& g, std::ostringstream& os, const std::string& indent) {
  os << indent << "graph " << g.name() << " (";
  for (size_t i = 0; i < g.inputs().size(); ++i)
    os << (i ? ", " : "") << g.inputs()[i]->name() << ": " << g.inputs()[i]->type().to_string();
  os << ")\n";
  for (const auto& v : g.values())
    if (v->is_constant()) os << indent << "  const " << v->name() << ": " << v->constant().describe() << "\n";
  for (const auto& n : g.nodes()) {
    os << indent << "  ";
    for (size_t i = 0; i < n->outputs().size(); ++i) {
      const Value* o = n->outputs()[i];
      os << (i ? ", " : "") << (o ? o->name() + ": " + o->type().to_string() : "_");
    }
    os << " = " << (n->domain().empty() ? "" : n->domain() + "::") << n->op_type() << "[" << n->name() << "](";
    for (size_t i = 0; i < n->inputs().size(); ++i) os << (i ? ", " : "") << (n->inputs()[i] ? n->inputs()[i]->name() : "_");
    os << ")";
    bool first = true;
    for (const auto& [name, a] : n->attrs().all()) {
      os << (first ? " {" : ", ") << name << "=" << attribute_to_string(a);
      first = false;
    }
    if (!first) os << "}";
    if (!n->fused_from().empty()) {
      os << "  # fused from";
      for (const auto& f : n->fused_from()) os << " " << f;
    }
    os << "\n";
    for (const auto& [name, a] : n->attrs().all()) {
      if (auto* sub = std::get_if<std::shared_ptr<Graph>>(&a)) print_graph(**sub, os, indent + "    ");
      if (auto* subs = std::get_if<std::vector<std::shared_ptr<Graph>>>(&a))
        for (const auto& s : *subs) print_graph(*s, os, indent + "    ");
    }
  }
  os << indent << "  return ";
  for (size_t i = 0; i < g.outputs().size(); ++i) os << (i ? ", " : "") << g.outputs()[i]->name();
  os << "\n";
}

std::string dot_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string to_text(const Graph& graph) {
  std::ostringstream os;
  print_graph(graph, os, "");
  return os.str();
}

std::string to_dot(const Graph& graph) {
  std::ostringstream os;
  os << "digraph \"" << dot_escape(graph.name()) << "\" {\n  rankdir=TB;\n  node [shape=box, style=rounded];\n";
  for (const Value* in : graph.inputs())
    os << "  \"v:" << dot_escape(in->name()) << "\" [shape=ellipse, label=\"" << dot_escape(in->name()) << "\\n"
       << dot_escape(in->type().to_string()) << "\"];\n";
  for (const Value* out : graph.outputs())
    os << "  \"o:" << dot_escape(out->name()) << "\" [shape=ellipse, label=\"" << dot_escape(out->name()) << "\"];\n";
  for (const auto& n : graph.nodes()) {
    std::string label = n->op_type() + "\\n" + n->name();
    if (!n->fused_from().empty()) label += "\\n(" + std::to_string(n->fused_from().size()) + " fused)";
    os << "  \"n:" << dot_escape(n->name()) << "\" [label=\"" << dot_escape(label) << "\"];\n";
  }
  auto source = [&](const Value* v) -> std::string {
    if (v->producer() && v->owner() == &graph) return "\"n:" + dot_escape(v->producer()->name()) + "\"";
    for (const Value* in : graph.inputs())
      if (in == v) return "\"v:" + dot_escape(v->name()) + "\"";
    return "";
  };
  for (const auto& n : graph.nodes())
    for (const Value* in : n->inputs()) {
      if (!in) continue;
      std::string src = source(in);
      if (src.empty()) continue;
      os << "  " << src << " -> \"n:" << dot_escape(n->name()) << "\" [label=\"" << dot_escape(in->type().to_string())
         << "\", fontsize=9];\n";
    }
  for (const Value* out : graph.outputs()) {
    std::string src = source(out);
    if (!src.empty()) os << "  " << src << " -> \"o:" << dot_escape(out->name()) << "\";\n";
  }
  os << "}\n";
  return os.str();
}

}  // namespace kiln::ir
