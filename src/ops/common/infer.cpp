#include "ops/common/infer.h"

#include "ops/common/broadcast.h"

namespace kiln::ops {

void infer_same_as_input0(InferenceContext& ctx) {
  ir::ValueType t = ctx.input_type(0);
  ctx.set_output(0, t);
}

static std::optional<Shape> broadcast_inputs(InferenceContext& ctx) {
  std::vector<const Shape*> shapes;
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i)) shapes.push_back(ctx.input_shape(i));
  try {
    return broadcast_shapes(shapes);
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
}

DataType common_dtype(const InferenceContext& ctx, std::initializer_list<size_t> indices, const char* what) {
  DataType common = DataType::kUndefined;
  for (size_t i : indices) {
    if (!ctx.has_input(i)) continue;
    DataType dt = ctx.input_dtype(i);
    if (dt == DataType::kUndefined) continue;
    if (common != DataType::kUndefined && dt != common) ctx.fail(std::string(what) + " must have the same dtype");
    common = dt;
  }
  return common;
}

void infer_broadcast(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (dt == DataType::kUndefined)  // an untyped subgraph input: take the first known dtype
    for (size_t i = 1; i < ctx.num_inputs() && dt == DataType::kUndefined; ++i)
      if (ctx.has_input(i)) dt = ctx.input_dtype(i);
  ctx.set_output(0, dt, broadcast_inputs(ctx));
}

void infer_broadcast_bool(InferenceContext& ctx) { ctx.set_output(0, DataType::kBool, broadcast_inputs(ctx)); }

int64_t normalize_axis(int64_t axis, int64_t rank, const char* what) {
  if (axis < -rank || axis >= rank)
    throw_error(StatusCode::kInvalidArgument,
                std::string(what) + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

std::optional<std::vector<int64_t>> constant_ints(const InferenceContext& ctx, size_t input) {
  const Tensor* t = ctx.input_constant(input);
  if (!t || !is_integer(t->dtype())) return std::nullopt;
  return t->to_i64();
}

}  // namespace kiln::ops
