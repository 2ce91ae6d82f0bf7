#include "ops/common/axis_copy.h"

#include <cstring>

namespace kiln::ops {
namespace {

void check_copyable(DataType dt) {
  if (is_sub_byte(dt) || dt == DataType::kUndefined)
    throw_error(StatusCode::kUnsupported, "dtype " + std::string(dtype_name(dt)) + " is not supported here");
}

// Copies `count` elements from src[src_off] to dst[dst_off].
void copy_elements(Tensor& dst, int64_t dst_off, const Tensor& src, int64_t src_off, int64_t count) {
  if (count <= 0) return;
  if (src.dtype() == DataType::kString) {
    for (int64_t i = 0; i < count; ++i) dst.strings()[dst_off + i] = src.strings()[src_off + i];
    return;
  }
  size_t es = dtype_size(src.dtype());
  std::memcpy(static_cast<uint8_t*>(dst.raw()) + dst_off * es, static_cast<const uint8_t*>(src.raw()) + src_off * es,
              static_cast<size_t>(count) * es);
}

int64_t product(const std::vector<int64_t>& d, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= d[i];
  return p;
}

}  // namespace

Tensor slice_axis(const Tensor& t, int64_t axis, int64_t start, int64_t len, bool keep_axis) {
  check_copyable(t.dtype());
  const auto& d = t.dims();
  if (axis < 0 || axis >= static_cast<int64_t>(d.size()))
    throw_error(StatusCode::kInvalidArgument, "axis " + std::to_string(axis) + " is out of range for " + t.describe());
  if (start < 0 || len < 0 || start + len > d[axis])
    throw_error(StatusCode::kInvalidArgument, "range [" + std::to_string(start) + ", " + std::to_string(start + len) +
                                                  ") is out of bounds of axis " + std::to_string(axis) + " of " + t.describe());
  std::vector<int64_t> out_dims = d;
  out_dims[axis] = len;
  if (!keep_axis) {
    if (len != 1) throw_error(StatusCode::kInvalidArgument, "cannot drop an axis of length " + std::to_string(len));
    out_dims.erase(out_dims.begin() + axis);
  }
  Tensor out(t.dtype(), out_dims);
  int64_t outer = product(d, 0, axis), inner = product(d, axis + 1, d.size());
  for (int64_t o = 0; o < outer; ++o)
    copy_elements(out, o * len * inner, t, (o * d[axis] + start) * inner, len * inner);
  return out;
}

Tensor concat_axis(const std::vector<Tensor>& parts, int64_t axis, bool new_axis) {
  if (parts.empty()) throw_error(StatusCode::kInvalidArgument, "nothing to concatenate");
  const Tensor& first = parts[0];
  check_copyable(first.dtype());
  std::vector<int64_t> base = first.dims();
  if (new_axis) {
    if (axis < 0 || axis > static_cast<int64_t>(base.size()))
      throw_error(StatusCode::kInvalidArgument, "axis " + std::to_string(axis) + " is out of range");
    base.insert(base.begin() + axis, 1);
  } else if (axis < 0 || axis >= static_cast<int64_t>(base.size())) {
    throw_error(StatusCode::kInvalidArgument, "axis " + std::to_string(axis) + " is out of range for " + first.describe());
  }
  std::vector<int64_t> out_dims = base;
  out_dims[axis] = 0;
  std::vector<std::vector<int64_t>> shapes;
  for (const Tensor& p : parts) {
    if (p.dtype() != first.dtype())
      throw_error(StatusCode::kInvalidArgument, "cannot concatenate " + p.describe() + " with " + first.describe());
    std::vector<int64_t> pd = p.dims();
    if (new_axis) {
      if (pd != first.dims())
        throw_error(StatusCode::kInvalidArgument, "cannot stack " + p.describe() + " with " + first.describe());
      pd.insert(pd.begin() + axis, 1);
    }
    bool ok = pd.size() == base.size();
    for (size_t i = 0; ok && i < pd.size(); ++i) ok = static_cast<int64_t>(i) == axis || pd[i] == base[i];
    if (!ok) throw_error(StatusCode::kInvalidArgument, "cannot concatenate " + p.describe() + " with " + first.describe());
    out_dims[axis] += pd[axis];
    shapes.push_back(std::move(pd));
  }
  Tensor out(first.dtype(), out_dims);
  int64_t outer = product(out_dims, 0, axis), inner = product(out_dims, axis + 1, out_dims.size());
  int64_t offset = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    int64_t n = shapes[k][axis];
    for (int64_t o = 0; o < outer; ++o)
      copy_elements(out, (o * out_dims[axis] + offset) * inner, parts[k], o * n * inner, n * inner);
    offset += n;
  }
  return out;
}

}  // namespace kiln::ops
