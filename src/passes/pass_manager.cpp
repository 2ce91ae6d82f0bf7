#include "passes/pass_manager.h"

#include <algorithm>

#include "ops/shape_inference.h"
#include "passes/channels_last.h"
#include "passes/pass.h"
#include "plan/views.h"

namespace kiln::passes {

int Pass::run(ir::Graph& graph, const PassLog& log) {
  int applied = 0;
  // Rewrites remove nodes, so the walk restarts from the top after each change.
  for (bool changed = true; changed;) {
    changed = false;
    for (ir::Node* node : graph.node_list()) {
      if (!matches(graph, *node) || !rewrite(graph, *node, log)) continue;
      ++applied;
      changed = true;
      Status s = graph.topological_sort();
      if (!s.is_ok()) throw Error(StatusCode::kInternal, std::string(name()) + " made a cycle: " + s.message());
      break;
    }
  }
  return applied;
}

std::vector<std::string> pass_names() {
  std::vector<std::string> names;
  for (const auto& p : make_all_passes()) names.push_back(p->name());
  names.push_back(kChannelsLastPass);  // a lowering step the builder runs after precision
  names.push_back(plan::kViewAliasPass);  // the builder's views: aliases instead of copy kernels
  return names;
}

Status optimize(ir::Graph& graph, const PassOptions& options) {
  auto passes = make_all_passes();
  const std::vector<std::string> names = pass_names();
  for (const std::string& d : options.disabled) {
    if (std::find(names.begin(), names.end(), d) == names.end()) {
      std::string all;
      for (const auto& name : names) all += (all.empty() ? "" : ", ") + name;
      return invalid_argument("unknown pass '" + d + "' (passes: " + all + ")");
    }
  }
  auto enabled = [&](const Pass& p) {
    return std::find(options.disabled.begin(), options.disabled.end(), p.name()) == options.disabled.end();
  };
  size_t before = graph.nodes().size();
  try {
    KILN_RETURN_IF_ERROR(graph.topological_sort());
    // Each round can make one more layer's shapes static (a transformer's reshapes depend on
    // the previous layer's), so deep models need many rounds; rounds are cheap.
    constexpr int kMaxRounds = 200;
    for (int round = 1; round <= kMaxRounds; ++round) {
      auto run_passes = [&](bool late) {
        int total = 0;
        for (auto& pass : passes) {
          if (!enabled(*pass) || pass->runs_last() != late) continue;
          int n = pass->run(graph, options.log);
          if (n > 0 && options.log)
            options.log("pass " + std::string(pass->name()) + ": " + std::to_string(n) + " rewrite(s) in round " +
                        std::to_string(round));
          total += n;
        }
        return total;
      };
      int total = run_passes(false);
      if (total == 0) total = run_passes(true);
      graph.remove_unused_values();
      // Folded shapes make more shapes static, which lets the next round go further.
      KILN_RETURN_IF_ERROR(ops::infer_shapes(graph));
      if (total == 0) break;
      if (round == kMaxRounds && options.log)
        options.log("optimizer: stopped after " + std::to_string(kMaxRounds) + " rounds that still changed the graph");
    }
  } catch (const Error& e) {
    return e.to_status().with_context("while optimizing the graph");
  }
  if (options.log)
    options.log("optimizer: " + std::to_string(before) + " nodes -> " + std::to_string(graph.nodes().size()) +
                " nodes");
  return Status::ok();
}

}  // namespace kiln::passes
