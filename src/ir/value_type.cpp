#include "ir/value_type.h"

namespace kiln::ir {

std::string ValueType::to_string() const {
  std::string t = std::string(dtype_name(dtype));
  std::string s = shape ? t + shape->to_string() : t + "[*]";
  switch (kind) {
    case ValueKind::kTensor: return s;
    case ValueKind::kSequence: return "seq(" + s + ")";
    case ValueKind::kOptionalTensor: return "optional(" + s + ")";
    case ValueKind::kOptionalSequence: return "optional(seq(" + s + "))";
    case ValueKind::kUnknown: return "unknown";
  }
  return "?";
}

}  // namespace kiln::ir
