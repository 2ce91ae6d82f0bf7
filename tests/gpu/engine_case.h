// One op as a whole CUDA engine (Builder -> Engine -> ExecutionContext) vs the CPU reference:
// for ops with several outputs, inputs that must hold given values at run time (axes, pads),
// and to check which tactic the builder picked. Random inputs elsewhere (never zeros).
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"

namespace kiln::gpu_test {

struct CaseInput {
  DataType dtype = DataType::kFloat32;
  std::vector<int64_t> dims;
  std::optional<Tensor> value;  // given value (random when empty)
  bool constant = false;        // a graph constant (weights, axes) rather than a graph input
  bool omitted = false;         // an omitted optional input ("")
};

struct EngineCase {
  std::string name;
  std::string op_type;
  std::vector<CaseInput> inputs;
  std::function<void(ir::Node&)> set_attrs;
  double tolerance = 1e-4;  // relative to max |reference| per output; 0 = exact
  int64_t opset = 17;
  size_t num_outputs = 1;
  std::string tactic;  // the tactic id the builder must pick for the node ("cuda.reduce")
};

CaseInput random_input(DataType dt, std::vector<int64_t> dims);
CaseInput given_input(Tensor value);     // a graph input with this value at run time
CaseInput constant_input(Tensor value);  // a graph constant

void run_engine_case(const EngineCase& c);

}  // namespace kiln::gpu_test
