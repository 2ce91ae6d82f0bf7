// Copying ranges of a tensor along one axis: the building block of splitting a tensor into a
// sequence, stacking sequence items and slicing scan inputs. Works for every full-byte dtype
// and strings.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace kiln::ops {

// Elements [start, start + len) of `t` along `axis` (already normalized). With keep_axis false
// (len must be 1) the axis is dropped.
Tensor slice_axis(const Tensor& t, int64_t axis, int64_t start, int64_t len, bool keep_axis = true);
// Concatenates along `axis`; with new_axis, stacks the (equal-shaped) parts along a new axis
// inserted at `axis`. Throws Error on mismatched dtypes or shapes. `parts` must not be empty.
Tensor concat_axis(const std::vector<Tensor>& parts, int64_t axis, bool new_axis);

}  // namespace kiln::ops
