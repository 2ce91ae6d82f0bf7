// One op on one backend vs the CPU reference: a single-node graph with random inputs (never
// zeros), output buffers poisoned before the run, and a tolerance per precision.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"

namespace kiln::gpu_test {

struct OpCase {
  std::string name;
  std::string op_type;
  std::vector<std::pair<DataType, std::vector<int64_t>>> inputs;  // runtime inputs
  std::map<size_t, Tensor> constants;  // input index -> constant (weights, axes, ...)
  std::function<void(ir::Node&)> set_attrs;
  double tolerance = 1e-4;  // relative to max |reference|, see compare()
  int64_t opset = 17;
  std::string domain;  // "kiln" for Kiln's fused ops
};

// Builds the single-node graph with static shapes inferred.
std::shared_ptr<ir::Graph> build_graph(const OpCase& c);

// Runs the case on every CUDA tactic that supports it (each parameter set) and checks the
// output against the CPU reference (gtest assertions). Other test files add their own cases.
void run_case(const OpCase& c);

}  // namespace kiln::gpu_test
