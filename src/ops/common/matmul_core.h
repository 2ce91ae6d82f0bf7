// Numpy-style batched matrix product (MatMul semantics: 1-D operands, broadcast batch dims)
// over the shared GEMM, for MatMul, MatMulInteger, QLinearMatMul and Einsum.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "core/shape.h"

namespace kiln::ops {

struct MatMulPlan {
  std::vector<int64_t> out_dims;     // the result's dims (1-D operands' dims dropped)
  std::vector<int64_t> batch_dims;   // broadcast batch dims
  std::vector<int64_t> a_batch, b_batch;  // each operand's batch dims (padded with 1s)
  int64_t m = 1, n = 1, k = 1;
};

// Throws Error naming the shapes when they do not multiply.
MatMulPlan plan_matmul(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

// y = a x b per the plan; T: float (blocked GEMM), double or int64_t (plain loops).
template <typename T>
void matmul_run(const MatMulPlan& p, const T* a, const T* b, T* y);

// Shape inference of MatMul; nullopt when a rank is unknown. Throws Error on a mismatch.
std::optional<Shape> matmul_shape(const Shape* a, const Shape* b);

}  // namespace kiln::ops
