// Shape-inference building blocks shared by many ops.
#pragma once
#include <optional>

#include "ops/infer_context.h"

namespace kiln::ops {

// Output 0 has the type of input 0 (unary elementwise ops).
void infer_same_as_input0(InferenceContext& ctx);
// Output 0: inputs broadcast; dtype of input 0 (arithmetic) or bool (comparison).
void infer_broadcast(InferenceContext& ctx);
void infer_broadcast_bool(InferenceContext& ctx);
// The dtype inputs `indices` share; an undefined dtype (a subgraph input the model left
// untyped) is unknown, not a mismatch. ctx.fail()s when two known dtypes differ.
DataType common_dtype(const InferenceContext& ctx, std::initializer_list<size_t> indices, const char* what);
// Normalizes an axis in [-rank, rank) to [0, rank); throws Error naming it otherwise.
int64_t normalize_axis(int64_t axis, int64_t rank, const char* what = "axis");
// Values of a constant int input (shape, axes, ...) when known at build time.
std::optional<std::vector<int64_t>> constant_ints(const InferenceContext& ctx, size_t input);

}  // namespace kiln::ops
