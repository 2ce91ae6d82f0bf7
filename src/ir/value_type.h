// The static type of a graph value: what it holds (tensor, sequence, optional), its element
// dtype, its shape (possibly symbolic, possibly of unknown rank) and its layout.
#pragma once
#include <optional>
#include <string>

#include "core/dtype.h"
#include "core/shape.h"

namespace kiln::ir {

enum class ValueKind { kTensor, kSequence, kOptionalTensor, kOptionalSequence, kUnknown };

// Memory layout of a tensor value. Layout is a property of values, not of ops (DESIGN.md): a
// backend's lowering assigns it and inserts reorders where producer and consumer disagree.
enum class Layout { kRowMajor, kNHWC };

struct ValueType {
  ValueKind kind = ValueKind::kTensor;
  DataType dtype = DataType::kUndefined;  // element dtype (of the tensor or sequence items)
  std::optional<Shape> shape;             // nullopt: rank unknown
  Layout layout = Layout::kRowMajor;

  static ValueType tensor(DataType dt, std::optional<Shape> shape = std::nullopt) {
    ValueType t;
    t.dtype = dt;
    t.shape = std::move(shape);
    return t;
  }
  static ValueType unknown() {
    ValueType t;
    t.kind = ValueKind::kUnknown;
    return t;
  }
  bool is_tensor() const { return kind == ValueKind::kTensor; }
  bool has_static_shape() const { return shape && shape->is_static(); }
  std::string to_string() const;  // "float32[1,3,?,?]", "seq(float32)", ...
};

}  // namespace kiln::ir
