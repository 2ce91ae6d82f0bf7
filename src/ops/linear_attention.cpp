// LinearAttention (opset 27): recurrent linear attention over 3-D (B, T, H*D) inputs with a
// (B, H_kv, d_k, d_v) state; update rules linear, gated (decay), delta (beta) and
// gated_delta; GQA by head groups. Follows onnx/reference/ops/op_linear_attention.py.
#include <cmath>
#include <string>
#include <vector>

#include "ops/common/attention_math.h"
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

void linear_attention_cpu(KernelContext& ctx) {
  const auto& at = ctx.attrs();
  const std::string rule = at.get_string("update_rule", "gated_delta");
  if (rule != "linear" && rule != "gated" && rule != "delta" && rule != "gated_delta")
    ctx.fail("unsupported update_rule '" + rule + "'");
  if (!at.has("q_num_heads") || !at.has("kv_num_heads")) ctx.fail("q_num_heads and kv_num_heads are required");
  const int64_t hq = at.get_int("q_num_heads", 0), hkv = at.get_int("kv_num_heads", 0);
  if (hq <= 0 || hkv <= 0 || hq % hkv != 0) ctx.fail("q_num_heads must be a positive multiple of kv_num_heads");
  const bool gating = rule == "gated" || rule == "gated_delta";
  const bool delta = rule == "delta" || rule == "gated_delta";
  if (gating != ctx.has_input(4)) ctx.fail("update_rule '" + rule + (gating ? "' requires" : "' forbids") + " the decay input");
  if (delta != ctx.has_input(5)) ctx.fail("update_rule '" + rule + (delta ? "' requires" : "' forbids") + " the beta input");
  const Tensor& q = ctx.input(0);
  const Tensor& k = ctx.input(1);
  const Tensor& v = ctx.input(2);
  if (!round_fn_for(q.dtype())) ctx.fail("query must be float, got " + q.describe());
  for (const Tensor* t : {&q, &k, &v})
    if (t->rank() != 3) ctx.fail("query, key, value must be (B, T, H*D), got " + t->describe());
  const int64_t B = q.dim(0), T = q.dim(1);
  if (k.dim(0) != B || v.dim(0) != B || k.dim(1) != T || v.dim(1) != T) ctx.fail("query, key, value batch/time differ");
  if (q.dim(2) % hq != 0 || k.dim(2) % hkv != 0 || v.dim(2) % hkv != 0) ctx.fail("hidden sizes not divisible by head counts");
  const int64_t dk = q.dim(2) / hq, dv = v.dim(2) / hkv, group = hq / hkv;
  if (k.dim(2) / hkv != dk) ctx.fail("query and key head sizes differ");
  const std::vector<double> Q = q.to_f64(), K = k.to_f64(), V = v.to_f64();
  std::vector<double> D, Bt;
  int64_t dlast = 0, blast = 0;
  if (gating) {
    const Tensor& d = ctx.input(4);
    dlast = d.rank() == 3 ? d.dim(2) : -1;
    if (d.rank() != 3 || d.dim(0) != B || d.dim(1) != T || (dlast != hkv && dlast != hkv * dk))
      ctx.fail("decay must be (B, T, kv_num_heads) or (B, T, kv_num_heads*d_k), got " + d.describe());
    D = d.to_f64();
  }
  if (delta) {
    const Tensor& b = ctx.input(5);
    blast = b.rank() == 3 ? b.dim(2) : -1;
    if (b.rank() != 3 || b.dim(0) != B || b.dim(1) != T || (blast != hkv && blast != 1))
      ctx.fail("beta must be (B, T, kv_num_heads) or (B, T, 1), got " + b.describe());
    Bt = b.to_f64();
  }
  DataType state_dt = q.dtype();
  check_scratch({B, hkv, dk, dv}, "LinearAttention state");
  check_scratch({B, T, hq, dv}, "LinearAttention output");
  std::vector<double> S(B * hkv * dk * dv, 0.0);
  if (ctx.has_input(3)) {
    const Tensor& ps = ctx.input(3);
    if (ps.dims() != std::vector<int64_t>{B, hkv, dk, dv} || !round_fn_for(ps.dtype()))
      ctx.fail("past_state must be float " + dims_to_string({B, hkv, dk, dv}) + ", got " + ps.describe());
    state_dt = ps.dtype();
    S = ps.to_f64();
  }
  const float scale_attr = at.get_float("scale", 0.0f);
  const double scale = scale_attr == 0.0f ? 1.0 / std::sqrt(static_cast<double>(dk)) : scale_attr;
  std::vector<double> out(B * T * hq * dv), retrieved(dv), vt(dv);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t h = 0; h < hkv; ++h) {
        double* st = &S[(b * hkv + h) * dk * dv];
        const double* kt = &K[(b * T + t) * hkv * dk + h * dk];
        for (int64_t m = 0; m < dv; ++m) vt[m] = V[(b * T + t) * hkv * dv + h * dv + m];
        if (gating)
          for (int64_t d = 0; d < dk; ++d) {
            const double g = D[(b * T + t) * dlast + (dlast == hkv ? h : h * dk + d)];
            const double e = std::exp(g);
            for (int64_t m = 0; m < dv; ++m) st[d * dv + m] *= e;
          }
        if (delta) {
          const double beta = Bt[(b * T + t) * blast + (blast == 1 ? 0 : h)];
          for (int64_t m = 0; m < dv; ++m) {
            double r = 0;
            for (int64_t d = 0; d < dk; ++d) r += st[d * dv + m] * kt[d];
            vt[m] = beta * (vt[m] - r);
          }
        }
        for (int64_t d = 0; d < dk; ++d)
          for (int64_t m = 0; m < dv; ++m) st[d * dv + m] += kt[d] * vt[m];
      }
      for (int64_t h = 0; h < hq; ++h) {
        const double* st = &S[(b * hkv + h / group) * dk * dv];
        const double* qt = &Q[(b * T + t) * hq * dk + h * dk];
        for (int64_t m = 0; m < dv; ++m) {
          double s = 0;
          for (int64_t d = 0; d < dk; ++d) s += qt[d] * st[d * dv + m];
          out[(b * T + t) * hq * dv + h * dv + m] = scale * s;
        }
      }
    }
  Tensor& y = ctx.allocate_output(0, q.dtype(), {B, T, hq * dv});
  dispatch_float(q.dtype(), [&](auto tag) {
    using T2 = typename decltype(tag)::type;
    for (size_t i = 0; i < out.size(); ++i) y.data<T2>()[i] = store_d<T2>(out[i]);
  });
  if (ctx.wants_output(1)) {
    Tensor& ps = ctx.allocate_output(1, state_dt, {B, hkv, dk, dv});
    dispatch_float(state_dt, [&](auto tag) {
      using T2 = typename decltype(tag)::type;
      for (size_t i = 0; i < S.size(); ++i) ps.data<T2>()[i] = store_d<T2>(S[i]);
    });
  }
}

void infer_linear_attention(InferenceContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("query must be float");
  const auto& at = ctx.attrs();
  if (!at.has("q_num_heads") || !at.has("kv_num_heads")) ctx.fail("q_num_heads and kv_num_heads are required");
  const Dim hq(at.get_int("q_num_heads", 1)), hkv(at.get_int("kv_num_heads", 1));
  const Shape* q = ctx.input_shape(0);
  const Shape* k = ctx.input_shape(1);
  const Shape* v = ctx.input_shape(2);
  for (const Shape* s : {q, k, v})
    if (s && s->rank() != 3) ctx.fail("query, key, value must be 3-D");
  Dim dv = v ? dim_div(ctx, (*v)[2], hkv, "value hidden / kv_num_heads") : ctx.new_symbol();
  Dim dk = q ? dim_div(ctx, (*q)[2], hq, "query hidden / q_num_heads") : ctx.new_symbol();
  if (q) ctx.set_output(0, dt, Shape({(*q)[0], (*q)[1], dim_mul(ctx, hq, dv)}));
  else ctx.set_output(0, dt, std::nullopt);
  if (ctx.num_outputs() > 1) {
    const DataType sdt = ctx.has_input(3) ? ctx.input_dtype(3) : dt;
    if (q) ctx.set_output(1, sdt, Shape({(*q)[0], hkv, dk, dv}));
    else ctx.set_output(1, sdt, std::nullopt);
  }
}

}  // namespace

KILN_REGISTER_OP(LinearAttention, {"", "LinearAttention", {27}, infer_linear_attention, linear_attention_cpu});

}  // namespace kiln::ops
