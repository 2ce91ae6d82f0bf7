// Views on CUDA (plan/views.h): Reshape/Flatten between a MatMul and an Add run no kernel, their
// outputs alias the MatMul's bytes; an FP16 engine must still match the CPU reference, call after
// call with fresh inputs into poisoned output buffers.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "backends/cpu/interpreter.h"
#include "io/random_inputs.h"
#include "ops/shape_inference.h"
#include "plan/views.h"
#include "runtime/builder.h"
#include "runtime/execution_context.h"

namespace kiln::gpu_test {
namespace {

// y = Flatten(Reshape(x @ w, [4,2,96]), 1) + b; z = Sigmoid(Reshape(x, [512])) (a view of an input).
std::shared_ptr<ir::Graph> view_model() {
  auto g = std::make_shared<ir::Graph>("views");
  g->set_opset("", 17);
  ir::Value* x = g->add_value("x", ir::ValueType::tensor(DataType::kFloat32, Shape::from_dims({8, 64})));
  g->inputs().push_back(x);
  auto v = [&](const char* name) { return g->add_value(name, ir::ValueType::unknown()); };
  ir::Value *mm = v("mm"), *r = v("r"), *f = v("f"), *y = v("y"), *xr = v("xr"), *z = v("z");
  g->add_node("MatMul", {x, g->add_constant("w", io::random_tensor(DataType::kFloat32, {64, 96}, 1))}, {mm}, "matmul");
  g->add_node("Reshape", {mm, g->add_constant("shape", Tensor::from_i64({4, 2, 96}))}, {r}, "reshape");
  g->add_node("Flatten", {r}, {f}, "flatten")->attrs().set("axis", int64_t{1});
  g->add_node("Add", {f, g->add_constant("b", io::random_tensor(DataType::kFloat32, {192}, 2))}, {y}, "add");
  g->add_node("Reshape", {x, g->add_constant("flat", Tensor::from_i64({512}))}, {xr}, "reshape_x");
  g->add_node("Sigmoid", {xr}, {z}, "sigmoid");
  g->outputs() = {y, z};
  Status st = ops::infer_shapes(*g);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return g;
}

TEST(CudaViewAlias, Fp16MatMulReshapeFlattenAdd) {
  ir::Model model;
  model.graph = view_model();
  runtime::BuilderConfig config;
  config.backend = runtime::Backend::kCuda;
  config.fp16 = true;
  if (const char* env = std::getenv("KILN_GPU_TESTS_LOWER_ONLY"); env && *env == '1') {
    auto target = runtime::target_for_arch(runtime::Backend::kCuda, "sm_90");
    ASSERT_TRUE(target.is_ok());
    auto desc = runtime::Builder::build_desc(model, config, *target);
    ASSERT_TRUE(desc.is_ok()) << desc.status().to_string();
    size_t views = 0;
    for (const auto& l : desc->layers) views += l.tactic == plan::kAliasTactic;
    EXPECT_GE(views, 3u) << "reshape, flatten and reshape_x should be views";
    GTEST_SKIP() << "lowering checked only (KILN_GPU_TESTS_LOWER_ONLY)";
  }
  auto engine = runtime::Builder::build(model, config);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  const auto& desc = (*engine)->desc();
  size_t views = 0;
  for (const auto& l : desc.layers) views += l.tactic == plan::kAliasTactic;
  EXPECT_GE(views, 3u) << "reshape, flatten and reshape_x should be views";
  EXPECT_GE(desc.memory.aliases.size(), 3u);

  auto ref_graph = view_model();
  auto interp = cpu::Interpreter::create(ref_graph);
  ASSERT_TRUE(interp.is_ok()) << interp.status().to_string();
  auto ctx = (*engine)->create_context();
  ASSERT_TRUE(ctx.is_ok()) << ctx.status().to_string();
  const auto& ins = (*engine)->inputs();
  const auto& outs = (*engine)->outputs();
  ASSERT_EQ(ins.size(), 1u);
  ASSERT_EQ(outs.size(), 2u);
  cudaStream_t stream;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  void* d_in = nullptr;
  std::vector<void*> d_out(outs.size(), nullptr);
  ASSERT_EQ(cudaMalloc(&d_in, ins[0].nbytes), cudaSuccess);
  for (size_t o = 0; o < outs.size(); ++o) ASSERT_EQ(cudaMalloc(&d_out[o], outs[o].nbytes), cudaSuccess);
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Tensor x = io::random_tensor(ins[0].dtype, ins[0].dims, 100 + seed);
    auto expected = (*interp)->run(std::map<std::string, RuntimeValue>{{"x", RuntimeValue(x)}});
    ASSERT_TRUE(expected.is_ok()) << expected.status().to_string();
    ASSERT_EQ(cudaMemcpy(d_in, x.raw(), ins[0].nbytes, cudaMemcpyHostToDevice), cudaSuccess);
    for (size_t o = 0; o < outs.size(); ++o) ASSERT_EQ(cudaMemset(d_out[o], 0xFF, outs[o].nbytes), cudaSuccess);  // NaN
    std::vector<runtime::TensorRef> in_refs = {{ins[0].dtype, ins[0].dims, ir::Layout::kRowMajor, d_in}};
    std::vector<runtime::TensorRef> out_refs;
    for (size_t o = 0; o < outs.size(); ++o) out_refs.push_back({outs[o].dtype, outs[o].dims, ir::Layout::kRowMajor, d_out[o]});
    Status st = (*ctx)->enqueue(in_refs, out_refs, stream);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    // The input binding is read through an alias, never written.
    Tensor x_after(ins[0].dtype, ins[0].dims);
    ASSERT_EQ(cudaMemcpy(x_after.raw(), d_in, ins[0].nbytes, cudaMemcpyDeviceToHost), cudaSuccess);
    EXPECT_EQ(std::memcmp(x_after.raw(), x.raw(), ins[0].nbytes), 0);
    for (size_t o = 0; o < outs.size(); ++o) {
      Tensor got(outs[o].dtype, outs[o].dims);
      ASSERT_EQ(cudaMemcpy(got.raw(), d_out[o], outs[o].nbytes, cudaMemcpyDeviceToHost), cudaSuccess);
      const Tensor& ref = (*expected)[o].tensor();
      ASSERT_EQ(got.dims(), ref.dims()) << outs[o].name;
      auto a = got.to_f64(), e = ref.to_f64();
      double scale = 1e-6, worst = 0;
      for (double r : e) scale = std::max(scale, std::fabs(r));
      for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_FALSE(std::isnan(a[i])) << outs[o].name << " element " << i << " is NaN (not written?)";
        worst = std::max(worst, std::fabs(a[i] - e[i]) / scale);
      }
      EXPECT_LE(worst, 1e-2) << outs[o].name << ": max error relative to max|ref|";
    }
  }
  cudaFree(d_in);
  for (void* p : d_out) cudaFree(p);
  cudaStreamDestroy(stream);
}

}  // namespace
}  // namespace kiln::gpu_test
