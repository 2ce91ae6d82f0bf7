#include "ops/common/elementwise.h"

namespace kiln::ops {

bool in_type_set(DataType dt, TypeSet set) {
  bool fl = dt == DataType::kFloat32 || dt == DataType::kFloat64 || dt == DataType::kFloat16 ||
            dt == DataType::kBFloat16;
  bool in = is_integer(dt) && !is_sub_byte(dt);
  switch (set) {
    case TypeSet::kFloat: return fl;
    case TypeSet::kNumeric: return fl || in;
    case TypeSet::kInt: return in;
    case TypeSet::kSigned: return fl || (in && is_signed_integer(dt));
    case TypeSet::kBool: return dt == DataType::kBool;
  }
  return false;
}

const char* type_set_name(TypeSet set) {
  switch (set) {
    case TypeSet::kFloat: return "a float type (float32, float64, float16, bfloat16)";
    case TypeSet::kNumeric: return "a numeric type";
    case TypeSet::kInt: return "an integer type";
    case TypeSet::kSigned: return "a float or signed integer type";
    case TypeSet::kBool: return "bool";
  }
  return "";
}

void infer_unary_checked(InferenceContext& ctx, TypeSet set, bool bool_output) {
  const ir::ValueType& t = ctx.input_type(0);
  if (t.dtype != DataType::kUndefined && !in_type_set(t.dtype, set))
    ctx.fail("input dtype " + std::string(dtype_name(t.dtype)) + " is not " + type_set_name(set));
  if (bool_output) {
    ctx.set_output(0, DataType::kBool, t.shape);
  } else {
    ctx.set_output(0, t);
  }
}

std::vector<int64_t> legacy_b_dims(const KernelContext& ctx, const Tensor& a, const Tensor& b) {
  std::vector<int64_t> dims = b.dims();
  if (ctx.version() >= 7 || ctx.attrs().get_int("broadcast", 0) == 0) return dims;
  int64_t rank = static_cast<int64_t>(a.rank());
  int64_t axis = ctx.attrs().get_int("axis", rank - static_cast<int64_t>(b.rank()));
  if (axis < 0) axis += rank;
  int64_t trailing = rank - axis - static_cast<int64_t>(b.rank());
  if (axis < 0 || trailing < 0) ctx.fail("broadcast axis does not fit " + a.describe() + " and " + b.describe());
  dims.insert(dims.end(), static_cast<size_t>(trailing), 1);
  if (broadcast_dims(a.dims(), dims) != a.dims()) ctx.fail("B " + b.describe() + " does not broadcast to A " + a.describe());
  return dims;
}

void infer_broadcast_checked(InferenceContext& ctx, TypeSet set, bool bool_output) {
  DataType dt = ctx.input_dtype(0);
  if (ctx.version() < 7 && ctx.attrs().get_int("broadcast", 0) != 0) {
    if (dt != DataType::kUndefined && !in_type_set(dt, set))
      ctx.fail("input dtype " + std::string(dtype_name(dt)) + " is not " + type_set_name(set));
    ctx.set_output(0, bool_output ? DataType::kBool : dt, ctx.input_type(0).shape);
    return;
  }
  std::vector<const Shape*> shapes;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    DataType di = ctx.input_dtype(i);
    if (di != DataType::kUndefined && dt != DataType::kUndefined && di != dt)
      ctx.fail("inputs have different dtypes: " + std::string(dtype_name(dt)) + " and " + std::string(dtype_name(di)));
    shapes.push_back(ctx.input_shape(i));
  }
  if (dt != DataType::kUndefined && !in_type_set(dt, set))
    ctx.fail("input dtype " + std::string(dtype_name(dt)) + " is not " + type_set_name(set));
  std::optional<Shape> shape;
  try {
    shape = broadcast_shapes(shapes);
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
  ctx.set_output(0, bool_output ? DataType::kBool : dt, shape);
}

}  // namespace kiln::ops
