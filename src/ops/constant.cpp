// Constant: a tensor given by exactly one of its value attributes.
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

Tensor constant_value(const ir::Node& node) {
  const auto& a = node.attrs();
  int given = 0;
  for (const char* name : {"value", "sparse_value", "value_float", "value_floats", "value_int", "value_ints",
                           "value_string", "value_strings"})
    given += a.has(name);
  if (given != 1) throw_error(StatusCode::kInvalidModel, "Constant needs exactly one value attribute, has " + std::to_string(given));
  if (a.has("value")) return a.tensor("value");
  if (a.has("sparse_value")) return a.tensor("sparse_value");
  if (a.has("value_float")) return Tensor::scalar_f32(a.get_float("value_float", 0));
  if (a.has("value_int")) return Tensor::scalar_i64(a.get_int("value_int", 0));
  if (a.has("value_floats")) {
    auto v = a.get_floats("value_floats");
    Tensor t(DataType::kFloat32, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.data<float>());
    return t;
  }
  if (a.has("value_ints")) return Tensor::from_i64(a.get_ints("value_ints"));
  if (a.has("value_string")) {
    Tensor t(DataType::kString, {});
    t.strings()[0] = a.get_string("value_string", "");
    return t;
  }
  auto v = a.get_strings("value_strings");
  Tensor t(DataType::kString, {static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.strings().begin());
  return t;
}

void constant_cpu(KernelContext& ctx) { ctx.set_output(0, constant_value(ctx.node())); }

void infer_constant(InferenceContext& ctx) {
  Tensor t = constant_value(ctx.node());
  ctx.set_output(0, t.dtype(), Shape::from_dims(t.dims()));
}

}  // namespace

KILN_REGISTER_OP(Constant, {"", "Constant", {1, 9, 11, 12, 13, 19, 21, 23, 24, 25}, infer_constant, constant_cpu});

}  // namespace kiln::ops
