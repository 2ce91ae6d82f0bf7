// Numpy-style multidirectional broadcasting: shape rules (static and symbolic) and an index
// walker that maps each output element to its inputs' elements.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "core/shape.h"
#include "core/status.h"

namespace kiln::ops {

// Throws Error naming the shapes when they do not broadcast.
std::vector<int64_t> broadcast_dims(const std::vector<int64_t>& a, const std::vector<int64_t>& b);
std::vector<int64_t> broadcast_dims(const std::vector<std::vector<int64_t>>& all);
// Symbolic version for shape inference; unknown rank in -> nullopt out.
std::optional<Shape> broadcast_shapes(const std::vector<const Shape*>& shapes);

// Strides (in elements) to read `in_dims` broadcast to `out_dims`: 0 where broadcast.
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& in_dims, const std::vector<int64_t>& out_dims);

// For each output element, in order, the flat offset into each input.
// Usage: BroadcastWalker w(out_dims, {a_dims, b_dims}); for (i...) { w.offset(0); ...; w.next(); }
class BroadcastWalker {
 public:
  BroadcastWalker(const std::vector<int64_t>& out_dims, const std::vector<std::vector<int64_t>>& in_dims);
  int64_t offset(size_t input) const { return offsets_[input]; }
  void next();

 private:
  std::vector<int64_t> out_dims_, index_;
  std::vector<std::vector<int64_t>> strides_;
  std::vector<int64_t> offsets_;
};

}  // namespace kiln::ops
