// A graph rewrite: a cheap, side-effect-free guard (matches) and an action (rewrite) that may
// decline by returning false and leaving the graph untouched (STYLE.md). The pass manager runs
// every enabled pass to a fixed point (late passes
// only when the others have reached theirs).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::passes {

// Where passes say what they changed (verbose builds); empty means silent.
using PassLog = std::function<void(const std::string&)>;

class Pass {
 public:
  virtual ~Pass() = default;
  virtual const char* name() const = 0;
  // Cheap structural test on one node (op type, arity); no side effects.
  virtual bool matches(const ir::Graph& graph, const ir::Node& node) const = 0;
  // Applies the rewrite rooted at `node`; returns true when the graph changed. May decline.
  virtual bool rewrite(ir::Graph& graph, ir::Node& node, const PassLog& log) = 0;
  // A late pass runs only once every other pass has reached its fixed point: it takes what the
  // pattern fusions leave, and must not claim nodes they could still match a round later.
  virtual bool runs_last() const { return false; }
  // Runs the rewrite over the graph until it no longer applies; returns the number of rewrites.
  virtual int run(ir::Graph& graph, const PassLog& log);
};

// Every pass in the order the manager runs them.
std::vector<std::unique_ptr<Pass>> make_all_passes();

}  // namespace kiln::passes
