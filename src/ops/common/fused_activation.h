// The activations a kiln:: fused node can apply after its main op (docs/FUSED_OPS.md): one
// definition of each, computed in double, shared by the fused ops' reference kernels.
#pragma once
#include <cmath>
#include <string>

namespace kiln::ops {

// True when `name` is an activation fused ops accept ("" = none).
bool is_fused_activation(const std::string& name);

// act(x) for the named activation with its alpha/beta (their meaning per activation is in
// docs/FUSED_OPS.md). Throws Error for an unknown name.
double apply_fused_activation(const std::string& name, double alpha, double beta, double x);

}  // namespace kiln::ops
