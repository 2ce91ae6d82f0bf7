// Small shape-inference helpers for shape and data-movement ops.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "core/shape.h"

namespace kiln::ops {

// Product of dims[begin, end): constant when all are constant; the single non-constant dim when
// all others are 1; unknown otherwise (also when the product overflows int64: no tensor has it).
inline Dim dim_product(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  const Dim* sym = nullptr;
  int non_const = 0;
  for (size_t i = begin; i < end; ++i) {
    if (s[i].is_constant()) {
      if (__builtin_mul_overflow(p, s[i].value(), &p)) return Dim::unknown();
    } else {
      ++non_const;
      sym = &s[i];
    }
  }
  if (non_const == 0) return Dim(p);
  if (non_const == 1 && p == 1) return *sym;
  return Dim::unknown();
}

// A shape of the given rank with all dims unknown.
inline Shape unknown_dims(size_t rank) { return Shape(std::vector<Dim>(rank, Dim::unknown())); }

// Length of a 1-D input when its shape is known with a constant dim.
inline std::optional<int64_t> static_length_1d(const Shape* s) {
  if (!s || s->rank() != 1 || !(*s)[0].is_constant()) return std::nullopt;
  return (*s)[0].value();
}

}  // namespace kiln::ops
