// Kiln ops for recognized multi-node patterns (domain "kiln", version 1): Gelu, LayerNorm,
// Attention and ElementwiseChain (docs/FUSED_OPS.md). Reference kernels reuse the standard
// ops' kernels step by step where the pattern is a sequence of them.
#include <cmath>
#include <optional>

#include "ops/common/fused_activation.h"
#include "ops/common/standard_op.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

void write_doubles(Tensor& out, const std::vector<double>& v) {
  dispatch_float(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = out.data<T>();
    for (size_t i = 0; i < v.size(); ++i) {
      if constexpr (std::is_same_v<T, double>) p[i] = v[i];
      else p[i] = T(static_cast<float>(v[i]));
    }
  });
}

void check_float_input(InferenceContext& ctx, size_t i) {
  DataType dt = ctx.input_dtype(i);
  if (dt != DataType::kFloat32 && dt != DataType::kFloat64 && dt != DataType::kFloat16 && dt != DataType::kBFloat16)
    ctx.fail("input " + std::to_string(i) + " must be a float tensor, got " + std::string(dtype_name(dt)));
}

// ---- Gelu: 0.5 x (1 + erf(x / sqrt 2)), or the tanh form with approximate = "tanh".
void gelu_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::string approx = ctx.attrs().get_string("approximate", "none");
  if (approx != "none" && approx != "tanh") ctx.fail("approximate must be 'none' or 'tanh'");
  std::vector<double> v = x.to_f64();
  for (double& e : v) e = apply_fused_activation(approx == "tanh" ? "GeluTanh" : "Gelu", 0, 0, e);
  write_doubles(ctx.allocate_output(0, x.dtype(), x.dims()), v);
}
void infer_gelu(InferenceContext& ctx) {
  check_float_input(ctx, 0);
  ctx.set_output(0, ctx.input_type(0));
}

// ---- LayerNorm over the dims from `axis` to the end: (x - mean) / sqrt(var + epsilon) * scale
// + bias, mean and (biased) var over those dims, computed in double; scale and bias optional,
// each with the normalized element count (any shape) or one element.
void layer_norm_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t rank = static_cast<int64_t>(x.rank());
  int64_t axis = ctx.attrs().get_int("axis", -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) ctx.fail("axis out of range for " + x.describe());
  double eps = ctx.attrs().get_float("epsilon", 1e-5f);
  int64_t inner = 1;
  for (int64_t d = axis; d < rank; ++d) inner *= x.dim(d);
  std::vector<double> scale, bias;
  for (size_t i = 1; i < 3; ++i) {
    if (!ctx.has_input(i)) continue;
    const Tensor& t = ctx.input(i);
    if (t.numel() != inner && t.numel() != 1) ctx.fail(t.describe() + " must have " + std::to_string(inner) + " values");
    (i == 1 ? scale : bias) = t.to_f64();
  }
  std::vector<double> v = x.to_f64();
  int64_t outer = inner ? x.numel() / inner : 0;
  for (int64_t o = 0; o < outer; ++o) {
    double* p = v.data() + o * inner;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < inner; ++i) mean += p[i];
    mean /= static_cast<double>(inner);
    for (int64_t i = 0; i < inner; ++i) var += (p[i] - mean) * (p[i] - mean);
    var /= static_cast<double>(inner);
    double inv = 1.0 / std::sqrt(var + eps);
    for (int64_t i = 0; i < inner; ++i) {
      double y = (p[i] - mean) * inv;
      if (!scale.empty()) y *= scale[scale.size() == 1 ? 0 : i];
      if (!bias.empty()) y += bias[bias.size() == 1 ? 0 : i];
      p[i] = y;
    }
  }
  write_doubles(ctx.allocate_output(0, x.dtype(), x.dims()), v);
}
void infer_layer_norm(InferenceContext& ctx) {
  check_float_input(ctx, 0);
  ctx.set_output(0, ctx.input_type(0));
}

// ---- Attention: Y = MatMul(Softmax(MatMul(Q, KT) * scale [+ mask], axis -1), V). KT is the
// already-transposed key (what the model's first MatMul reads); mask is added with numpy
// broadcasting. Optional layouts: perm_q / perm_kt / perm_v (ints) make the op read
// Transpose(input, perm) in place of Q / KT / V, perm_y makes it write Transpose(Y, perm_y):
// how the fusion absorbs the head-split and head-merge Transposes around attention.
// select_q / select_kt / select_v = [axis, index] make it read Gather(input, index, axis) (a
// scalar index: the axis goes away) before the perm: Q, K and V read from one packed qkv tensor.
ir::Attributes softmax_attrs() {
  ir::Attributes a;
  a.set("axis", int64_t{-1});
  return a;
}

constexpr const char* kAttentionPerms[3] = {"perm_q", "perm_kt", "perm_v"};
constexpr const char* kAttentionSelects[3] = {"select_q", "select_kt", "select_v"};

// The Gather (attributes and scalar index) for the select attribute `name`, or nothing when it
// is absent; fails unless it is [axis, index].
template <typename Ctx>
std::optional<std::pair<ir::Attributes, Tensor>> attention_select(const Ctx& ctx, const char* name) {
  if (!ctx.attrs().has(name)) return std::nullopt;
  std::vector<int64_t> s = ctx.attrs().get_ints(name, {});
  if (s.size() != 2) ctx.fail(std::string(name) + " must be [axis, index]");
  ir::Attributes g;
  g.set("axis", s[0]);
  return std::make_pair(g, Tensor::scalar_i64(s[1]));
}

// The Transpose attributes for the perm attribute `name`, or nothing when it is absent.
std::optional<ir::Attributes> attention_perm(const ir::Attributes& attrs, const char* name) {
  if (!attrs.has(name)) return std::nullopt;
  ir::Attributes t;
  t.set("perm", attrs.get_ints(name, {}));
  return t;
}

void attention_cpu(KernelContext& ctx) {
  ir::Attributes none;
  const std::string& nn = ctx.node().name();
  Tensor in[3];
  for (size_t i = 0; i < 3; ++i) {
    in[i] = ctx.input(i);
    if (auto sel = attention_select(ctx, kAttentionSelects[i]))
      in[i] = run_standard_op("Gather", sel->first, {&in[i], &sel->second}, nn);
    if (auto perm = attention_perm(ctx.attrs(), kAttentionPerms[i])) in[i] = run_standard_op("Transpose", *perm, {&in[i]}, nn);
  }
  Tensor s = run_standard_op("MatMul", none, {&in[0], &in[1]}, nn);
  Tensor scale(s.dtype(), {});
  write_doubles(scale, {static_cast<double>(ctx.attrs().get_float("scale", 1.0f))});
  s = run_standard_op("Mul", none, {&s, &scale}, nn);
  if (ctx.has_input(3)) s = run_standard_op("Add", none, {&s, &ctx.input(3)}, nn);
  s = run_standard_op("Softmax", softmax_attrs(), {&s}, nn);
  Tensor y = run_standard_op("MatMul", none, {&s, &in[2]}, nn);
  if (auto perm = attention_perm(ctx.attrs(), "perm_y")) y = run_standard_op("Transpose", *perm, {&y}, nn);
  ctx.set_output(0, y);
}
void infer_attention(InferenceContext& ctx) {
  for (size_t i = 0; i < 3; ++i) check_float_input(ctx, i);
  ir::Attributes none;
  ir::ValueType in[3];
  for (size_t i = 0; i < 3; ++i) {
    in[i] = ctx.input_type(i);
    if (auto sel = attention_select(ctx, kAttentionSelects[i])) {
      ir::ValueType index = ir::ValueType::tensor(DataType::kInt64, Shape{});
      in[i] = infer_standard_op("Gather", sel->first, {&in[i], &index});
    }
    if (auto perm = attention_perm(ctx.attrs(), kAttentionPerms[i])) in[i] = infer_standard_op("Transpose", *perm, {&in[i]});
  }
  ir::ValueType s = infer_standard_op("MatMul", none, {&in[0], &in[1]});
  if (ctx.has_input(3)) s = infer_standard_op("Add", none, {&s, &ctx.input_type(3)});
  ir::ValueType y = infer_standard_op("MatMul", none, {&s, &in[2]});
  if (auto perm = attention_perm(ctx.attrs(), "perm_y")) y = infer_standard_op("Transpose", *perm, {&y});
  ctx.set_output(0, y);
}

// ---- ElementwiseChain: acc = input 0; for each step k, acc = ops[k](acc) for a unary op, or
// ops[k](acc, input operands[k]) for a binary one (operands[k] >= 1), with the operands swapped
// (input on the left) when swapped[k] = 1. Binary steps broadcast as ONNX does.
bool is_unary_chain_op(const std::string& op) {
  return op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "Exp" || op == "Log" || op == "Neg" ||
         op == "Abs" || op == "Sqrt" || op == "Erf" || op == "Reciprocal";
}
bool is_binary_chain_op(const std::string& op) { return op == "Add" || op == "Sub" || op == "Mul" || op == "Div"; }

struct ChainProgram {
  std::vector<std::string> ops;
  std::vector<int64_t> operands, swapped;
};

template <typename Ctx>
ChainProgram read_program(const Ctx& ctx) {
  ChainProgram p{ctx.attrs().get_strings("ops"), ctx.attrs().get_ints("operands"), ctx.attrs().get_ints("swapped")};
  if (p.ops.empty() || p.operands.size() != p.ops.size() || p.swapped.size() != p.ops.size())
    ctx.fail("ops, operands and swapped must be non-empty and of one length");
  for (size_t k = 0; k < p.ops.size(); ++k) {
    bool unary = is_unary_chain_op(p.ops[k]);
    if (!unary && !is_binary_chain_op(p.ops[k])) ctx.fail("step " + std::to_string(k) + ": unknown op " + p.ops[k]);
    if (unary != (p.operands[k] < 0))
      ctx.fail("step " + std::to_string(k) + ": operand " + std::to_string(p.operands[k]) + " does not fit " + p.ops[k]);
    if (!unary && (p.operands[k] < 1 || static_cast<size_t>(p.operands[k]) >= ctx.num_inputs()))
      ctx.fail("step " + std::to_string(k) + ": operand index " + std::to_string(p.operands[k]) + " out of range");
  }
  return p;
}

void elementwise_chain_cpu(KernelContext& ctx) {
  ChainProgram p = read_program(ctx);
  ir::Attributes none;
  Tensor acc = ctx.input(0);
  for (size_t k = 0; k < p.ops.size(); ++k) {
    if (p.operands[k] < 0) {
      acc = run_standard_op(p.ops[k], none, {&acc}, ctx.node().name());
      continue;
    }
    const Tensor& b = ctx.input(static_cast<size_t>(p.operands[k]));
    acc = p.swapped[k] ? run_standard_op(p.ops[k], none, {&b, &acc}, ctx.node().name())
                       : run_standard_op(p.ops[k], none, {&acc, &b}, ctx.node().name());
  }
  ctx.set_output(0, acc);
}
void infer_elementwise_chain(InferenceContext& ctx) {
  ChainProgram p = read_program(ctx);
  ir::Attributes none;
  ir::ValueType acc = ctx.input_type(0);
  for (size_t k = 0; k < p.ops.size(); ++k) {
    if (p.operands[k] < 0) {
      acc = infer_standard_op(p.ops[k], none, {&acc});
      continue;
    }
    const ir::ValueType& b = ctx.input_type(static_cast<size_t>(p.operands[k]));
    acc = p.swapped[k] ? infer_standard_op(p.ops[k], none, {&b, &acc}) : infer_standard_op(p.ops[k], none, {&acc, &b});
  }
  ctx.set_output(0, acc);
}

}  // namespace

KILN_REGISTER_OP(KilnGelu, {"kiln", "Gelu", {1}, infer_gelu, gelu_cpu});
KILN_REGISTER_OP(KilnLayerNorm, {"kiln", "LayerNorm", {1}, infer_layer_norm, layer_norm_cpu});
KILN_REGISTER_OP(KilnAttention, {"kiln", "Attention", {1}, infer_attention, attention_cpu});
KILN_REGISTER_OP(KilnElementwiseChain, {"kiln", "ElementwiseChain", {1}, infer_elementwise_chain, elementwise_chain_cpu});

}  // namespace kiln::ops
