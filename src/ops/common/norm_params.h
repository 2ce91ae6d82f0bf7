// Parameters of the normalization ops (scale, bias), read as doubles.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace kiln::ops {

// t broadcast unidirectionally to `dims` (numpy rules; leading 1s of a longer t are dropped),
// flattened row-major. Throws Error naming `what` when t is not a float tensor or does not
// broadcast to dims.
std::vector<double> broadcast_param(const Tensor& t, const std::vector<int64_t>& dims, const std::string& what);

}  // namespace kiln::ops
