// A small float32 model that uses every library handle of an execution context, for the
// context/stream/graph tests: x [n, c, hw, hw] -> Conv 3x3 (cuDNN) -> Relu -> GlobalAveragePool
// -> Flatten -> Gemm (cuBLASLt) -> Softmax = y, and relu -> MatMul -> ReduceMean = z. Weights are
// random, seeded from seed_base.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "io/random_inputs.h"
#include "ir/graph.h"
#include "ops/shape_inference.h"

namespace kiln::gpu_test {

struct LibraryMixDims {
  int64_t n, c, hw;
  int64_t gemm_out, matmul_out;
};

inline std::shared_ptr<ir::Graph> library_mix_model(const char* name, LibraryMixDims d, uint64_t seed_base,
                                                    bool input_as_output = false) {
  auto g = std::make_shared<ir::Graph>(name);
  g->set_opset("", 18);
  ir::Value* x = g->add_value("x", ir::ValueType::tensor(DataType::kFloat32, Shape::from_dims({d.n, d.c, d.hw, d.hw})));
  g->inputs().push_back(x);
  auto c = [&](const char* cname, std::vector<int64_t> dims, uint64_t seed) {
    return g->add_constant(cname, io::random_tensor(DataType::kFloat32, dims, seed_base + seed));
  };
  auto v = [&](const char* vname) { return g->add_value(vname, ir::ValueType::unknown()); };
  ir::Value *conv = v("conv"), *relu = v("relu"), *pool = v("pool"), *flat = v("flat"), *gemm = v("gemm"), *y = v("y");
  ir::Value *mm = v("mm"), *z = v("z");
  g->add_node("Conv", {x, c("w", {d.c, d.c, 3, 3}, 0), c("b", {d.c}, 1)}, {conv}, "conv")
      ->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
  g->add_node("Relu", {conv}, {relu}, "relu");
  g->add_node("GlobalAveragePool", {relu}, {pool}, "pool");
  g->add_node("Flatten", {pool}, {flat}, "flatten");
  g->add_node("Gemm", {flat, c("w2", {d.c, d.gemm_out}, 2), c("b2", {d.gemm_out}, 3)}, {gemm}, "gemm");
  g->add_node("Softmax", {gemm}, {y}, "softmax");
  g->add_node("MatMul", {relu, c("w3", {d.hw, d.matmul_out}, 4)}, {mm}, "matmul");
  g->add_node("ReduceMean", {mm, g->add_constant("axes", Tensor::from_i64({1, 2}))}, {z}, "mean")
      ->attrs().set("keepdims", int64_t{0});
  g->outputs().push_back(y);
  g->outputs().push_back(z);
  if (input_as_output) g->outputs().push_back(x);
  Status st = ops::infer_shapes(*g);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return g;
}

}  // namespace kiln::gpu_test
