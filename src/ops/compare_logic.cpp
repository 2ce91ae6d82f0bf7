// Comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual), logic (And, Or, Xor),
// bitwise (BitwiseAnd, BitwiseOr, BitwiseXor) and Where.
#include <cstring>

#include "ops/common/elementwise.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

template <typename Cmp>
void compare_cpu(KernelContext& ctx, Cmp cmp) {
  map_binary<TypeSet::kNumeric, bool>(ctx, [&](auto x, auto y) { return cmp(x, y); });
}

void compare_infer(InferenceContext& ctx) { infer_broadcast_checked(ctx, TypeSet::kNumeric, true); }

void less_cpu(KernelContext& ctx) { compare_cpu(ctx, [](auto x, auto y) { return x < y; }); }
void greater_cpu(KernelContext& ctx) { compare_cpu(ctx, [](auto x, auto y) { return x > y; }); }
void less_equal_cpu(KernelContext& ctx) { compare_cpu(ctx, [](auto x, auto y) { return x <= y; }); }
void greater_equal_cpu(KernelContext& ctx) { compare_cpu(ctx, [](auto x, auto y) { return x >= y; }); }

// Equal also takes bool and (from opset 19) string.
void equal_cpu(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype() == DataType::kBool) {
    map_binary<TypeSet::kBool, bool>(ctx, [](bool x, bool y) { return x == y; });
  } else if (a.dtype() == DataType::kString) {
    if (b.dtype() != DataType::kString) ctx.fail("inputs have different dtypes: " + a.describe() + " and " + b.describe());
    auto dims = broadcast_dims(a.dims(), b.dims());
    Tensor& out = ctx.allocate_output(0, DataType::kBool, dims);
    bool* po = out.data<bool>();
    BroadcastWalker w(dims, {a.dims(), b.dims()});
    for (int64_t i = 0; i < out.numel(); ++i, w.next())
      po[i] = a.strings()[w.offset(0)] == b.strings()[w.offset(1)];
  } else {
    compare_cpu(ctx, [](auto x, auto y) { return x == y; });
  }
}

void equal_infer(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (dt == DataType::kBool) infer_broadcast_checked(ctx, TypeSet::kBool, true);
  else if (dt == DataType::kString) {
    if (ctx.version() < 19) ctx.fail("Equal takes strings from opset 19 on");
    if (ctx.input_dtype(1) != DataType::kString && ctx.input_dtype(1) != DataType::kUndefined)
      ctx.fail("inputs have different dtypes");
    std::optional<Shape> shape;
    try {
      shape = broadcast_shapes({ctx.input_shape(0), ctx.input_shape(1)});
    } catch (const Error& e) {
      ctx.fail(e.what());
    }
    ctx.set_output(0, DataType::kBool, shape);
  } else {
    infer_broadcast_checked(ctx, TypeSet::kNumeric, true);
  }
}

void logic_infer(InferenceContext& ctx) { infer_broadcast_checked(ctx, TypeSet::kBool, true); }
void and_cpu(KernelContext& ctx) { map_binary<TypeSet::kBool, bool>(ctx, [](bool x, bool y) { return x && y; }); }
void or_cpu(KernelContext& ctx) { map_binary<TypeSet::kBool, bool>(ctx, [](bool x, bool y) { return x || y; }); }
void xor_cpu(KernelContext& ctx) { map_binary<TypeSet::kBool, bool>(ctx, [](bool x, bool y) { return x != y; }); }

void bitwise_infer(InferenceContext& ctx) { infer_broadcast_checked(ctx, TypeSet::kInt); }
void bitwise_and_cpu(KernelContext& ctx) {
  map_binary<TypeSet::kInt>(ctx, [](auto x, auto y) -> decltype(x) { return static_cast<decltype(x)>(x & y); });
}
void bitwise_or_cpu(KernelContext& ctx) {
  map_binary<TypeSet::kInt>(ctx, [](auto x, auto y) -> decltype(x) { return static_cast<decltype(x)>(x | y); });
}
void bitwise_xor_cpu(KernelContext& ctx) {
  map_binary<TypeSet::kInt>(ctx, [](auto x, auto y) -> decltype(x) { return static_cast<decltype(x)>(x ^ y); });
}

// Where: any dtype, strings included; three-way broadcasting.
void where_cpu(KernelContext& ctx) {
  const Tensor& c = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  if (c.dtype() != DataType::kBool) ctx.fail("condition " + c.describe() + " is not bool");
  if (x.dtype() != y.dtype()) ctx.fail("X and Y have different dtypes: " + x.describe() + " and " + y.describe());
  auto dims = broadcast_dims({c.dims(), x.dims(), y.dims()});
  Tensor& out = ctx.allocate_output(0, x.dtype(), dims);
  const bool* pc = c.data<bool>();
  BroadcastWalker w(dims, {c.dims(), x.dims(), y.dims()});
  if (x.dtype() == DataType::kString) {
    for (int64_t i = 0; i < out.numel(); ++i, w.next())
      out.strings()[i] = pc[w.offset(0)] ? x.strings()[w.offset(1)] : y.strings()[w.offset(2)];
    return;
  }
  size_t size = dtype_size(x.dtype());
  const auto* px = static_cast<const uint8_t*>(x.raw());
  const auto* py = static_cast<const uint8_t*>(y.raw());
  auto* po = static_cast<uint8_t*>(out.raw());
  for (int64_t i = 0; i < out.numel(); ++i, w.next()) {
    const uint8_t* src = pc[w.offset(0)] ? px + w.offset(1) * size : py + w.offset(2) * size;
    std::memcpy(po + i * size, src, size);
  }
}

void where_infer(InferenceContext& ctx) {
  DataType c = ctx.input_dtype(0);
  if (c != DataType::kUndefined && c != DataType::kBool) ctx.fail("condition dtype " + std::string(dtype_name(c)) + " is not bool");
  DataType x = ctx.input_dtype(1), y = ctx.input_dtype(2);
  if (x != DataType::kUndefined && y != DataType::kUndefined && x != y)
    ctx.fail("X and Y have different dtypes: " + std::string(dtype_name(x)) + " and " + std::string(dtype_name(y)));
  std::optional<Shape> shape;
  try {
    shape = broadcast_shapes({ctx.input_shape(0), ctx.input_shape(1), ctx.input_shape(2)});
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
  ctx.set_output(0, x != DataType::kUndefined ? x : y, shape);
}

}  // namespace

KILN_REGISTER_OP(Equal, {"", "Equal", {1, 7, 11, 13, 19}, equal_infer, equal_cpu});
KILN_REGISTER_OP(Less, {"", "Less", {1, 7, 9, 13}, compare_infer, less_cpu});
KILN_REGISTER_OP(Greater, {"", "Greater", {1, 7, 9, 13}, compare_infer, greater_cpu});
KILN_REGISTER_OP(LessOrEqual, {"", "LessOrEqual", {12, 16}, compare_infer, less_equal_cpu});
KILN_REGISTER_OP(GreaterOrEqual, {"", "GreaterOrEqual", {12, 16}, compare_infer, greater_equal_cpu});
KILN_REGISTER_OP(And, {"", "And", {1, 7}, logic_infer, and_cpu});
KILN_REGISTER_OP(Or, {"", "Or", {1, 7}, logic_infer, or_cpu});
KILN_REGISTER_OP(Xor, {"", "Xor", {1, 7}, logic_infer, xor_cpu});
KILN_REGISTER_OP(BitwiseAnd, {"", "BitwiseAnd", {18}, bitwise_infer, bitwise_and_cpu});
KILN_REGISTER_OP(BitwiseOr, {"", "BitwiseOr", {18}, bitwise_infer, bitwise_or_cpu});
KILN_REGISTER_OP(BitwiseXor, {"", "BitwiseXor", {18}, bitwise_infer, bitwise_xor_cpu});
KILN_REGISTER_OP(Where, {"", "Where", {9, 16}, where_infer, where_cpu});

}  // namespace kiln::ops
