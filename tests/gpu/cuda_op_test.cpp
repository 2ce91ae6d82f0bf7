// Every CUDA tactic against the CPU reference on fresh random inputs. Runs on the GPU machine
// only (tests/gpu/run_gpu_tests.sh), not in CI.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <tuple>

#include <cmath>
#include <cstring>

#include "backends/cpu/interpreter.h"
#include "core/float_types.h"
#include "io/random_inputs.h"
#include "op_case.h"
#include "ops/shape_inference.h"
#include "runtime/tactic.h"

namespace kiln::gpu_test {

std::shared_ptr<ir::Graph> build_graph(const OpCase& c) {
  auto g = std::make_shared<ir::Graph>("case");
  g->set_opset("", c.opset);
  g->set_opset("kiln", 1);
  std::vector<ir::Value*> ins;
  size_t runtime_index = 0;
  size_t total = c.inputs.size() + c.constants.size();
  for (size_t i = 0; i < total; ++i) {
    auto it = c.constants.find(i);
    if (it != c.constants.end()) {
      ins.push_back(g->add_constant("c" + std::to_string(i), it->second));
    } else {
      const auto& [dt, dims] = c.inputs.at(runtime_index++);
      ir::Value* v = g->add_value("x" + std::to_string(i), ir::ValueType::tensor(dt, Shape::from_dims(dims)));
      g->inputs().push_back(v);
      ins.push_back(v);
    }
  }
  ir::Value* out = g->add_value("y", ir::ValueType::unknown());
  ir::Node* node = g->add_node(c.op_type, ins, {out}, "node", c.domain);
  if (c.set_attrs) c.set_attrs(*node);
  g->outputs().push_back(out);
  Status st = ops::infer_shapes(*g);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return g;
}

namespace {

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

}  // namespace

void run_case(const OpCase& c) {
  SCOPED_TRACE(c.name);
  auto graph = build_graph(c);
  const ir::Node& node = *graph->nodes()[0];
  ASSERT_TRUE(node.output(0)->type().has_static_shape()) << "shape inference left the output dynamic";
  auto candidates = runtime::TacticRegistry::global().candidates(runtime::Backend::kCuda, node);
  ASSERT_FALSE(candidates.empty()) << "no CUDA tactic supports " << node.describe();

  auto inputs = io::random_inputs(*graph, /*seed=*/std::hash<std::string>{}(c.name));
  ASSERT_TRUE(inputs.is_ok()) << inputs.status().to_string();
  auto interp = cpu::Interpreter::create(graph);
  ASSERT_TRUE(interp.is_ok()) << interp.status().to_string();
  auto expected = (*interp)->run(*inputs);
  ASSERT_TRUE(expected.is_ok()) << expected.status().to_string();
  const Tensor& ref = (*expected)[0].tensor();

  for (const runtime::Tactic* tactic : candidates) {
    SCOPED_TRACE(std::string(tactic->id()));
    runtime::KernelSpec spec{&node, ""};
    for (const std::string& params : tactic->candidate_params(node)) {
      spec.params = params;
      auto kernel = tactic->create(spec);
      ASSERT_TRUE(kernel.is_ok()) << kernel.status().to_string();
      std::vector<void*> buffers;
      std::vector<runtime::TensorRef> in_refs;
      for (const ir::Value* v : node.inputs()) {
        runtime::TensorRef r;
        if (v) {
          const Tensor& host = v->is_constant() ? v->constant() : inputs->at(v->name()).tensor();
          r.dtype = host.dtype();
          r.dims = host.dims();
          ASSERT_EQ(cudaMalloc(&r.data, std::max<size_t>(host.nbytes(), 1)), cudaSuccess);
          ASSERT_EQ(cudaMemcpy(r.data, host.raw(), host.nbytes(), cudaMemcpyHostToDevice), cudaSuccess);
          buffers.push_back(r.data);
        }
        in_refs.push_back(r);
      }
      runtime::TensorRef out_ref{ref.dtype(), ref.dims(), ir::Layout::kRowMajor, nullptr};
      ASSERT_EQ(cudaMalloc(&out_ref.data, std::max<size_t>(ref.nbytes(), 1)), cudaSuccess);
      ASSERT_EQ(cudaMemset(out_ref.data, 0xFF, ref.nbytes()), cudaSuccess);  // poison: NaN / -1
      buffers.push_back(out_ref.data);
      size_t ws_bytes = tactic->workspace_bytes(spec);
      void* ws = nullptr;
      if (ws_bytes) {
        ASSERT_EQ(cudaMalloc(&ws, ws_bytes), cudaSuccess);
      }
      runtime::LaunchContext launch{nullptr, ws, ws_bytes, nullptr};
      Status st = (*kernel)->enqueue(in_refs, {out_ref}, launch);
      ASSERT_TRUE(st.is_ok()) << st.to_string();
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      Tensor got(ref.dtype(), ref.dims());
      ASSERT_EQ(cudaMemcpy(got.raw(), out_ref.data, ref.nbytes(), cudaMemcpyDeviceToHost), cudaSuccess);
      for (void* p : buffers) cudaFree(p);
      if (ws) cudaFree(ws);
      auto a = got.to_f64(), b = ref.to_f64();
      double scale = std::max(max_abs(b), 1e-6), worst = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_FALSE(std::isnan(a[i]) && !std::isnan(b[i])) << "element " << i << " was not written (NaN)";
        worst = std::max(worst, std::fabs(a[i] - b[i]) / scale);
      }
      EXPECT_LE(worst, c.tolerance) << "max error relative to max|ref| " << worst << " (params '" << params << "')";
    }
  }
}

namespace {

Tensor random_constant(DataType dt, std::vector<int64_t> dims, uint64_t seed) { return io::random_tensor(dt, dims, seed); }

class CudaOps : public ::testing::TestWithParam<OpCase> {};

TEST_P(CudaOps, MatchesCpuReference) { run_case(GetParam()); }

std::vector<OpCase> pointwise_cases() {
  std::vector<OpCase> cases;
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16}) {
    double tol = dt == DataType::kFloat32 ? 1e-5 : (dt == DataType::kFloat16 ? 2e-3 : 1e-2);
    std::string suffix = std::string("_") + std::string(dtype_name(dt));
    for (const char* op : {"Relu", "Sigmoid", "Tanh", "Exp", "Abs", "Neg", "Erf", "Softplus", "HardSwish"})
      cases.push_back({std::string(op) + suffix, op, {{dt, {2, 3, 17, 5}}}, {}, nullptr, tol});
    cases.push_back({"LeakyRelu" + suffix, "LeakyRelu", {{dt, {4, 1000}}}, {}, [](ir::Node& n) { n.attrs().set("alpha", 0.2f); }, tol});
    cases.push_back({"Gelu" + suffix, "Gelu", {{dt, {4, 1000}}}, {}, nullptr, tol, 20});
    for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"}) {
      cases.push_back({std::string(op) + "_same" + suffix, op, {{dt, {3, 64, 9}}, {dt, {3, 64, 9}}}, {}, nullptr, tol});
      cases.push_back({std::string(op) + "_bcast" + suffix, op, {{dt, {2, 8, 4, 4}}, {dt, {8, 1, 1}}}, {}, nullptr, tol});
      // Trailing-dims operands (the vectorized path's periods), on either side, and one whose
      // period is not a whole number of 16-byte units.
      cases.push_back({std::string(op) + "_suffix" + suffix, op, {{dt, {4, 5, 16}}, {dt, {5, 16}}}, {}, nullptr, tol});
      cases.push_back({std::string(op) + "_suffix_left" + suffix, op, {{dt, {1, 16}}, {dt, {4, 5, 16}}}, {}, nullptr, tol});
      cases.push_back({std::string(op) + "_suffix_odd" + suffix, op, {{dt, {3, 7, 6}}, {dt, {7, 6}}}, {}, nullptr, tol});
    }
  }
  return cases;
}

std::vector<OpCase> conv_cases() {
  std::vector<OpCase> cases;
  struct Geometry {
    const char* name;
    int64_t n, c, h, w, k, r, s, group, stride, pad, dilation;
    bool bias;
  };
  const Geometry geometries[] = {
      {"3x3", 2, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, true},
      {"1x1_stride2", 2, 32, 15, 15, 64, 1, 1, 1, 2, 0, 1, false},
      {"7x7_stem", 1, 3, 32, 32, 16, 7, 7, 1, 2, 3, 1, true},
      {"depthwise", 2, 32, 12, 12, 32, 3, 3, 32, 1, 1, 1, true},
      {"grouped_dilated", 1, 16, 20, 20, 32, 3, 3, 4, 1, 2, 2, false},
  };
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16}) {
    double tol = dt == DataType::kFloat32 ? 2e-3 : (dt == DataType::kFloat16 ? 4e-3 : 2e-2);
    for (const auto& g : geometries) {
      OpCase c;
      c.name = std::string("Conv_") + g.name + "_" + std::string(dtype_name(dt));
      c.op_type = "Conv";
      c.inputs = {{dt, {g.n, g.c, g.h, g.w}}};
      c.constants[1] = random_constant(dt, {g.k, g.c / g.group, g.r, g.s}, 11);
      if (g.bias) c.constants[2] = random_constant(dt, {g.k}, 12);
      Geometry geo = g;
      c.set_attrs = [geo](ir::Node& n) {
        n.attrs().set("group", geo.group);
        n.attrs().set("strides", std::vector<int64_t>{geo.stride, geo.stride});
        n.attrs().set("pads", std::vector<int64_t>{geo.pad, geo.pad, geo.pad, geo.pad});
        n.attrs().set("dilations", std::vector<int64_t>{geo.dilation, geo.dilation});
      };
      c.tolerance = tol;
      cases.push_back(c);
    }
  }
  return cases;
}

std::vector<OpCase> matmul_cases() {
  std::vector<OpCase> cases;
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16}) {
    double tol = dt == DataType::kFloat32 ? 2e-3 : (dt == DataType::kFloat16 ? 4e-3 : 2e-2);
    std::string sfx = "_" + std::string(dtype_name(dt));
    OpCase weights{"MatMul_weights" + sfx, "MatMul", {{dt, {4, 7, 96}}}, {}, nullptr, tol};
    weights.constants[1] = random_constant(dt, {96, 130}, 21);
    cases.push_back(weights);
    cases.push_back({"MatMul_batched" + sfx, "MatMul", {{dt, {3, 2, 33, 64}}, {dt, {3, 2, 64, 17}}}, {}, nullptr, tol});
    OpCase gemm{"Gemm_bias_transB" + sfx, "Gemm", {{dt, {50, 64}}}, {}, nullptr, tol};
    gemm.constants[1] = random_constant(dt, {100, 64}, 22);
    gemm.constants[2] = random_constant(dt, {100}, 23);
    gemm.set_attrs = [](ir::Node& n) { n.attrs().set("transB", int64_t{1}); };
    cases.push_back(gemm);
  }
  return cases;
}

std::vector<OpCase> other_cases() {
  std::vector<OpCase> cases;
  auto ints = [](std::vector<int64_t> v) { return Tensor::from_i64(v); };
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16}) {
    // bf16: the CPU reference rounds to bf16 after every step (as numpy does), the GPU once.
    double tol = dt == DataType::kFloat32 ? 1e-5 : (dt == DataType::kFloat16 ? 2e-3 : 2e-2);
    std::string sfx = "_" + std::string(dtype_name(dt));
    cases.push_back({"Transpose" + sfx, "Transpose", {{dt, {2, 3, 5, 7}}}, {}, [](ir::Node& n) {
                       n.attrs().set("perm", std::vector<int64_t>{0, 2, 3, 1}); }, 0});
    cases.push_back({"Concat" + sfx, "Concat", {{dt, {2, 3, 5}}, {dt, {2, 4, 5}}, {dt, {2, 1, 5}}}, {},
                     [](ir::Node& n) { n.attrs().set("axis", int64_t{1}); }, 0});
    // Pieces whose rows allow 16-byte units (ViT's class token before the patches) and 4-byte ones.
    cases.push_back({"Concat_vec16" + sfx, "Concat", {{dt, {2, 1, 768}}, {dt, {2, 196, 768}}}, {},
                     [](ir::Node& n) { n.attrs().set("axis", int64_t{1}); }, 0});
    cases.push_back({"Concat_vec4" + sfx, "Concat", {{dt, {2, 3, 6}}, {dt, {2, 5, 6}}}, {},
                     [](ir::Node& n) { n.attrs().set("axis", int64_t{-2}); }, 0});
    // kiln::SampledConcat: an element-wise piece (sampled inner dims) and a 16-byte one (the
    // concat axis last, as channels-last storage has it).
    for (auto [name, a, b, axis, steps] :
         {std::tuple{"SampledConcat_inner", std::vector<int64_t>{2, 3, 4, 4}, std::vector<int64_t>{2, 5, 8, 8}, int64_t{1},
                     std::vector<int64_t>{1, 1, 1, 1, 1, 1, 2, 2}},
          std::tuple{"SampledConcat_rows", std::vector<int64_t>{2, 4, 4, 8}, std::vector<int64_t>{2, 8, 8, 16}, int64_t{3},
                     std::vector<int64_t>{1, 1, 1, 1, 1, 2, 2, 1}}}) {
      OpCase c{std::string(name) + sfx, "SampledConcat", {{dt, a}, {dt, b}}, {},
               [axis, steps](ir::Node& n) {
                 n.attrs().set("axis", axis);
                 n.attrs().set("steps", steps);
               },
               0};
      c.domain = "kiln";
      cases.push_back(c);
    }
    OpCase reshape{"Reshape" + sfx, "Reshape", {{dt, {2, 3, 4}}}, {}, nullptr, 0};
    reshape.constants[1] = ints({6, -1});
    cases.push_back(reshape);
    OpCase slice{"Slice" + sfx, "Slice", {{dt, {6, 10, 4}}}, {}, nullptr, 0};
    slice.constants[1] = ints({1, 9});
    slice.constants[2] = ints({5, 0});
    slice.constants[3] = ints({0, 1});
    slice.constants[4] = ints({2, -3});
    cases.push_back(slice);
    OpCase gather{"Gather" + sfx, "Gather", {{dt, {10, 16}}}, {}, nullptr, 0};
    gather.constants[1] = ints({3, 0, 9, -1, 5});
    cases.push_back(gather);
    OpCase expand{"Expand" + sfx, "Expand", {{dt, {3, 1, 5}}}, {}, nullptr, 0};
    expand.constants[1] = ints({2, 3, 4, 5});
    cases.push_back(expand);
    cases.push_back({"Softmax" + sfx, "Softmax", {{dt, {4, 7, 33}}}, {}, nullptr, tol});
    cases.push_back({"Softmax_axis1" + sfx, "Softmax", {{dt, {4, 7, 33}}}, {}, [](ir::Node& n) {
                       n.attrs().set("axis", int64_t{1}); }, tol});
    cases.push_back({"LogSoftmax" + sfx, "LogSoftmax", {{dt, {4, 1000}}}, {}, nullptr, tol});
    OpCase ln{"LayerNormalization" + sfx, "LayerNormalization", {{dt, {2, 9, 768}}}, {}, nullptr, tol * 4};
    ln.constants[1] = random_constant(dt, {768}, 31);
    ln.constants[2] = random_constant(dt, {768}, 32);
    cases.push_back(ln);
    // Row lengths around the warp-per-row kernel's limits (partial lanes, the most registers,
    // not a multiple of 16 bytes, rows not a multiple of the block's warps), with and without bias.
    for (int64_t len : {64, 100, 1000, 2048, 4096}) {
      OpCase l{"LayerNormalization_len" + std::to_string(len) + sfx, "LayerNormalization", {{dt, {33, len}}}, {},
               nullptr, tol * 4};
      l.constants[1] = random_constant(dt, {len}, 33);
      if (len != 1000) l.constants[2] = random_constant(dt, {len}, 34);
      cases.push_back(l);
    }
    cases.push_back({"GlobalAveragePool" + sfx, "GlobalAveragePool", {{dt, {2, 64, 7, 7}}}, {}, nullptr, tol});
    cases.push_back({"GlobalMaxPool" + sfx, "GlobalMaxPool", {{dt, {2, 64, 7, 7}}}, {}, nullptr, tol});
    cases.push_back({"MaxPool_3x3s2" + sfx, "MaxPool", {{dt, {2, 8, 17, 17}}}, {}, [](ir::Node& n) {
                       n.attrs().set("kernel_shape", std::vector<int64_t>{3, 3});
                       n.attrs().set("strides", std::vector<int64_t>{2, 2});
                       n.attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1}); }, tol});
    cases.push_back({"AveragePool_pad" + sfx, "AveragePool", {{dt, {2, 8, 12, 12}}}, {}, [](ir::Node& n) {
                       n.attrs().set("kernel_shape", std::vector<int64_t>{3, 3});
                       n.attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
                       n.attrs().set("count_include_pad", int64_t{1}); }, tol});
  }
  return cases;
}

std::vector<OpCase> fused_cases() {
  std::vector<OpCase> cases;
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16}) {
    double tol = dt == DataType::kFloat32 ? 2e-3 : 5e-3;
    std::string sfx = "_" + std::string(dtype_name(dt));
    for (const char* act : {"Relu", "Clip", "Silu", "HardSwish"}) {
      OpCase c{std::string("FusedConv_residual_") + act + sfx, "FusedConv", {{dt, {2, 16, 10, 10}}}, {}, nullptr, tol, 17, "kiln"};
      c.constants[1] = random_constant(dt, {16, 16, 3, 3}, 41);
      c.constants[2] = random_constant(dt, {16}, 42);
      c.inputs.push_back({dt, {2, 16, 10, 10}});  // Z, input 3
      std::string a = act;
      c.set_attrs = [a](ir::Node& n) {
        n.attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
        n.attrs().set("activation", a);
        if (a == "Clip") {
          n.attrs().set("activation_alpha", 0.f);
          n.attrs().set("activation_beta", 6.f);
        }
      };
      cases.push_back(c);
    }
    for (const char* act : {"", "Relu", "Gelu", "GeluTanh"}) {
      OpCase c{std::string("FusedMatMul_bias_") + (*act ? act : "none") + sfx, "FusedMatMul", {{dt, {3, 5, 64}}}, {}, nullptr, tol, 17, "kiln"};
      c.constants[1] = random_constant(dt, {64, 48}, 43);
      c.constants[2] = random_constant(dt, {48}, 44);
      std::string a = act;
      c.set_attrs = [a](ir::Node& n) { n.attrs().set("activation", a); };
      cases.push_back(c);
    }
    OpCase gemm{"FusedGemm_residual_relu" + sfx, "FusedGemm", {{dt, {20, 32}}}, {}, nullptr, tol, 17, "kiln"};
    gemm.constants[1] = random_constant(dt, {32, 24}, 45);
    gemm.constants[2] = random_constant(dt, {24}, 46);
    gemm.inputs.push_back({dt, {20, 24}});
    gemm.set_attrs = [](ir::Node& n) { n.attrs().set("activation", std::string("Relu")); };
    cases.push_back(gemm);
    OpCase chain{"ElementwiseChain" + sfx, "ElementwiseChain", {{dt, {4, 8, 16}}, {dt, {16}}, {dt, {4, 1, 16}}}, {}, nullptr, tol, 17, "kiln"};
    chain.set_attrs = [](ir::Node& n) {
      n.attrs().set("ops", std::vector<std::string>{"Add", "Sigmoid", "Sub", "Mul"});
      n.attrs().set("operands", std::vector<int64_t>{1, -1, 2, 1});
      n.attrs().set("swapped", std::vector<int64_t>{0, 0, 1, 0});
    };
    cases.push_back(chain);
    // No operand broadcasts: the kernel's dense path (offsets = the output index).
    OpCase dense{"ElementwiseChain_dense" + sfx, "ElementwiseChain", {{dt, {3, 37, 64}}, {dt, {3, 37, 64}}, {dt, {3, 37, 64}}}, {}, nullptr, tol, 17, "kiln"};
    dense.set_attrs = [](ir::Node& n) {
      n.attrs().set("ops", std::vector<std::string>{"Add", "Tanh", "Mul", "Sub"});
      n.attrs().set("operands", std::vector<int64_t>{2, -1, 1, 2});
      n.attrs().set("swapped", std::vector<int64_t>{0, 0, 0, 1});
    };
    cases.push_back(dense);
    cases.push_back({"KilnGelu" + sfx, "Gelu", {{dt, {3, 333}}}, {}, nullptr, tol, 17, "kiln"});
    OpCase ln{"KilnLayerNorm" + sfx, "LayerNorm", {{dt, {4, 7, 256}}}, {}, nullptr, tol * 2, 17, "kiln"};
    ln.constants[1] = random_constant(dt, {256}, 47);
    ln.constants[2] = random_constant(dt, {256}, 48);
    cases.push_back(ln);
    OpCase attn{"KilnAttention_mask" + sfx, "Attention", {{dt, {2, 3, 17, 32}}, {dt, {2, 3, 32, 19}}, {dt, {2, 3, 19, 32}}, {dt, {2, 1, 1, 19}}},
                {}, [](ir::Node& n) { n.attrs().set("scale", 0.125f); }, tol, 17, "kiln"};
    cases.push_back(attn);
    cases.push_back({"Cast_to_f16" + sfx, "Cast", {{dt, {5, 7}}}, {}, [](ir::Node& n) {
                       n.attrs().set("to", static_cast<int64_t>(DataType::kFloat16)); }, 1e-3});
  }
  cases.push_back({"Cast_i64_to_f32", "Cast", {{DataType::kInt64, {5, 7}}}, {}, [](ir::Node& n) {
                     n.attrs().set("to", static_cast<int64_t>(DataType::kFloat32)); }, 0});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Fused, CudaOps, ::testing::ValuesIn(fused_cases()),
                         [](const auto& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(Other, CudaOps, ::testing::ValuesIn(other_cases()),
                         [](const auto& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(Conv, CudaOps, ::testing::ValuesIn(conv_cases()),
                         [](const auto& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(MatMul, CudaOps, ::testing::ValuesIn(matmul_cases()),
                         [](const auto& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(Pointwise, CudaOps, ::testing::ValuesIn(pointwise_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::gpu_test
