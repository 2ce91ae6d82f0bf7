// Attention (opset 23, 24, 25): scaled dot-product attention with 3-D or 4-D inputs, GQA/MQA,
// bool/float masks, causal and sliding-window masks, softcap, KV cache (past/present),
// nonpad_kv_seqlen (24+) and the qk_matmul_output debug output. Follows
// onnx/reference/ops/op_attention.py, including the dtype roundings between stages.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ops/common/attention_math.h"
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

struct AttnDims {
  int64_t batch = 0, q_heads = 0, kv_heads = 0, q_len = 0, kv_len = 0, head = 0, v_head = 0;
};

// Reads a 3-D (B, S, H*D) or 4-D (B, H, S, D) tensor into a (B, H, S, D) double array.
std::vector<double> to_bhsd(const Tensor& t, int64_t heads, int64_t* seq, int64_t* dim) {
  std::vector<double> out;
  dispatch_float(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.data<T>();
    const int64_t b = t.dim(0);
    if (t.rank() == 4) {
      *seq = t.dim(2);
      *dim = t.dim(3);
      out.resize(t.numel());
      for (int64_t i = 0; i < t.numel(); ++i) out[i] = load_d(p[i]);
      return;
    }
    const int64_t s = t.dim(1), hd = t.dim(2);
    KILN_CHECK(heads > 0 && hd % heads == 0,
               "Attention: hidden size " + std::to_string(hd) + " is not divisible by the head count " +
                   std::to_string(heads));
    const int64_t d = hd / heads;
    *seq = s;
    *dim = d;
    out.resize(t.numel());
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t si = 0; si < s; ++si)
        for (int64_t h = 0; h < heads; ++h)
          for (int64_t di = 0; di < d; ++di)
            out[((bi * heads + h) * s + si) * d + di] = load_d(p[(bi * s + si) * hd + h * d + di]);
  });
  return out;
}

void store_float(Tensor& t, const std::vector<double>& v) {
  dispatch_float(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = store_d<T>(v[i]);
  });
}

// The attention mask broadcast (right-aligned) to (B, H, q, kv); the last axis may be shorter
// than kv and is then padded with "masked".
struct MaskView {
  bool present = false, is_bool = false;
  std::vector<double> values;  // additive bias, already in T's precision
  int64_t d[4] = {1, 1, 1, 1};
  double at(int64_t b, int64_t h, int64_t i, int64_t j) const {
    if (j >= d[3]) return kNegInf;
    const int64_t idx = (((d[0] == 1 ? 0 : b) * d[1] + (d[1] == 1 ? 0 : h)) * d[2] + (d[2] == 1 ? 0 : i)) * d[3] + j;
    return values[idx];
  }
};

MaskView load_mask(KernelContext& ctx, const AttnDims& a, RoundFn rt) {
  MaskView m;
  if (!ctx.has_input(3)) return m;
  const Tensor& t = ctx.input(3);
  if (t.rank() < 1 || t.rank() > 4) ctx.fail("attn_mask must have rank 1 to 4, got " + t.describe());
  m.present = true;
  m.is_bool = t.dtype() == DataType::kBool;
  for (size_t k = 0; k < t.rank(); ++k) m.d[4 - t.rank() + k] = t.dim(k);
  const int64_t want[4] = {a.batch, a.q_heads, a.q_len, a.kv_len};
  for (int k = 0; k < 3; ++k)
    if (m.d[k] != 1 && m.d[k] != want[k])
      ctx.fail("attn_mask " + t.describe() + " does not broadcast to the attention scores");
  if (m.d[3] > a.kv_len) ctx.fail("attn_mask " + t.describe() + " is longer than the key sequence");
  m.values.resize(t.numel());
  if (m.is_bool) {
    const bool* p = t.data<bool>();
    for (int64_t i = 0; i < t.numel(); ++i) m.values[i] = p[i] ? 0.0 : kNegInf;
  } else {
    std::vector<double> v = t.to_f64();
    for (int64_t i = 0; i < t.numel(); ++i) m.values[i] = rt(v[i]);
  }
  return m;
}

void attention_cpu(KernelContext& ctx) {
  const Tensor& q = ctx.input(0);
  const Tensor& k = ctx.input(1);
  const Tensor& v = ctx.input(2);
  const DataType dt = q.dtype();
  RoundFn rt = round_fn_for(dt);
  if (!rt) ctx.fail("Attention: unsupported dtype " + q.describe());
  if (k.dtype() != dt || v.dtype() != dt) ctx.fail("Q, K, V must share a dtype");
  const size_t rank = q.rank();
  if ((rank != 3 && rank != 4) || k.rank() != rank || v.rank() != rank)
    ctx.fail("Q, K, V must all be 3-D or all 4-D: " + q.describe() + ", " + k.describe() + ", " + v.describe());
  const auto& at = ctx.attrs();
  const bool has_qh = at.has("q_num_heads"), has_kvh = at.has("kv_num_heads");
  AttnDims a;
  a.batch = q.dim(0);
  if (k.dim(0) != a.batch || v.dim(0) != a.batch) ctx.fail("Q, K, V batch sizes differ");
  if (rank == 3) {
    if (!has_qh || !has_kvh) ctx.fail("3-D inputs need q_num_heads and kv_num_heads");
    a.q_heads = at.get_int("q_num_heads", 0);
    a.kv_heads = at.get_int("kv_num_heads", 0);
    if (a.q_heads <= 0 || a.kv_heads <= 0) ctx.fail("head counts must be positive");
  } else {
    if (ctx.version() >= 25 && (has_qh || has_kvh))
      ctx.fail("q_num_heads and kv_num_heads must not be given for 4-D inputs");
    a.q_heads = q.dim(1);
    a.kv_heads = k.dim(1);
    if (v.dim(1) != a.kv_heads) ctx.fail("K and V head counts differ");
  }
  if (a.kv_heads <= 0 || a.q_heads % a.kv_heads != 0)
    ctx.fail("q heads (" + std::to_string(a.q_heads) + ") must be a multiple of kv heads (" + std::to_string(a.kv_heads) + ")");
  int64_t kd = 0, vs = 0;
  std::vector<double> Q = to_bhsd(q, a.q_heads, &a.q_len, &a.head);
  std::vector<double> K = to_bhsd(k, a.kv_heads, &a.kv_len, &kd);
  std::vector<double> V = to_bhsd(v, a.kv_heads, &vs, &a.v_head);
  if (kd != a.head) ctx.fail("Q and K head sizes differ");
  if (vs != a.kv_len) ctx.fail("K and V sequence lengths differ");

  // KV cache: present = concat(past, new) along the sequence axis.
  const bool has_past = ctx.has_input(4), has_past_v = ctx.has_input(5);
  if (has_past != has_past_v) ctx.fail("past_key and past_value must be given together");
  int64_t past_len = 0;
  if (has_past) {
    const Tensor& pk = ctx.input(4);
    const Tensor& pv = ctx.input(5);
    if (pk.dtype() != dt || pv.dtype() != dt || pk.rank() != 4 || pv.rank() != 4 || pk.dim(0) != a.batch ||
        pk.dim(1) != a.kv_heads || pk.dim(3) != a.head || pv.dim(0) != a.batch || pv.dim(1) != a.kv_heads ||
        pv.dim(3) != a.v_head || pv.dim(2) != pk.dim(2))
      ctx.fail("past_key/past_value shapes " + pk.describe() + ", " + pv.describe() + " do not match K, V");
    past_len = pk.dim(2);
    auto cat = [&](const Tensor& past, const std::vector<double>& cur, int64_t d) {
      std::vector<double> pv64 = past.to_f64();
      std::vector<double> out(a.batch * a.kv_heads * (past_len + a.kv_len) * d);
      for (int64_t bh = 0; bh < a.batch * a.kv_heads; ++bh) {
        std::copy_n(pv64.begin() + bh * past_len * d, past_len * d, out.begin() + bh * (past_len + a.kv_len) * d);
        std::copy_n(cur.begin() + bh * a.kv_len * d, a.kv_len * d,
                    out.begin() + bh * (past_len + a.kv_len) * d + past_len * d);
      }
      return out;
    };
    K = cat(pk, K, a.head);
    V = cat(pv, V, a.v_head);
    a.kv_len += past_len;
  }
  const int64_t kv = a.kv_len, sq = a.q_len;
  if (ctx.wants_output(1)) store_float(ctx.allocate_output(1, dt, {a.batch, a.kv_heads, kv, a.head}), K);
  if (ctx.wants_output(2)) store_float(ctx.allocate_output(2, dt, {a.batch, a.kv_heads, kv, a.v_head}), V);

  std::vector<int64_t> nonpad;
  if (ctx.version() >= 24 && ctx.has_input(6)) {
    if (has_past) ctx.fail("nonpad_kv_seqlen cannot be combined with past_key/past_value");
    nonpad = ctx.input(6).to_i64();
    if (static_cast<int64_t>(nonpad.size()) != a.batch) ctx.fail("nonpad_kv_seqlen must have shape (batch,)");
  }
  const bool causal = at.get_int("is_causal", 0) != 0;
  const int64_t left = ctx.version() >= 25 ? at.get_int("left_window_size", -1) : -1;
  const int64_t right = ctx.version() >= 25 ? at.get_int("right_window_size", -1) : -1;
  if (left < -1 || right < -1) ctx.fail("window sizes must be -1 or nonnegative");
  const float softcap = at.get_float("softcap", 0.0f);
  const int64_t mode = at.get_int("qk_matmul_output_mode", 0);
  if (mode < 0 || mode > 3) ctx.fail("qk_matmul_output_mode must be 0..3");
  RoundFn rp = rt;
  if (at.has("softmax_precision")) {
    auto sp = dtype_from_code(static_cast<int32_t>(at.get_int("softmax_precision", 1)));
    rp = sp ? round_fn_for(*sp) : nullptr;
    if (!rp) ctx.fail("softmax_precision must be a float type");
  }
  double scale = at.has("scale") ? at.get_float("scale", 1.0f) : 1.0 / std::sqrt(static_cast<double>(a.head));
  const double sqrt_scale = rt(std::sqrt(scale));
  MaskView mask = load_mask(ctx, a, rt);

  const int64_t group = a.q_heads / a.kv_heads;
  check_scratch({a.batch, a.q_heads, sq, a.v_head}, "Attention output");
  if (ctx.wants_output(3)) check_scratch({a.batch, a.q_heads, sq, kv}, "Attention scores");
  std::vector<double> Y(a.batch * a.q_heads * sq * a.v_head);
  std::vector<double> QK(ctx.wants_output(3) ? a.batch * a.q_heads * sq * kv : 0);
  std::vector<double> scores(kv), bias(kv), probs(kv), ks(kv * a.head), qs(a.head);
  for (int64_t b = 0; b < a.batch; ++b) {
    const int64_t offset = has_past ? past_len : (!nonpad.empty() ? nonpad[b] - sq : 0);
    for (int64_t h = 0; h < a.q_heads; ++h) {
      const int64_t kh = h / group;
      const double* Kp = &K[(b * a.kv_heads + kh) * kv * a.head];
      const double* Vp = &V[(b * a.kv_heads + kh) * kv * a.v_head];
      for (int64_t x = 0; x < kv * a.head; ++x) ks[x] = rt(Kp[x] * sqrt_scale);
      for (int64_t i = 0; i < sq; ++i) {
        const double* Qp = &Q[((b * a.q_heads + h) * sq + i) * a.head];
        for (int64_t d = 0; d < a.head; ++d) qs[d] = rt(Qp[d] * sqrt_scale);
        double bias_max = kNegInf;
        for (int64_t j = 0; j < kv; ++j) {
          double s = 0;
          for (int64_t d = 0; d < a.head; ++d) s += qs[d] * ks[j * a.head + d];
          s = rt(s);
          if (softcap > 0) s = rt(rt(std::tanh(rt(s / softcap))) * softcap);
          scores[j] = s;
          double bj = mask.present ? mask.at(b, h, i, j) : 0.0;
          if (causal && j > i + offset) bj = kNegInf;
          if (left >= 0 || right >= 0) {
            const int64_t diff = i + offset - j;
            if ((left >= 0 && diff > left) || (right >= 0 && -diff > right)) bj = kNegInf;
          }
          if (!nonpad.empty() && j >= nonpad[b]) bj = kNegInf;
          bias[j] = bj;
          bias_max = std::max(bias_max, bj);
        }
        double* qk_row = QK.empty() ? nullptr : &QK[((b * a.q_heads + h) * sq + i) * kv];
        double mx = kNegInf;
        bool has_nan = false;
        for (int64_t j = 0; j < kv; ++j) {
          const double wb = rt(scores[j] + bias[j]);
          if (qk_row && mode <= 1) qk_row[j] = scores[j];
          if (qk_row && mode == 2) qk_row[j] = wb;
          probs[j] = rp(wb);
          if (std::isnan(probs[j])) has_nan = true;
          mx = std::max(mx, probs[j]);
        }
        const bool row_masked = bias_max == kNegInf;
        if (row_masked || mx == kNegInf) {
          std::fill(probs.begin(), probs.end(), 0.0);
        } else if (has_nan) {
          std::fill(probs.begin(), probs.end(), std::numeric_limits<double>::quiet_NaN());
        } else {
          double sum = 0;
          // numpy sums bfloat16 (ml_dtypes) sequentially in bfloat16, float16 pairwise in float.
          const bool seq_round = rp == round_fn_for(DataType::kBFloat16);
          for (int64_t j = 0; j < kv; ++j) {
            sum += (probs[j] = rp(std::exp(rp(probs[j] - mx))));
            if (seq_round) sum = rp(sum);
          }
          sum = rp(sum);
          if (sum == 0) sum = 1;
          for (int64_t j = 0; j < kv; ++j) probs[j] = rt(rp(probs[j] / sum));
        }
        if (qk_row && mode == 3)
          for (int64_t j = 0; j < kv; ++j) qk_row[j] = probs[j];
        double* y = &Y[((b * a.q_heads + h) * sq + i) * a.v_head];
        for (int64_t d = 0; d < a.v_head; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < kv; ++j) acc += probs[j] * Vp[j * a.v_head + d];
          y[d] = acc;
        }
      }
    }
  }
  if (rank == 4) {
    store_float(ctx.allocate_output(0, dt, {a.batch, a.q_heads, sq, a.v_head}), Y);
  } else {
    std::vector<double> y3(Y.size());
    for (int64_t b = 0; b < a.batch; ++b)
      for (int64_t h = 0; h < a.q_heads; ++h)
        for (int64_t i = 0; i < sq; ++i)
          for (int64_t d = 0; d < a.v_head; ++d)
            y3[((b * sq + i) * a.q_heads + h) * a.v_head + d] = Y[((b * a.q_heads + h) * sq + i) * a.v_head + d];
    store_float(ctx.allocate_output(0, dt, {a.batch, sq, a.q_heads * a.v_head}), y3);
  }
  if (ctx.wants_output(3)) store_float(ctx.allocate_output(3, dt, {a.batch, a.q_heads, sq, kv}), QK);
}

void infer_attention(InferenceContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("Attention: Q must be a float tensor");
  for (size_t i : {1, 2})
    if (ctx.input_dtype(i) != dt) ctx.fail("Attention: Q, K, V must share a dtype");
  const Shape* qs = ctx.input_shape(0);
  const Shape* ks = ctx.input_shape(1);
  const Shape* vs = ctx.input_shape(2);
  const bool past = ctx.has_input(4);
  const Shape* ps = past ? ctx.input_shape(4) : nullptr;
  for (size_t o = 0; o < ctx.num_outputs(); ++o) ctx.set_output(o, dt, std::nullopt);
  if (!qs || !ks || !vs) return;
  const size_t rank = qs->rank();
  if ((rank != 3 && rank != 4) || ks->rank() != rank || vs->rank() != rank)
    ctx.fail("Q, K, V must all be 3-D or all 4-D");
  if (ps && ps->rank() != 4) ctx.fail("past_key must be 4-D");
  Dim batch = (*qs)[0], q_len, q_heads, kv_heads, kv_len, head_k, head_v;
  if (rank == 3) {
    if (!ctx.attrs().has("q_num_heads") || !ctx.attrs().has("kv_num_heads"))
      ctx.fail("3-D inputs need q_num_heads and kv_num_heads");
    q_heads = Dim(ctx.attrs().get_int("q_num_heads", 1));
    kv_heads = Dim(ctx.attrs().get_int("kv_num_heads", 1));
    q_len = (*qs)[1];
    kv_len = (*ks)[1];
    head_k = dim_div(ctx, (*ks)[2], kv_heads, "K hidden size / kv_num_heads");
    head_v = dim_div(ctx, (*vs)[2], kv_heads, "V hidden size / kv_num_heads");
  } else {
    q_heads = (*qs)[1];
    kv_heads = (*ks)[1];
    q_len = (*qs)[2];
    kv_len = (*ks)[2];
    head_k = (*ks)[3];
    head_v = (*vs)[3];
  }
  Dim total = ps ? dim_add(ctx, (*ps)[2], kv_len) : kv_len;
  if (rank == 4) ctx.set_output(0, dt, Shape({batch, q_heads, q_len, head_v}));
  else ctx.set_output(0, dt, Shape({batch, q_len, dim_mul(ctx, q_heads, head_v)}));
  if (ctx.num_outputs() > 1) ctx.set_output(1, dt, Shape({batch, kv_heads, total, head_k}));
  if (ctx.num_outputs() > 2) ctx.set_output(2, dt, Shape({batch, kv_heads, total, head_v}));
  if (ctx.num_outputs() > 3) ctx.set_output(3, dt, Shape({batch, q_heads, q_len, total}));
}

}  // namespace

KILN_REGISTER_OP(Attention, {"", "Attention", {23, 24, 25}, infer_attention, attention_cpu});

}  // namespace kiln::ops
