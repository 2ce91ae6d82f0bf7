// Reductions over a set of axes: which axes, the output dims, and an odometer that walks the
// kept and the reduced axes of a row-major tensor. Shared by the Reduce* ops, MVN and norms.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "core/shape.h"

namespace kiln::ops {

// Per-axis flags for `axes` (negative values count from the end). Throws Error on an axis out
// of range or given twice.
std::vector<bool> reduction_mask(const std::vector<int64_t>& axes, int64_t rank);
// Input dims with the masked axes set to 1 (keepdims) or removed.
std::vector<int64_t> reduced_dims(const std::vector<int64_t>& dims, const std::vector<bool>& mask, bool keepdims);
Shape reduced_shape(const Shape& shape, const std::vector<bool>& mask, bool keepdims);

// Walks a multi-index over `dims` (last dim fastest) and tracks the flat offset under `strides`.
class StridedOdometer {
 public:
  StridedOdometer(std::vector<int64_t> dims, std::vector<int64_t> strides);
  int64_t offset() const { return offset_; }
  int64_t count() const { return count_; }  // product of dims
  void next();
  void reset();

 private:
  std::vector<int64_t> dims_, strides_, index_;
  int64_t offset_ = 0, count_ = 1;
};

// Splits a row-major tensor of `dims` into the kept axes (outer, in output order) and the
// reduced axes (inner). For each output element o (outer.next() after each), the elements it
// reduces are at outer.offset() + inner.offset() for each step of inner.
struct ReductionLayout {
  ReductionLayout(const std::vector<int64_t>& dims, const std::vector<bool>& mask);
  StridedOdometer outer, inner;
};

// Row-major strides of dims.
std::vector<int64_t> row_major_strides(const std::vector<int64_t>& dims);
// Product of dims[begin, end).
int64_t dims_product(const std::vector<int64_t>& dims, size_t begin, size_t end);

}  // namespace kiln::ops
