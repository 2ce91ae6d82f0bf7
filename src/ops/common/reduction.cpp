#include "ops/common/reduction.h"

#include <algorithm>
#include <string>

#include "core/status.h"

namespace kiln::ops {

std::vector<bool> reduction_mask(const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<bool> mask(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    if (a < -rank || a >= rank)
      throw_error(StatusCode::kInvalidArgument,
                  "axis " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
    int64_t n = a < 0 ? a + rank : a;
    if (mask[n]) throw_error(StatusCode::kInvalidArgument, "axis " + std::to_string(a) + " is given twice");
    mask[n] = true;
  }
  return mask;
}

std::vector<int64_t> reduced_dims(const std::vector<int64_t>& dims, const std::vector<bool>& mask, bool keepdims) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (!mask[i]) out.push_back(dims[i]);
    else if (keepdims) out.push_back(1);
  }
  return out;
}

Shape reduced_shape(const Shape& shape, const std::vector<bool>& mask, bool keepdims) {
  std::vector<Dim> out;
  for (size_t i = 0; i < shape.rank(); ++i) {
    if (!mask[i]) out.push_back(shape[i]);
    else if (keepdims) out.push_back(Dim(1));
  }
  return Shape(out);
}

StridedOdometer::StridedOdometer(std::vector<int64_t> dims, std::vector<int64_t> strides)
    : dims_(std::move(dims)), strides_(std::move(strides)), index_(dims_.size(), 0) {
  for (int64_t d : dims_) count_ *= d;
}

void StridedOdometer::next() {
  for (size_t i = dims_.size(); i-- > 0;) {
    offset_ += strides_[i];
    if (++index_[i] < dims_[i]) return;
    offset_ -= strides_[i] * dims_[i];
    index_[i] = 0;
  }
}

void StridedOdometer::reset() {
  std::fill(index_.begin(), index_.end(), 0);
  offset_ = 0;
}

static StridedOdometer odometer_of(const std::vector<int64_t>& dims, const std::vector<bool>& mask, bool reduced) {
  auto strides = row_major_strides(dims);
  std::vector<int64_t> d, s;
  for (size_t i = 0; i < dims.size(); ++i)
    if (mask[i] == reduced) {
      d.push_back(dims[i]);
      s.push_back(strides[i]);
    }
  return StridedOdometer(d, s);
}

ReductionLayout::ReductionLayout(const std::vector<int64_t>& dims, const std::vector<bool>& mask)
    : outer(odometer_of(dims, mask, false)), inner(odometer_of(dims, mask, true)) {}

std::vector<int64_t> row_major_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

int64_t dims_product(const std::vector<int64_t>& dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < dims.size(); ++i) p *= dims[i];
  return p;
}

}  // namespace kiln::ops
