// Random input tensors for a model's inputs (kiln run --random-inputs, kiln compare): uniform
// in [-1, 1) for floats, [0, 10) for integers; never zeros, so unwritten outputs show.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace kiln::io {

Tensor random_tensor(DataType dt, const std::vector<int64_t>& dims, uint64_t seed);

// One tensor per graph input. Symbolic dims take their value from `dims` (by symbol name) or,
// when absent there, from default_dim.
Result<std::map<std::string, RuntimeValue>> random_inputs(const ir::Graph& graph, uint64_t seed,
                                                          const std::map<std::string, int64_t>& dims = {},
                                                          int64_t default_dim = 1);

}  // namespace kiln::io
