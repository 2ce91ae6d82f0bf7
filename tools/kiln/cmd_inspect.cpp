// kiln inspect model.onnx: inputs, outputs, op histogram, opsets, parameters, unsupported ops.
#include <cstdio>
#include <map>
#include <set>

#include "commands.h"
#include "ir/printer.h"
#include "onnx/importer.h"
#include "ops/registry.h"

namespace kiln::cli {
namespace {

void count_ops(const ir::Graph& g, std::map<std::string, int>& histogram, std::set<std::string>& unsupported_ops) {
  for (const auto& n : g.nodes()) {
    std::string key = (n->domain().empty() ? "" : n->domain() + "::") + n->op_type();
    ++histogram[key];
    auto v = ops::OpRegistry::global().resolve(*n, g.opset(n->domain()));
    if (!v.is_ok()) unsupported_ops.insert(key + " (" + v.status().message() + ")");
  }
  for (const ir::Graph* sub : g.subgraphs()) count_ops(*sub, histogram, unsupported_ops);
}

int inspect(const std::string& path, bool text, bool dot) {
  importer::ImportOptions options;
  auto model = importer::import_model_file(path, options);
  if (!model.is_ok()) return report(model.status());
  const ir::Graph& g = *model->graph;
  if (dot) {
    std::printf("%s", ir::to_dot(g).c_str());
    return 0;
  }
  if (text) {
    std::printf("%s", ir::to_text(g).c_str());
    return 0;
  }
  std::printf("model      %s\n", path.c_str());
  std::printf("producer   %s %s (IR version %lld)\n", model->producer_name.c_str(), model->producer_version.c_str(),
              static_cast<long long>(model->ir_version));
  std::printf("opsets    ");
  for (const auto& [domain, version] : g.opsets())
    std::printf(" %s=%lld", domain.empty() ? "ai.onnx" : domain.c_str(), static_cast<long long>(version));
  std::printf("\ninputs\n");
  for (const ir::Value* v : g.inputs()) std::printf("  %-24s %s\n", v->name().c_str(), v->type().to_string().c_str());
  std::printf("outputs\n");
  for (const ir::Value* v : g.outputs()) std::printf("  %-24s %s\n", v->name().c_str(), v->type().to_string().c_str());
  int64_t params = 0, param_bytes = 0, tensors = 0;
  for (const auto& v : g.values())
    if (v->is_constant()) {
      params += v->constant().numel();
      param_bytes += static_cast<int64_t>(v->constant().nbytes());
      ++tensors;
    }
  std::printf("parameters %lld in %lld initializers (%.2f MiB)\n", static_cast<long long>(params),
              static_cast<long long>(tensors), param_bytes / 1048576.0);
  std::map<std::string, int> histogram;
  std::set<std::string> unsupported_ops;
  count_ops(g, histogram, unsupported_ops);
  std::printf("nodes      %zu\n", g.nodes().size());
  for (const auto& [op, count] : histogram) std::printf("  %-28s %d\n", op.c_str(), count);
  if (unsupported_ops.empty()) {
    std::printf("unsupported ops: none\n");
  } else {
    std::printf("unsupported ops:\n");
    for (const auto& u : unsupported_ops) std::printf("  %s\n", u.c_str());
  }
  return 0;
}

}  // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("inspect", "Describe a model: inputs, outputs, ops, opsets, parameters");
  auto path = std::make_shared<std::string>();
  auto text = std::make_shared<bool>(false);
  auto dot = std::make_shared<bool>(false);
  auto load_profile = std::make_shared<bool>(false);
  cmd->add_option("model", *path, "model.onnx or model.kiln")->required();
  cmd->add_flag("--graph", *text, "print the whole graph as text");
  cmd->add_flag("--dot", *dot, "print the graph in Graphviz DOT");
  cmd->add_flag("--load-profile", *load_profile,
                "engines: where the load time goes (read, checksum, parse, weights, each layer's kernel, "
                "the first execution context)");
  cmd->callback([=, &exit_code] {
    if (*load_profile && !is_engine_file(*path)) {
      exit_code = report(invalid_argument("--load-profile takes an engine file (.kiln), not '" + *path + "'"));
      return;
    }
    exit_code = is_engine_file(*path) ? inspect_engine(*path, *dot, *load_profile) : inspect(*path, *text, *dot);
  });
}

}  // namespace kiln::cli
