#include "ops/common/attention_math.h"

#include <string>

namespace kiln::ops {

void check_scratch(const std::vector<int64_t>& dims, const char* what) {
  auto n = checked_element_count(dims);
  if (!n || *n > max_tensor_bytes() / static_cast<int64_t>(sizeof(double)))
    throw_error(StatusCode::kInvalidArgument,
                std::string(what) + " of shape " + dims_to_string(dims) + " exceeds the tensor size limit");
}

RoundFn round_fn_for(DataType dt) {
  switch (dt) {
    case DataType::kFloat32: return &round_to<float>;
    case DataType::kFloat64: return &round_to<double>;
    case DataType::kFloat16: return &round_to<Float16>;
    case DataType::kBFloat16: return &round_to<BFloat16>;
    default: return nullptr;
  }
}

Dim dim_add(InferenceContext& ctx, const Dim& a, const Dim& b) {
  if (a.is_constant() && b.is_constant()) return Dim(a.value() + b.value());
  if (a.is_constant() && a.value() == 0) return b;
  if (b.is_constant() && b.value() == 0) return a;
  return ctx.new_symbol();
}

Dim dim_mul(InferenceContext& ctx, const Dim& a, const Dim& b) {
  if (a.is_constant() && b.is_constant()) return Dim(a.value() * b.value());
  if (a.is_constant() && a.value() == 1) return b;
  if (b.is_constant() && b.value() == 1) return a;
  return ctx.new_symbol();
}

Dim dim_div(InferenceContext& ctx, const Dim& a, const Dim& b, const char* what) {
  if (a.is_constant() && b.is_constant()) {
    if (b.value() <= 0 || a.value() % b.value() != 0)
      ctx.fail(std::string(what) + ": " + a.to_string() + " is not divisible by " + b.to_string());
    return Dim(a.value() / b.value());
  }
  if (b.is_constant() && b.value() == 1) return a;
  return ctx.new_symbol();
}

}  // namespace kiln::ops
