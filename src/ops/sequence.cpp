// Sequence ops: SequenceEmpty, SequenceConstruct, SequenceInsert, SequenceAt, SequenceErase,
// SequenceLength, SplitToSequence, ConcatFromSequence.
#include "ops/common/axis_copy.h"
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

ir::ValueType seq_type(DataType dt, std::optional<Shape> elem_shape = std::nullopt) {
  ir::ValueType t = ir::ValueType::tensor(dt, std::move(elem_shape));
  t.kind = ir::ValueKind::kSequence;
  return t;
}

const ir::ValueType& seq_input_type(InferenceContext& ctx, size_t i) {
  const ir::ValueType& t = ctx.input_type(i);
  if (t.kind != ir::ValueKind::kSequence && t.kind != ir::ValueKind::kUnknown)
    ctx.fail("input " + std::to_string(i) + " must be a sequence, is " + t.to_string());
  return t;
}

const TensorSequence& seq_input(KernelContext& ctx, size_t i) {
  const RuntimeValue& v = ctx.input_value(i);
  if (!v.is_sequence()) ctx.fail("input " + std::to_string(i) + " must be a sequence");
  return v.sequence();
}

// A position input (scalar int32/int64) normalized to [0, n) or [0, n] when `inclusive_end`.
int64_t position(KernelContext& ctx, size_t i, int64_t n, bool inclusive_end) {
  const Tensor& p = ctx.input(i);
  if (p.numel() != 1 || (p.dtype() != DataType::kInt64 && p.dtype() != DataType::kInt32))
    ctx.fail("position must be an int32 or int64 scalar, is " + p.describe());
  int64_t pos = p.to_i64()[0];
  int64_t hi = inclusive_end ? n : n - 1;
  if (pos < -n || pos > hi)
    ctx.fail("position " + std::to_string(pos) + " is out of range for a sequence of " + std::to_string(n) + " items");
  return pos < 0 ? pos + n : pos;
}

// Two element shapes merged: equal dims stay, differing ones become unknown.
std::optional<Shape> merge_shapes(const std::optional<Shape>& a, const std::optional<Shape>& b) {
  if (!a || !b || a->rank() != b->rank()) return std::nullopt;
  Shape s = *a;
  for (size_t i = 0; i < s.rank(); ++i)
    if (s[i] != (*b)[i]) s[i] = Dim::unknown();
  return s;
}

// --- SequenceEmpty
void sequence_empty_cpu(KernelContext& ctx) {
  TensorSequence s;
  s.elem_type = static_cast<DataType>(ctx.attrs().get_int("dtype", static_cast<int64_t>(DataType::kFloat32)));
  ctx.set_output(0, std::move(s));
}
void infer_sequence_empty(InferenceContext& ctx) {
  ctx.set_output(0, seq_type(static_cast<DataType>(ctx.attrs().get_int("dtype", static_cast<int64_t>(DataType::kFloat32)))));
}

// --- SequenceConstruct
void sequence_construct_cpu(KernelContext& ctx) {
  TensorSequence s;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& t = ctx.input(i);
    if (i == 0) s.elem_type = t.dtype();
    else if (t.dtype() != s.elem_type) ctx.fail("all inputs must have the same dtype");
    s.items.push_back(t);
  }
  ctx.set_output(0, std::move(s));
}
void infer_sequence_construct(InferenceContext& ctx) {
  if (ctx.num_inputs() == 0) ctx.fail("needs at least one input");
  const ir::ValueType& first = ctx.input_type(0);
  std::optional<Shape> shape = first.shape;
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    const ir::ValueType& t = ctx.input_type(i);
    if (t.dtype != DataType::kUndefined && first.dtype != DataType::kUndefined && t.dtype != first.dtype)
      ctx.fail("all inputs must have the same dtype");
    shape = merge_shapes(shape, t.shape);
  }
  ctx.set_output(0, seq_type(first.dtype, shape));
}

// --- SequenceInsert
void sequence_insert_cpu(KernelContext& ctx) {
  TensorSequence s = seq_input(ctx, 0);
  const Tensor& t = ctx.input(1);
  if (s.elem_type != DataType::kUndefined && t.dtype() != s.elem_type)
    ctx.fail("cannot insert " + t.describe() + " into a sequence of " + std::string(dtype_name(s.elem_type)));
  s.elem_type = t.dtype();
  int64_t n = static_cast<int64_t>(s.items.size());
  int64_t pos = ctx.has_input(2) ? position(ctx, 2, n, true) : n;
  s.items.insert(s.items.begin() + pos, t);
  ctx.set_output(0, std::move(s));
}
void infer_sequence_insert(InferenceContext& ctx) {
  const ir::ValueType& s = seq_input_type(ctx, 0);
  const ir::ValueType& t = ctx.input_type(1);
  if (s.dtype != DataType::kUndefined && t.dtype != DataType::kUndefined && s.dtype != t.dtype)
    ctx.fail("cannot insert " + t.to_string() + " into " + s.to_string());
  ctx.set_output(0, seq_type(s.dtype != DataType::kUndefined ? s.dtype : t.dtype, std::nullopt));
}

// --- SequenceAt
void sequence_at_cpu(KernelContext& ctx) {
  const TensorSequence& s = seq_input(ctx, 0);
  int64_t pos = position(ctx, 1, static_cast<int64_t>(s.items.size()), false);
  ctx.set_output(0, s.items[pos]);
}
void infer_sequence_at(InferenceContext& ctx) {
  const ir::ValueType& s = seq_input_type(ctx, 0);
  ctx.set_output(0, s.dtype, s.shape);
}

// --- SequenceErase
void sequence_erase_cpu(KernelContext& ctx) {
  TensorSequence s = seq_input(ctx, 0);
  int64_t n = static_cast<int64_t>(s.items.size());
  if (n == 0) ctx.fail("cannot erase from an empty sequence");
  int64_t pos = ctx.has_input(1) ? position(ctx, 1, n, false) : n - 1;
  s.items.erase(s.items.begin() + pos);
  ctx.set_output(0, std::move(s));
}
void infer_sequence_erase(InferenceContext& ctx) {
  const ir::ValueType& s = seq_input_type(ctx, 0);
  ctx.set_output(0, seq_type(s.dtype, s.shape));
}

// --- SequenceLength
void sequence_length_cpu(KernelContext& ctx) {
  ctx.set_output(0, Tensor::scalar_i64(static_cast<int64_t>(seq_input(ctx, 0).items.size())));
}
void infer_sequence_length(InferenceContext& ctx) {
  seq_input_type(ctx, 0);
  ctx.set_output(0, DataType::kInt64, Shape{});
}

// --- SplitToSequence
void split_to_sequence_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t rank = static_cast<int64_t>(x.rank());
  int64_t axis = normalize_axis(ctx.attrs().get_int("axis", 0), rank);
  int64_t len = x.dim(axis);
  TensorSequence s;
  s.elem_type = x.dtype();
  if (!ctx.has_input(1)) {
    bool keep = ctx.attrs().get_int("keepdims", 1) != 0;
    for (int64_t i = 0; i < len; ++i) s.items.push_back(slice_axis(x, axis, i, 1, keep));
    ctx.set_output(0, std::move(s));
    return;
  }
  const Tensor& split = ctx.input(1);
  if (split.dtype() != DataType::kInt64 && split.dtype() != DataType::kInt32)
    ctx.fail("split must be int32 or int64, is " + split.describe());
  std::vector<int64_t> sizes;
  if (split.rank() == 0) {
    int64_t chunk = split.to_i64()[0];
    if (chunk <= 0) ctx.fail("split must be positive, is " + std::to_string(chunk));
    for (int64_t start = 0; start < len; start += chunk) sizes.push_back(std::min(chunk, len - start));
  } else {
    if (split.rank() != 1) ctx.fail("split must be a scalar or 1-D, is " + split.describe());
    sizes = split.to_i64();
    int64_t total = 0;
    for (int64_t v : sizes) {
      if (v < 0) ctx.fail("split sizes must not be negative");
      total += v;
    }
    if (total != len)
      ctx.fail("split sizes sum to " + std::to_string(total) + " but axis " + std::to_string(axis) + " has " +
               std::to_string(len));
  }
  int64_t start = 0;
  for (int64_t n : sizes) {
    s.items.push_back(slice_axis(x, axis, start, n, true));
    start += n;
  }
  ctx.set_output(0, std::move(s));
}
void infer_split_to_sequence(InferenceContext& ctx) {
  const ir::ValueType& x = ctx.input_type(0);
  std::optional<Shape> elem;
  if (const Shape* s = ctx.input_shape(0)) {
    int64_t axis = normalize_axis(ctx.attrs().get_int("axis", 0), static_cast<int64_t>(s->rank()));
    Shape e = *s;
    if (!ctx.has_input(1)) {
      if (ctx.attrs().get_int("keepdims", 1) != 0) e[axis] = Dim(1);
      else e = [&] { std::vector<Dim> d = s->dims(); d.erase(d.begin() + axis); return Shape(d); }();
    } else {
      e[axis] = Dim::unknown();
    }
    elem = e;
  }
  ctx.set_output(0, seq_type(x.dtype, elem));
}

// --- ConcatFromSequence
void concat_from_sequence_cpu(KernelContext& ctx) {
  const TensorSequence& s = seq_input(ctx, 0);
  if (s.items.empty()) ctx.fail("cannot concatenate an empty sequence");
  bool new_axis = ctx.attrs().get_int("new_axis", 0) != 0;
  int64_t rank = static_cast<int64_t>(s.items[0].rank()) + (new_axis ? 1 : 0);
  int64_t axis = normalize_axis(ctx.attrs().int_("axis"), rank);
  ctx.set_output(0, concat_axis(s.items, axis, new_axis));
}
void infer_concat_from_sequence(InferenceContext& ctx) {
  const ir::ValueType& s = seq_input_type(ctx, 0);
  bool new_axis = ctx.attrs().get_int("new_axis", 0) != 0;
  std::optional<Shape> out;
  if (s.shape) {
    int64_t rank = static_cast<int64_t>(s.shape->rank()) + (new_axis ? 1 : 0);
    int64_t axis = normalize_axis(ctx.attrs().int_("axis"), rank);
    std::vector<Dim> d = s.shape->dims();
    if (new_axis) d.insert(d.begin() + axis, Dim::unknown());
    else d[axis] = Dim::unknown();
    out = Shape(d);
  }
  ctx.set_output(0, s.dtype, out);
}

}  // namespace

KILN_REGISTER_OP(SequenceEmpty, {"", "SequenceEmpty", {11}, infer_sequence_empty, sequence_empty_cpu});
KILN_REGISTER_OP(SequenceConstruct, {"", "SequenceConstruct", {11}, infer_sequence_construct, sequence_construct_cpu});
KILN_REGISTER_OP(SequenceInsert, {"", "SequenceInsert", {11}, infer_sequence_insert, sequence_insert_cpu});
KILN_REGISTER_OP(SequenceAt, {"", "SequenceAt", {11}, infer_sequence_at, sequence_at_cpu});
KILN_REGISTER_OP(SequenceErase, {"", "SequenceErase", {11}, infer_sequence_erase, sequence_erase_cpu});
KILN_REGISTER_OP(SequenceLength, {"", "SequenceLength", {11}, infer_sequence_length, sequence_length_cpu});
KILN_REGISTER_OP(SplitToSequence, {"", "SplitToSequence", {11, 24}, infer_split_to_sequence, split_to_sequence_cpu});
KILN_REGISTER_OP(ConcatFromSequence, {"", "ConcatFromSequence", {11}, infer_concat_from_sequence, concat_from_sequence_cpu});

}  // namespace kiln::ops
