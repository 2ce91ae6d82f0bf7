#include "ops/common/broadcast.h"

#include <algorithm>

namespace kiln::ops {

std::vector<int64_t> broadcast_dims(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      throw_error(StatusCode::kInvalidArgument,
                  "shapes " + dims_to_string(a) + " and " + dims_to_string(b) + " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> broadcast_dims(const std::vector<std::vector<int64_t>>& all) {
  std::vector<int64_t> out;
  for (const auto& d : all) out = broadcast_dims(out, d);
  return out;
}

std::optional<Shape> broadcast_shapes(const std::vector<const Shape*>& shapes) {
  size_t rank = 0;
  for (const Shape* s : shapes) {
    if (!s) return std::nullopt;
    rank = std::max(rank, s->rank());
  }
  std::vector<Dim> out(rank, Dim(1));
  for (size_t i = 0; i < rank; ++i) {
    Dim result(1);
    bool unknown = false;
    for (const Shape* s : shapes) {
      if (i < rank - s->rank()) continue;
      const Dim& d = (*s)[i - (rank - s->rank())];
      if (d.is_constant() && d.value() == 1) continue;
      if (result.is_constant() && result.value() == 1) {
        result = d;
      } else if (d.is_constant() && result.is_constant()) {
        if (d.value() != result.value())
          throw_error(StatusCode::kInvalidModel, "dims " + d.to_string() + " and " + result.to_string() + " do not broadcast");
      } else if (d != result) {
        if (d.is_constant()) result = d;  // a symbol must equal the constant at run time
        else if (!result.is_constant()) unknown = true;
      }
    }
    out[i] = unknown ? Dim::unknown() : result;
  }
  return Shape(std::move(out));
}

std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& in_dims, const std::vector<int64_t>& out_dims) {
  std::vector<int64_t> strides(out_dims.size(), 0);
  int64_t stride = 1;
  size_t offset = out_dims.size() - in_dims.size();
  for (size_t i = in_dims.size(); i-- > 0;) {
    strides[i + offset] = in_dims[i] == 1 ? 0 : stride;
    stride *= in_dims[i];
  }
  return strides;
}

BroadcastWalker::BroadcastWalker(const std::vector<int64_t>& out_dims, const std::vector<std::vector<int64_t>>& in_dims)
    : out_dims_(out_dims), index_(out_dims.size(), 0), offsets_(in_dims.size(), 0) {
  for (const auto& d : in_dims) strides_.push_back(broadcast_strides(d, out_dims));
}

void BroadcastWalker::next() {
  for (size_t axis = out_dims_.size(); axis-- > 0;) {
    if (++index_[axis] < out_dims_[axis]) {
      for (size_t k = 0; k < offsets_.size(); ++k) offsets_[k] += strides_[k][axis];
      return;
    }
    for (size_t k = 0; k < offsets_.size(); ++k) offsets_[k] -= strides_[k][axis] * (out_dims_[axis] - 1);
    index_[axis] = 0;
  }
}

}  // namespace kiln::ops
