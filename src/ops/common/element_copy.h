// Dtype-agnostic element moves for data-movement ops: copies whole elements by dtype_size()
// bytes (or std::string for string tensors), so every dtype works without a type switch.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace kiln::ops {

class ElementCopier {
 public:
  // src and dst must have the same dtype.
  ElementCopier(const Tensor& src, Tensor& dst)
      : is_string_(src.dtype() == DataType::kString), esize_(dtype_size(src.dtype())) {
    if (src.dtype() != dst.dtype())
      throw_error(StatusCode::kInternal, "ElementCopier: dtype mismatch " + src.describe() + " vs " + dst.describe());
    if (is_string_) {
      src_strings_ = &src.strings();
      dst_strings_ = &dst.strings();
    } else {
      src_ = static_cast<const uint8_t*>(src.raw());
      dst_ = static_cast<uint8_t*>(dst.raw());
    }
  }
  void copy(int64_t src_index, int64_t dst_index) const {
    if (is_string_) {
      (*dst_strings_)[dst_index] = (*src_strings_)[src_index];
      return;
    }
    const uint8_t* s = src_ + src_index * static_cast<int64_t>(esize_);
    uint8_t* d = dst_ + dst_index * static_cast<int64_t>(esize_);
    switch (esize_) {
      case 1: *d = *s; break;
      case 2: std::memcpy(d, s, 2); break;
      case 4: std::memcpy(d, s, 4); break;
      case 8: std::memcpy(d, s, 8); break;
      default: std::memcpy(d, s, esize_); break;
    }
  }
  // Copies n consecutive elements.
  void copy_run(int64_t src_index, int64_t dst_index, int64_t n) const {
    if (n <= 0) return;
    if (is_string_) {
      for (int64_t i = 0; i < n; ++i) (*dst_strings_)[dst_index + i] = (*src_strings_)[src_index + i];
      return;
    }
    std::memcpy(dst_ + dst_index * static_cast<int64_t>(esize_), src_ + src_index * static_cast<int64_t>(esize_),
                static_cast<size_t>(n) * esize_);
  }

 private:
  bool is_string_;
  size_t esize_;
  const uint8_t* src_ = nullptr;
  uint8_t* dst_ = nullptr;
  const std::vector<std::string>* src_strings_ = nullptr;
  std::vector<std::string>* dst_strings_ = nullptr;
};

// Row-major strides (in elements) of dims.
inline std::vector<int64_t> row_major_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

// Advances a multi-index over dims in row-major order; returns false after the last one.
inline bool next_index(std::vector<int64_t>& index, const std::vector<int64_t>& dims) {
  for (size_t i = dims.size(); i-- > 0;) {
    if (++index[i] < dims[i]) return true;
    index[i] = 0;
  }
  return false;
}

// A tensor of the same dtype and dims as t sharing no buffer, values copied.
inline Tensor copy_tensor(const Tensor& t) { return t.clone(); }

// Product of dims[begin, end).
inline int64_t dims_product(const std::vector<int64_t>& dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < dims.size(); ++i) p *= dims[i];
  return p;
}

}  // namespace kiln::ops
