// RNN, LSTM and GRU: forward/reverse/bidirectional, sequence_lens, initial states, LSTM
// peepholes and input_forget, GRU linear_before_reset, layout (14+), activations with their
// alpha/beta, clip. One shared driver runs a per-op cell over time and directions.
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "ops/common/attention_math.h"
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

enum class Cell { kRnn, kLstm, kGru };

int gate_count(Cell c) { return c == Cell::kRnn ? 1 : c == Cell::kLstm ? 4 : 3; }

using Act = std::function<double(double)>;

Act make_activation(const KernelContext& ctx, const std::string& name, const std::vector<float>& alphas,
                    const std::vector<float>& betas, size_t index) {
  auto alpha = [&](double def) { return index < alphas.size() ? static_cast<double>(alphas[index]) : def; };
  auto beta = [&](double def) { return index < betas.size() ? static_cast<double>(betas[index]) : def; };
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (n == "tanh") return [](double x) { return std::tanh(x); };
  if (n == "sigmoid") return [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
  if (n == "relu") return [](double x) { return x > 0 ? x : 0.0; };
  if (n == "affine") { double a = alpha(1.0), b = beta(0.0); return [a, b](double x) { return a * x + b; }; }
  if (n == "leakyrelu") { double a = alpha(0.01); return [a](double x) { return x >= 0 ? x : a * x; }; }
  if (n == "thresholdedrelu") { double a = alpha(1.0); return [a](double x) { return x > a ? x : 0.0; }; }
  if (n == "scaledtanh") {
    double a = alpha(1.0), b = beta(1.0);
    return [a, b](double x) { return a * std::tanh(b * x); };
  }
  if (n == "hardsigmoid") {
    double a = alpha(0.2), b = beta(0.5);
    return [a, b](double x) { return std::max(0.0, std::min(1.0, a * x + b)); };
  }
  if (n == "elu") { double a = alpha(1.0); return [a](double x) { return x >= 0 ? x : a * (std::exp(x) - 1); }; }
  if (n == "softsign") return [](double x) { return x / (1 + std::fabs(x)); };
  if (n == "softplus") return [](double x) { return std::log1p(std::exp(-std::fabs(x))) + std::max(x, 0.0); };
  ctx.fail("unknown activation function '" + name + "'");
}

int num_directions(const std::string& dir, const char* what_fail_ctx) {
  if (dir == "forward" || dir == "reverse") return 1;
  if (dir == "bidirectional") return 2;
  throw_error(StatusCode::kInvalidModel, std::string(what_fail_ctx) + ": unknown direction '" + dir + "'");
}

void recurrent_cpu(KernelContext& ctx, Cell cell) {
  const auto& at = ctx.attrs();
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor& r = ctx.input(2);
  const DataType dt = x.dtype();
  if (!round_fn_for(dt)) ctx.fail("X must be a float tensor, got " + x.describe());
  const std::string direction = at.get_string("direction", "forward");
  const int dirs = num_directions(direction, "recurrent op");
  const int64_t layout = ctx.version() >= 14 ? at.get_int("layout", 0) : 0;
  if (x.rank() != 3) ctx.fail("X must be 3-D, got " + x.describe());
  const int64_t seq = layout ? x.dim(1) : x.dim(0), batch = layout ? x.dim(0) : x.dim(1), in = x.dim(2);
  const int G = gate_count(cell);
  if (w.rank() != 3 || w.dim(0) != dirs || w.dim(2) != in || w.dim(1) % G != 0)
    ctx.fail("W has shape " + w.describe() + ", which does not match X and the direction");
  const int64_t hid = w.dim(1) / G;
  if (at.has("hidden_size") && at.get_int("hidden_size", 0) != hid) ctx.fail("hidden_size does not match W");
  if (r.dims() != std::vector<int64_t>{dirs, G * hid, hid}) ctx.fail("R has shape " + r.describe() + ", expected [dirs, G*hidden, hidden]");
  for (const Tensor* t : {&w, &r})
    if (t->dtype() != dt) ctx.fail("W and R must have X's dtype");
  std::vector<double> X = x.to_f64(), W = w.to_f64(), R = r.to_f64();
  check_scratch({dirs, batch, 4 * hid}, "recurrent state");
  std::vector<double> B(dirs * 2 * G * hid, 0.0);
  if (ctx.has_input(3)) {
    const Tensor& b = ctx.input(3);
    if (b.dims() != std::vector<int64_t>{dirs, 2 * G * hid}) ctx.fail("B has shape " + b.describe() + ", expected [dirs, 2*G*hidden]");
    B = b.to_f64();
  }
  std::vector<int64_t> lens(batch, seq);
  if (ctx.has_input(4)) {
    lens = ctx.input(4).to_i64();
    if (static_cast<int64_t>(lens.size()) != batch) ctx.fail("sequence_lens must have shape [batch]");
    for (int64_t l : lens)
      if (l < 0 || l > seq) ctx.fail("sequence_lens value " + std::to_string(l) + " is out of [0, seq_length]");
  }
  // States as [dirs][batch][hidden]; layout 1 stores them as [batch][dirs][hidden].
  auto load_state = [&](size_t idx) {
    std::vector<double> s(dirs * batch * hid, 0.0);
    if (!ctx.has_input(idx)) return s;
    const Tensor& t = ctx.input(idx);
    const std::vector<int64_t> want = layout ? std::vector<int64_t>{batch, dirs, hid} : std::vector<int64_t>{dirs, batch, hid};
    if (t.dims() != want) ctx.fail("initial state has shape " + t.describe() + ", expected " + dims_to_string(want));
    std::vector<double> v = t.to_f64();
    for (int d = 0; d < dirs; ++d)
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t k = 0; k < hid; ++k)
          s[(d * batch + b) * hid + k] = layout ? v[(b * dirs + d) * hid + k] : v[(d * batch + b) * hid + k];
    return s;
  };
  std::vector<double> H = load_state(5);
  std::vector<double> C = cell == Cell::kLstm ? load_state(6) : std::vector<double>();
  std::vector<double> P(cell == Cell::kLstm ? dirs * 3 * hid : 0, 0.0);
  if (cell == Cell::kLstm && ctx.has_input(7)) {
    const Tensor& p = ctx.input(7);
    if (p.dims() != std::vector<int64_t>{dirs, 3 * hid}) ctx.fail("P has shape " + p.describe() + ", expected [dirs, 3*hidden]");
    P = p.to_f64();
  }
  // Activations: per direction, f (and g, h); defaults per op.
  std::vector<std::string> names = at.get_strings("activations");
  const size_t per_dir = cell == Cell::kRnn ? 1 : cell == Cell::kLstm ? 3 : 2;
  if (names.empty()) {
    std::vector<std::string> def = cell == Cell::kRnn    ? std::vector<std::string>{"Tanh"}
                                   : cell == Cell::kLstm ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
                                                         : std::vector<std::string>{"Sigmoid", "Tanh"};
    for (int d = 0; d < dirs; ++d) names.insert(names.end(), def.begin(), def.end());
  }
  if (names.size() == per_dir && dirs == 2) names.insert(names.end(), names.begin(), names.end());
  if (names.size() != per_dir * dirs) ctx.fail("activations has " + std::to_string(names.size()) + " entries, expected " + std::to_string(per_dir * dirs));
  const auto alphas = at.get_floats("activation_alpha"), betas = at.get_floats("activation_beta");
  std::vector<Act> acts;
  for (size_t i = 0; i < names.size(); ++i) acts.push_back(make_activation(ctx, names[i], alphas, betas, i));
  const bool has_clip = at.has("clip");
  const double clip = at.get_float("clip", 0.0f);
  auto clipped = [&](double v) { return has_clip ? std::max(-clip, std::min(clip, v)) : v; };
  const bool input_forget = at.get_int("input_forget", 0) != 0;
  const bool lbr = at.get_int("linear_before_reset", 0) != 0;

  auto x_at = [&](int64_t t, int64_t b) { return &X[(layout ? b * seq + t : t * batch + b) * in]; };
  check_scratch({seq, dirs, batch, hid}, "recurrent output");
  std::vector<double> Y(seq * dirs * batch * hid, 0.0);  // [seq][dirs][batch][hidden]
  std::vector<double> gx(G * hid), gh(G * hid);
  for (int d = 0; d < dirs; ++d) {
    const bool reverse = direction == "reverse" || d == 1;
    const double* Wd = &W[d * G * hid * in];
    const double* Rd = &R[d * G * hid * hid];
    const double* Wb = &B[d * 2 * G * hid];
    const double* Rb = Wb + G * hid;
    const Act& f = acts[d * per_dir];
    const Act& g = per_dir > 1 ? acts[d * per_dir + 1] : f;
    const Act& h = per_dir > 2 ? acts[d * per_dir + 2] : f;
    for (int64_t b = 0; b < batch; ++b) {
      double* Hs = &H[(d * batch + b) * hid];
      double* Cs = C.empty() ? nullptr : &C[(d * batch + b) * hid];
      for (int64_t step = 0; step < lens[b]; ++step) {
        const int64_t t = reverse ? lens[b] - 1 - step : step;
        const double* xt = x_at(t, b);
        for (int64_t o = 0; o < G * hid; ++o) {
          double sx = Wb[o], sh = Rb[o];
          for (int64_t k = 0; k < in; ++k) sx += xt[k] * Wd[o * in + k];
          for (int64_t k = 0; k < hid; ++k) sh += Hs[k] * Rd[o * hid + k];
          gx[o] = sx;
          gh[o] = sh;
        }
        std::vector<double> next(hid);
        if (cell == Cell::kRnn) {
          for (int64_t k = 0; k < hid; ++k) next[k] = f(clipped(gx[k] + gh[k]));
        } else if (cell == Cell::kLstm) {  // gate order i, o, f, c; peepholes i, o, f
          const double* Pd = &P[d * 3 * hid];
          for (int64_t k = 0; k < hid; ++k) {
            const double c_prev = Cs[k];
            const double it = f(clipped(gx[k] + gh[k] + Pd[k] * c_prev));
            const double ft = input_forget ? 1 - it : f(clipped(gx[2 * hid + k] + gh[2 * hid + k] + Pd[2 * hid + k] * c_prev));
            const double ct = g(clipped(gx[3 * hid + k] + gh[3 * hid + k]));
            const double c_new = ft * c_prev + it * ct;
            const double ot = f(clipped(gx[hid + k] + gh[hid + k] + Pd[hid + k] * c_new));
            Cs[k] = c_new;
            next[k] = ot * h(c_new);
          }
        } else {  // GRU: gate order z, r, h
          std::vector<double> rh(hid);
          for (int64_t k = 0; k < hid; ++k) rh[k] = f(clipped(gx[hid + k] + gh[hid + k]));
          for (int64_t k = 0; k < hid; ++k) {
            const double zt = f(clipped(gx[k] + gh[k]));
            double pre;
            if (lbr) {
              pre = gx[2 * hid + k] + rh[k] * gh[2 * hid + k];
            } else {
              double s = Rb[2 * hid + k];
              for (int64_t j = 0; j < hid; ++j) s += rh[j] * Hs[j] * Rd[(2 * hid + k) * hid + j];
              pre = gx[2 * hid + k] + s;
            }
            const double ht = g(clipped(pre));
            next[k] = (1 - zt) * ht + zt * Hs[k];
          }
        }
        std::copy(next.begin(), next.end(), Hs);
        std::copy(next.begin(), next.end(), &Y[((t * dirs + d) * batch + b) * hid]);
      }
    }
  }
  auto write = [&](size_t idx, const std::vector<double>& v, bool is_seq) {
    if (!ctx.wants_output(idx)) return;
    std::vector<int64_t> dims = is_seq ? (layout ? std::vector<int64_t>{batch, seq, dirs, hid} : std::vector<int64_t>{seq, dirs, batch, hid})
                                       : (layout ? std::vector<int64_t>{batch, dirs, hid} : std::vector<int64_t>{dirs, batch, hid});
    Tensor& out = ctx.allocate_output(idx, dt, dims);
    const int64_t steps = is_seq ? seq : 1;
    dispatch_float(dt, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* p = out.data<T>();
      for (int64_t t = 0; t < steps; ++t)
        for (int d = 0; d < dirs; ++d)
          for (int64_t b = 0; b < batch; ++b)
            for (int64_t k = 0; k < hid; ++k) {
              const double val = v[((t * dirs + d) * batch + b) * hid + k];
              const int64_t o = layout ? ((b * steps + t) * dirs + d) * hid + k : ((t * dirs + d) * batch + b) * hid + k;
              p[o] = store_d<T>(val);
            }
    });
  };
  write(0, Y, true);
  write(1, H, false);
  if (cell == Cell::kLstm) write(2, C, false);
}

void rnn_cpu(KernelContext& ctx) { recurrent_cpu(ctx, Cell::kRnn); }
void lstm_cpu(KernelContext& ctx) { recurrent_cpu(ctx, Cell::kLstm); }
void gru_cpu(KernelContext& ctx) { recurrent_cpu(ctx, Cell::kGru); }

void infer_recurrent(InferenceContext& ctx, Cell cell) {
  const DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("X must be a float tensor");
  if (ctx.input_dtype(1) != dt || ctx.input_dtype(2) != dt) ctx.fail("W and R must have X's dtype");
  const int dirs = num_directions(ctx.attrs().get_string("direction", "forward"), "recurrent op");
  const int64_t layout = ctx.version() >= 14 ? ctx.attrs().get_int("layout", 0) : 0;
  const Shape* xs = ctx.input_shape(0);
  const Shape* ws = ctx.input_shape(1);
  const Shape* rs = ctx.input_shape(2);
  if (xs && xs->rank() != 3) ctx.fail("X must be 3-D");
  if (ws && ws->rank() != 3) ctx.fail("W must be 3-D");
  if (rs && rs->rank() != 3) ctx.fail("R must be 3-D");
  Dim hid = ctx.attrs().has("hidden_size") ? Dim(ctx.attrs().get_int("hidden_size", 0))
            : rs                           ? (*rs)[2]
            : ws                           ? dim_div(ctx, (*ws)[1], Dim(gate_count(cell)), "W rows / gates")
                                           : ctx.new_symbol();
  for (size_t o = 0; o < ctx.num_outputs(); ++o) ctx.set_output(o, dt, std::nullopt);
  if (!xs) return;
  Dim seq = layout ? (*xs)[1] : (*xs)[0], batch = layout ? (*xs)[0] : (*xs)[1];
  if (ctx.num_outputs() > 0)
    ctx.set_output(0, dt, layout ? Shape({batch, seq, Dim(dirs), hid}) : Shape({seq, Dim(dirs), batch, hid}));
  Shape state = layout ? Shape({batch, Dim(dirs), hid}) : Shape({Dim(dirs), batch, hid});
  for (size_t o = 1; o < ctx.num_outputs(); ++o) ctx.set_output(o, dt, state);
}

void infer_rnn(InferenceContext& ctx) { infer_recurrent(ctx, Cell::kRnn); }
void infer_lstm(InferenceContext& ctx) { infer_recurrent(ctx, Cell::kLstm); }
void infer_gru(InferenceContext& ctx) { infer_recurrent(ctx, Cell::kGru); }

}  // namespace

KILN_REGISTER_OP(RNN, {"", "RNN", {1, 7, 14, 22}, infer_rnn, rnn_cpu});
KILN_REGISTER_OP(LSTM, {"", "LSTM", {1, 7, 14, 22}, infer_lstm, lstm_cpu});
KILN_REGISTER_OP(GRU, {"", "GRU", {1, 3, 7, 14, 22}, infer_gru, gru_cpu});

}  // namespace kiln::ops
