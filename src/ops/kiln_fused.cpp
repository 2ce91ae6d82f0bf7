// Kiln's fused ops (domain "kiln", version 1), made by the graph passes: FusedConv, FusedGemm,
// FusedMatMul. Each is its standard op followed by an epilogue: + bias, + residual Z, then an
// activation (docs/FUSED_OPS.md). The reference kernels run the standard op's own reference
// kernel and apply the epilogue in double, so they are right by construction.
#include "ops/common/fused_activation.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

const char* kActivationAttrs[] = {"activation", "activation_alpha", "activation_beta"};

int latest_version(const OpSchema& s) {
  int v = 0;
  for (int x : s.versions) v = std::max(v, x);
  return v;
}

const OpSchema& standard_schema(const std::string& op) {
  const OpSchema* s = OpRegistry::global().find("", op);
  if (!s) throw_error(StatusCode::kInternal, "standard op " + op + " is not registered");
  return *s;
}

// Runs the standard op's reference kernel on the node's first `count` inputs.
Tensor run_standard(const KernelContext& ctx, const std::string& op, size_t count) {
  const OpSchema& s = standard_schema(op);
  ir::Graph scratch;
  std::vector<ir::Value*> ins;
  std::vector<const RuntimeValue*> vals;
  std::vector<RuntimeValue> storage;
  storage.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    if (!ctx.has_input(i)) {
      ins.push_back(nullptr);
      vals.push_back(nullptr);
      continue;
    }
    ins.push_back(scratch.add_value("in" + std::to_string(i)));
    storage.emplace_back(ctx.input(i));
    vals.push_back(&storage.back());
  }
  ir::Node* n = scratch.add_node(op, ins, {scratch.add_value("out")}, ctx.node().name());
  n->attrs() = ctx.attrs();
  for (const char* a : kActivationAttrs) n->attrs().erase(a);
  KernelContext inner(*n, latest_version(s), vals, [](const ir::Graph&, const std::vector<RuntimeValue>&)
                                                      -> std::vector<RuntimeValue> {
    throw_error(StatusCode::kInternal, "no subgraphs here");
  });
  s.cpu(inner);
  return inner.outputs()[0].tensor();
}

// Output 0 = act(y + bias (over the last dim) + z).
void epilogue(KernelContext& ctx, const Tensor& y, const Tensor* bias, const Tensor* z) {
  std::string act = ctx.attrs().get_string("activation", "");
  if (!is_fused_activation(act)) ctx.fail("unknown activation '" + act + "'");
  double alpha = ctx.attrs().get_float("activation_alpha", 0.0f), beta = ctx.attrs().get_float("activation_beta", 0.0f);
  std::vector<double> v = y.to_f64();
  if (bias) {
    int64_t last = y.rank() ? y.dims().back() : 1;
    if (bias->numel() != last) ctx.fail("bias " + bias->describe() + " must have " + std::to_string(last) + " values");
    auto b = bias->to_f64();
    for (size_t i = 0; i < v.size(); ++i) v[i] += b[i % last];
  }
  if (z) {
    if (z->dims() != y.dims()) ctx.fail("residual Z " + z->describe() + " must have the output's shape " + y.describe());
    auto zv = z->to_f64();
    for (size_t i = 0; i < v.size(); ++i) v[i] += zv[i];
  }
  for (double& x : v) x = apply_fused_activation(act, alpha, beta, x);
  Tensor& out = ctx.allocate_output(0, y.dtype(), y.dims());
  dispatch_float(y.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = out.data<T>();
    for (size_t i = 0; i < v.size(); ++i) {
      if constexpr (std::is_same_v<T, double>) p[i] = v[i];
      else p[i] = T(static_cast<float>(v[i]));
    }
  });
}

// Shape inference of the standard op over the node's first `count` inputs, plus the epilogue's
// checks.
void infer_standard(InferenceContext& ctx, const std::string& op, size_t count, size_t z_index) {
  std::string act = ctx.attrs().get_string("activation", "");
  if (!is_fused_activation(act)) ctx.fail("unknown activation '" + act + "'");
  const OpSchema& s = standard_schema(op);
  std::vector<const ir::ValueType*> types;
  std::vector<const Tensor*> consts;
  for (size_t i = 0; i < count; ++i) {
    types.push_back(ctx.has_input(i) ? &ctx.input_type(i) : nullptr);
    consts.push_back(ctx.input_constant(i));
  }
  int symbols = 0;
  InferenceContext inner(ctx.node(), latest_version(s), types, consts, &symbols);
  s.infer(inner);
  ir::ValueType out = inner.outputs()[0];
  if (ctx.has_input(z_index) && out.shape && ctx.input_shape(z_index)) {
    const Shape& zs = *ctx.input_shape(z_index);
    if (zs.rank() != out.shape->rank()) ctx.fail("residual Z has rank " + std::to_string(zs.rank()) +
                                                 ", the output " + std::to_string(out.shape->rank()));
  }
  ctx.set_output(0, out);
}

void fused_conv_cpu(KernelContext& ctx) {
  Tensor y = run_standard(ctx, "Conv", 3);
  epilogue(ctx, y, nullptr, ctx.has_input(3) ? &ctx.input(3) : nullptr);
}
void infer_fused_conv(InferenceContext& ctx) { infer_standard(ctx, "Conv", 3, 3); }

void fused_gemm_cpu(KernelContext& ctx) {
  Tensor y = run_standard(ctx, "Gemm", 3);
  epilogue(ctx, y, nullptr, ctx.has_input(3) ? &ctx.input(3) : nullptr);
}
void infer_fused_gemm(InferenceContext& ctx) { infer_standard(ctx, "Gemm", 3, 3); }

void fused_matmul_cpu(KernelContext& ctx) {
  Tensor y = run_standard(ctx, "MatMul", 2);
  epilogue(ctx, y, ctx.has_input(2) ? &ctx.input(2) : nullptr, ctx.has_input(3) ? &ctx.input(3) : nullptr);
}
void infer_fused_matmul(InferenceContext& ctx) {
  if (ctx.has_input(2) && ctx.input_shape(2) && ctx.input_shape(2)->rank() != 1)
    ctx.fail("bias must be 1-D, got rank " + std::to_string(ctx.input_shape(2)->rank()));
  infer_standard(ctx, "MatMul", 2, 3);
}

}  // namespace

KILN_REGISTER_OP(KilnFusedConv, {"kiln", "FusedConv", {1}, infer_fused_conv, fused_conv_cpu});
KILN_REGISTER_OP(KilnFusedGemm, {"kiln", "FusedGemm", {1}, infer_fused_gemm, fused_gemm_cpu});
KILN_REGISTER_OP(KilnFusedMatMul, {"kiln", "FusedMatMul", {1}, infer_fused_matmul, fused_matmul_cpu});

}  // namespace kiln::ops
