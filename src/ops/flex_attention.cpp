// FlexAttention (ai.onnx.preview, version 1): rank-4 scaled dot-product attention with GQA and
// optional score_mod / prob_mod subgraphs applied to the scores and the probabilities.
// Follows onnx/reference/ops/aionnx_preview/op_flex_attention.py.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ops/common/attention_math.h"
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

// Runs a modifier subgraph on `values` (shape dims, dtype dt) and returns its output's values.
std::vector<double> apply_mod(KernelContext& ctx, const char* name, const std::vector<double>& values,
                              DataType dt, const std::vector<int64_t>& dims) {
  auto g = ctx.attrs().graph(name);
  Tensor in(dt, dims);
  dispatch_float(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (size_t i = 0; i < values.size(); ++i) in.data<T>()[i] = store_d<T>(values[i]);
  });
  std::vector<RuntimeValue> outs = ctx.run_subgraph(*g, {RuntimeValue(in)});
  if (outs.size() != 1 || !outs[0].is_tensor()) ctx.fail(std::string(name) + " must produce exactly one tensor");
  const Tensor& o = outs[0].tensor();
  if (o.dims() != dims) ctx.fail(std::string(name) + " changed the shape to " + o.describe());
  return o.to_f64();
}

void flex_attention_cpu(KernelContext& ctx) {
  const Tensor& q = ctx.input(0);
  const Tensor& k = ctx.input(1);
  const Tensor& v = ctx.input(2);
  const DataType dt = q.dtype();
  RoundFn rt = round_fn_for(dt);
  if (!rt || k.dtype() != dt || v.dtype() != dt) ctx.fail("Q, K, V must share a float dtype");
  if (q.rank() != 4 || k.rank() != 4 || v.rank() != 4) ctx.fail("FlexAttention requires rank-4 Q, K, V");
  const int64_t B = q.dim(0), Hq = q.dim(1), L = q.dim(2), E = q.dim(3);
  const int64_t Hkv = k.dim(1), S = k.dim(2), Ev = v.dim(3);
  if (k.dim(0) != B || v.dim(0) != B || v.dim(1) != Hkv || v.dim(2) != S || k.dim(3) != E)
    ctx.fail("Q, K, V shapes do not match: " + q.describe() + ", " + k.describe() + ", " + v.describe());
  if (Hkv <= 0 || Hq % Hkv != 0) ctx.fail("q heads must be a multiple of kv heads");
  const auto& at = ctx.attrs();
  DataType cdt = dt == DataType::kFloat64 ? DataType::kFloat64 : DataType::kFloat32;
  if (at.has("softmax_precision")) {
    auto sp = dtype_from_code(static_cast<int32_t>(at.get_int("softmax_precision", 1)));
    if (!sp || !round_fn_for(*sp)) ctx.fail("unsupported softmax_precision");
    cdt = *sp;
  }
  RoundFn rc = round_fn_for(cdt);
  const float scale = at.has("scale") ? at.get_float("scale", 1.0f) : static_cast<float>(1.0 / std::sqrt(static_cast<double>(E)));
  const double sq = rt(std::sqrt(scale));
  const std::vector<double> Q = q.to_f64(), K = k.to_f64(), V = v.to_f64();
  const int64_t group = Hq / Hkv;
  const std::vector<int64_t> sdims{B, Hq, L, S};
  check_scratch(sdims, "FlexAttention scores");
  std::vector<double> P(B * Hq * L * S);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t i = 0; i < L; ++i)
        for (int64_t j = 0; j < S; ++j) {
          const double* qp = &Q[((b * Hq + h) * L + i) * E];
          const double* kp = &K[((b * Hkv + h / group) * S + j) * E];
          double s = 0;
          for (int64_t e = 0; e < E; ++e) s += rt(qp[e] * sq) * rt(kp[e] * sq);
          P[((b * Hq + h) * L + i) * S + j] = rc(rt(s));
        }
  if (at.has("score_mod")) P = apply_mod(ctx, "score_mod", P, cdt, sdims);
  for (int64_t r = 0; r < B * Hq * L; ++r) {
    double* row = &P[r * S];
    double mx = -INFINITY;
    for (int64_t j = 0; j < S; ++j) mx = std::max(mx, rc(row[j]));
    double sum = 0;
    for (int64_t j = 0; j < S; ++j) sum += (row[j] = rc(std::exp(rc(rc(row[j]) - mx))));
    sum = rc(sum);
    for (int64_t j = 0; j < S; ++j) row[j] = rc(row[j] / sum);
  }
  if (at.has("prob_mod")) P = apply_mod(ctx, "prob_mod", P, cdt, sdims);
  Tensor& y = ctx.allocate_output(0, dt, {B, Hq, L, Ev});
  dispatch_float(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < Hq; ++h)
        for (int64_t i = 0; i < L; ++i)
          for (int64_t e = 0; e < Ev; ++e) {
            double s = 0;
            for (int64_t j = 0; j < S; ++j)
              s += rc(P[((b * Hq + h) * L + i) * S + j]) * rc(V[((b * Hkv + h / group) * S + j) * Ev + e]);
            y.data<T>()[((b * Hq + h) * L + i) * Ev + e] = store_d<T>(rc(s));
          }
  });
}

void infer_flex_attention(InferenceContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("Q must be float");
  if (ctx.input_dtype(1) != dt || ctx.input_dtype(2) != dt) ctx.fail("Q, K, V must share a dtype");
  const Shape* q = ctx.input_shape(0);
  const Shape* v = ctx.input_shape(2);
  for (size_t i = 0; i < 3; ++i)
    if (const Shape* s = ctx.input_shape(i); s && s->rank() != 4) ctx.fail("FlexAttention requires rank-4 inputs");
  if (!q || !v) return ctx.set_output(0, dt, std::nullopt);
  ctx.set_output(0, dt, Shape({(*q)[0], (*q)[1], (*q)[2], (*v)[3]}));
}

}  // namespace

KILN_REGISTER_OP(FlexAttention, {"ai.onnx.preview", "FlexAttention", {1}, infer_flex_attention, flex_attention_cpu});

}  // namespace kiln::ops
