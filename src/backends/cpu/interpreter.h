// The reference CPU executor: runs an ir::Graph node by node with the registry's reference
// kernels. It is the numerical oracle every optimization and GPU kernel is compared against.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace kiln::cpu {

class Interpreter {
 public:
  // Fails with kUnsupported naming the first node (subgraphs included) that has no CPU kernel
  // or whose opset version Kiln does not implement.
  static Result<std::unique_ptr<Interpreter>> create(std::shared_ptr<const ir::Graph> graph);

  // Inputs in the graph's input order; checks each one's kind, dtype and shape.
  Result<std::vector<RuntimeValue>> run(const std::vector<RuntimeValue>& inputs) const;
  // Inputs by name; every graph input must be given.
  Result<std::vector<RuntimeValue>> run(const std::map<std::string, RuntimeValue>& inputs) const;

  const ir::Graph& graph() const { return *graph_; }

 private:
  struct Scope;
  explicit Interpreter(std::shared_ptr<const ir::Graph> graph) : graph_(std::move(graph)) {}
  Status resolve_versions(const ir::Graph& g);
  std::vector<RuntimeValue> run_graph(const ir::Graph& g, const Scope* parent,
                                      const std::vector<RuntimeValue>& inputs) const;

  std::shared_ptr<const ir::Graph> graph_;
  std::unordered_map<const ir::Node*, int> versions_;
};

// Checks a value given for a graph input against its declared type; symbols binds symbolic
// dims across the inputs of one call ("batch" must agree everywhere).
Status check_input(const ir::Value& declared, const RuntimeValue& given,
                   std::map<std::string, int64_t>& symbols);

}  // namespace kiln::cpu
