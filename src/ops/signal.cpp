// Signal ops: DFT (opset 17 attribute axis, opset 20 input axis), STFT, the Hann, Hamming and
// Blackman windows, MelWeightMatrix. Plain O(N^2) transforms in double: a reference, not a
// fast path. Follows onnx/reference/ops/op_{dft,stft,*_window,mel_weight_matrix}.py.
#include <cmath>
#include <complex>
#include <string>
#include <vector>

#include "ops/common/attention_math.h"
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

using cd = std::complex<double>;
constexpr double kPi = 3.14159265358979323846;

cd twiddle(int64_t k, int64_t t, int64_t n, bool inverse) {
  const double ang = 2 * kPi * static_cast<double>((k * t) % n) / static_cast<double>(n);
  return {std::cos(ang), inverse ? std::sin(ang) : -std::sin(ang)};
}

// One transform of `in` (zero-padded or truncated to n). Returns `out_len` bins.
std::vector<cd> dft_1d(const std::vector<cd>& in, int64_t n, int64_t out_len, bool inverse) {
  std::vector<cd> out(out_len);
  const int64_t m = std::min<int64_t>(n, in.size());
  for (int64_t k = 0; k < out_len; ++k) {
    cd s = 0;
    for (int64_t t = 0; t < m; ++t) s += in[t] * twiddle(k, t, n, inverse);
    out[k] = inverse ? s / static_cast<double>(n) : s;
  }
  return out;
}

// Inverse real transform of a one-sided (Hermitian) spectrum: numpy.fft.irfft.
std::vector<double> irfft_1d(const std::vector<cd>& half, int64_t n) {
  std::vector<cd> full(n);
  const int64_t m = n / 2 + 1;
  for (int64_t k = 0; k < m && k < static_cast<int64_t>(half.size()); ++k) full[k] = half[k];
  for (int64_t k = m; k < n; ++k) full[k] = std::conj(full[n - k]);
  std::vector<double> out(n);
  for (int64_t t = 0; t < n; ++t) {
    double s = 0;
    for (int64_t k = 0; k < n; ++k) s += (full[k] * twiddle(k, t, n, true)).real();
    out[t] = s / static_cast<double>(n);
  }
  return out;
}

int64_t scalar_int(const KernelContext& ctx, size_t i, const char* what) {
  const Tensor& t = ctx.input(i);
  if (t.numel() != 1) ctx.fail(std::string(what) + " must be a scalar, got " + t.describe());
  return t.to_i64()[0];
}

struct DftParams {
  int64_t axis, length;
  bool inverse, onesided;
};

DftParams dft_params(const KernelContext& ctx, const std::vector<int64_t>& dims) {
  const int64_t r = static_cast<int64_t>(dims.size());
  DftParams p;
  p.inverse = ctx.attrs().get_int("inverse", 0) != 0;
  p.onesided = ctx.attrs().get_int("onesided", 0) != 0;
  int64_t axis = ctx.version() >= 20 ? (ctx.has_input(2) ? scalar_int(ctx, 2, "axis") : -2) : ctx.attrs().get_int("axis", 1);
  if (axis < -r || axis >= r - 1 || (axis < 0 && axis + r >= r - 1))
    ctx.fail("axis " + std::to_string(axis) + " is out of range for input rank " + std::to_string(r));
  p.axis = axis < 0 ? axis + r : axis;
  if (ctx.has_input(1)) {
    p.length = scalar_int(ctx, 1, "dft_length");
  } else {
    p.length = p.inverse && p.onesided ? 2 * (dims[p.axis] - 1) : dims[p.axis];
  }
  if (p.length < 1) ctx.fail("dft_length must be positive, got " + std::to_string(p.length));
  return p;
}

void dft_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!round_fn_for(x.dtype())) ctx.fail("DFT input must be float, got " + x.describe());
  const auto& dims = x.dims();
  if (dims.size() < 2 || (dims.back() != 1 && dims.back() != 2))
    ctx.fail("DFT input must end in a dimension of 1 (real) or 2 (complex), got " + x.describe());
  const DftParams p = dft_params(ctx, dims);
  const bool cin = dims.back() == 2;
  const bool real_out = p.inverse && p.onesided;
  const int64_t out_len = real_out ? p.length : (!p.inverse && p.onesided ? p.length / 2 + 1 : p.length);
  std::vector<int64_t> odims = dims;
  odims[p.axis] = out_len;
  odims.back() = real_out ? 1 : 2;
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < p.axis; ++i) outer *= dims[i];
  for (size_t i = p.axis + 1; i + 1 < dims.size(); ++i) inner *= dims[i];
  const int64_t n_in = dims[p.axis], ci = dims.back(), co = odims.back();
  std::vector<double> in = x.to_f64();
  check_scratch({outer, out_len, inner, co}, "DFT output");
  check_scratch({p.length}, "DFT length");
  std::vector<double> out(outer * out_len * inner * co);
  std::vector<cd> sig(n_in);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      for (int64_t t = 0; t < n_in; ++t) {
        const double* e = &in[((o * n_in + t) * inner + i) * ci];
        sig[t] = cin ? cd(e[0], e[1]) : cd(e[0], 0);
      }
      if (real_out) {
        std::vector<double> r = irfft_1d(sig, p.length);
        for (int64_t k = 0; k < out_len; ++k) out[(o * out_len + k) * inner + i] = r[k];
      } else {
        std::vector<cd> r = dft_1d(sig, p.length, out_len, p.inverse);
        for (int64_t k = 0; k < out_len; ++k) {
          double* e = &out[((o * out_len + k) * inner + i) * 2];
          e[0] = r[k].real();
          e[1] = r[k].imag();
        }
      }
    }
  Tensor& y = ctx.allocate_output(0, x.dtype(), odims);
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (size_t i = 0; i < out.size(); ++i) y.data<T>()[i] = store_d<T>(out[i]);
  });
}

void infer_dft(InferenceContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("DFT input must be float");
  const Shape* s = ctx.input_shape(0);
  if (!s) return ctx.set_output(0, dt, std::nullopt);
  const int64_t r = static_cast<int64_t>(s->rank());
  if (r < 2) ctx.fail("DFT input must have rank >= 2");
  const bool inverse = ctx.attrs().get_int("inverse", 0) != 0, onesided = ctx.attrs().get_int("onesided", 0) != 0;
  std::optional<int64_t> axis;
  if (ctx.version() >= 20) {
    if (!ctx.has_input(2)) axis = -2;
    else if (auto a = constant_ints(ctx, 2); a && a->size() == 1) axis = (*a)[0];
  } else {
    axis = ctx.attrs().get_int("axis", 1);
  }
  Shape out = *s;
  out[r - 1] = (inverse && onesided) ? Dim(1) : Dim(2);
  if (!axis) {
    for (int64_t i = 0; i < r - 1; ++i) out[i] = ctx.new_symbol();
    return ctx.set_output(0, dt, out);
  }
  int64_t a = *axis < 0 ? *axis + r : *axis;
  if (a < 0 || a >= r - 1) ctx.fail("DFT axis out of range");
  Dim len = (*s)[a];
  if (ctx.has_input(1)) {
    auto l = constant_ints(ctx, 1);
    len = l && l->size() == 1 ? Dim((*l)[0]) : ctx.new_symbol();
  } else if (inverse && onesided) {
    len = len.is_constant() ? Dim(2 * (len.value() - 1)) : ctx.new_symbol();
  }
  if (!inverse && onesided) len = len.is_constant() ? Dim(len.value() / 2 + 1) : ctx.new_symbol();
  out[a] = len;
  ctx.set_output(0, dt, out);
}

// STFT: frames of the signal, weighted by the window, transformed.
void stft_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!round_fn_for(x.dtype())) ctx.fail("STFT signal must be float, got " + x.describe());
  if (x.rank() != 3 || (x.dim(2) != 1 && x.dim(2) != 2)) ctx.fail("signal must be [batch, length, 1|2], got " + x.describe());
  const int64_t step = scalar_int(ctx, 1, "frame_step");
  std::vector<double> window;
  if (ctx.has_input(2)) {
    const Tensor& w = ctx.input(2);
    if (w.rank() != 1) ctx.fail("window must be 1-D");
    window = w.to_f64();
  }
  int64_t flen = ctx.has_input(3) ? scalar_int(ctx, 3, "frame_length")
                                  : (!window.empty() ? static_cast<int64_t>(window.size()) : x.dim(1));
  if (window.empty()) window.assign(flen, 1.0);
  if (static_cast<int64_t>(window.size()) != flen) ctx.fail("window length differs from frame_length");
  if (step < 1 || flen < 1 || flen > x.dim(1)) ctx.fail("invalid frame_step/frame_length for the signal");
  const bool onesided = ctx.attrs().get_int("onesided", 1) != 0;
  const int64_t batch = x.dim(0), len = x.dim(1), ci = x.dim(2);
  const int64_t frames = 1 + (len - flen) / step;
  const int64_t bins = onesided ? flen / 2 + 1 : flen;
  std::vector<double> in = x.to_f64();
  check_scratch({batch, frames, bins, 2}, "STFT output");
  std::vector<double> out(batch * frames * bins * 2);
  std::vector<cd> sig(flen);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t f = 0; f < frames; ++f) {
      for (int64_t t = 0; t < flen; ++t) {
        const double* e = &in[(b * len + f * step + t) * ci];
        sig[t] = (ci == 2 ? cd(e[0], e[1]) : cd(e[0], 0)) * window[t];
      }
      std::vector<cd> r = dft_1d(sig, flen, bins, false);
      for (int64_t k = 0; k < bins; ++k) {
        out[((b * frames + f) * bins + k) * 2] = r[k].real();
        out[((b * frames + f) * bins + k) * 2 + 1] = r[k].imag();
      }
    }
  Tensor& y = ctx.allocate_output(0, x.dtype(), {batch, frames, bins, 2});
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (size_t i = 0; i < out.size(); ++i) y.data<T>()[i] = store_d<T>(out[i]);
  });
}

void infer_stft(InferenceContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("STFT signal must be float");
  const Shape* s = ctx.input_shape(0);
  if (!s) return ctx.set_output(0, dt, std::nullopt);
  if (s->rank() != 3) ctx.fail("STFT signal must be 3-D");
  auto step = constant_ints(ctx, 1);
  std::optional<int64_t> flen;
  if (ctx.has_input(3)) {
    if (auto f = constant_ints(ctx, 3); f && f->size() == 1) flen = (*f)[0];
  } else if (ctx.has_input(2)) {
    if (const Shape* w = ctx.input_shape(2); w && w->rank() == 1 && (*w)[0].is_constant()) flen = (*w)[0].value();
  } else if ((*s)[1].is_constant()) {
    flen = (*s)[1].value();
  }
  const bool onesided = ctx.attrs().get_int("onesided", 1) != 0;
  Dim frames = ctx.new_symbol(), bins = ctx.new_symbol();
  if (flen && *flen > 0) {
    bins = Dim(onesided ? *flen / 2 + 1 : *flen);
    if (step && step->size() == 1 && (*step)[0] > 0 && (*s)[1].is_constant() && (*s)[1].value() >= *flen)
      frames = Dim(1 + ((*s)[1].value() - *flen) / (*step)[0]);
  }
  ctx.set_output(0, dt, Shape({(*s)[0], frames, bins, Dim(2)}));
}

// Windows: size is a scalar input; periodic (default 1) and output_datatype attributes.
enum class Window { kHann, kHamming, kBlackman };

template <Window W>
void window_cpu(KernelContext& ctx) {
  const int64_t size = scalar_int(ctx, 0, "size");
  if (size < 0) ctx.fail("window size must be nonnegative");
  auto dt = dtype_from_code(static_cast<int32_t>(ctx.attrs().get_int("output_datatype", 1)));
  if (!dt) ctx.fail("unknown output_datatype");
  const bool periodic = ctx.attrs().get_int("periodic", 1) != 0;
  const double n1 = static_cast<double>(periodic ? size : size - 1);
  // numpy evaluates Hann and Hamming in the output dtype (float arange), Blackman in double.
  RoundFn r = W == Window::kBlackman ? nullptr : round_fn_for(*dt);
  auto rd = [&](double v) { return r ? r(v) : v; };
  check_scratch({size}, "window");
  Tensor& y = ctx.allocate_output(0, *dt, {size});
  std::vector<double> v(size);
  for (int64_t i = 0; i < size; ++i) {
    const double n = static_cast<double>(i);
    if (W == Window::kHann) {
      const double s = rd(std::sin(rd(rd(n * kPi) / n1)));
      v[i] = rd(s * s);
    } else if (W == Window::kHamming) {
      const double a = 25.0 / 46.0;
      v[i] = rd(a - rd(rd(std::cos(rd(rd(rd(n * kPi) * 2) / n1))) * (1 - a)));
    } else {
      v[i] = std::cos(n * (kPi * 2) / n1) * -0.5 + std::cos(n * (kPi * 4) / n1) * 0.08 + 0.42;
    }
  }
  dispatch_numeric(*dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < size; ++i) {
      if constexpr (std::is_integral_v<T>) y.data<T>()[i] = static_cast<T>(v[i]);
      else y.data<T>()[i] = store_d<T>(v[i]);
    }
  });
}

void infer_window(InferenceContext& ctx) {
  if (!is_integer(ctx.input_dtype(0))) ctx.fail("window size must be an integer");
  auto dt = dtype_from_code(static_cast<int32_t>(ctx.attrs().get_int("output_datatype", 1)));
  if (!dt) ctx.fail("unknown output_datatype");
  auto size = constant_ints(ctx, 0);
  ctx.set_output(0, *dt, Shape({size && size->size() == 1 ? Dim((*size)[0]) : ctx.new_symbol()}));
}

void mel_weight_matrix_cpu(KernelContext& ctx) {
  const int64_t mel = scalar_int(ctx, 0, "num_mel_bins");
  const int64_t dft_len = scalar_int(ctx, 1, "dft_length");
  const int64_t rate = scalar_int(ctx, 2, "sample_rate");
  auto scalar_f = [&](size_t i) {
    if (ctx.input(i).numel() != 1) ctx.fail("edge hertz inputs must be scalars");
    return ctx.input(i).to_f64()[0];
  };
  const double lower = scalar_f(3), upper = scalar_f(4);
  if (mel < 1 || dft_len < 1 || rate < 1) ctx.fail("num_mel_bins, dft_length and sample_rate must be positive");
  auto dt = dtype_from_code(static_cast<int32_t>(ctx.attrs().get_int("output_datatype", 1)));
  if (!dt) ctx.fail("unknown output_datatype");
  const int64_t spec_bins = dft_len / 2 + 1;
  check_scratch({spec_bins, mel}, "MelWeightMatrix");
  const double low_mel = 2595 * std::log1p(lower / 700) / std::log(10.0);
  const double high_mel = 2595 * std::log1p(upper / 700) / std::log(10.0);
  const double step = (high_mel - low_mel) / static_cast<double>(mel + 2);
  std::vector<int64_t> f(mel + 2);
  for (int64_t i = 0; i < mel + 2; ++i) {
    const double hz = 700 * std::expm1((static_cast<double>(i) * step + low_mel) / 2595 * std::log(10.0));
    const double bin = std::floor(static_cast<double>(dft_len + 1) * hz / static_cast<double>(rate));
    if (!(bin >= 0 && bin <= static_cast<double>(spec_bins)))
      ctx.fail("mel frequency edges fall outside the spectrogram bins");
    f[i] = static_cast<int64_t>(bin);
    if (f[i] < 0 || f[i] > spec_bins) ctx.fail("mel frequency edges fall outside the spectrogram bins");
  }
  std::vector<double> out(spec_bins * mel, 0.0);
  for (int64_t i = 0; i < mel; ++i) {
    const int64_t lo = f[i], c = f[i + 1], hi = f[i + 2];
    if (c >= spec_bins || lo > c || c > hi) ctx.fail("mel frequency edges fall outside the spectrogram bins");
    if (c == lo) out[c * mel + i] = 1;
    else
      for (int64_t j = lo; j <= c; ++j) out[j * mel + i] = static_cast<double>(j - lo) / static_cast<double>(c - lo);
    if (hi > c)
      for (int64_t j = c; j < hi; ++j) out[j * mel + i] = static_cast<double>(hi - j) / static_cast<double>(hi - c);
  }
  Tensor& y = ctx.allocate_output(0, *dt, {spec_bins, mel});
  dispatch_numeric(*dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (size_t i = 0; i < out.size(); ++i) {
      if constexpr (std::is_integral_v<T>) y.data<T>()[i] = static_cast<T>(out[i]);
      else y.data<T>()[i] = store_d<T>(out[i]);
    }
  });
}

void infer_mel_weight_matrix(InferenceContext& ctx) {
  auto dt = dtype_from_code(static_cast<int32_t>(ctx.attrs().get_int("output_datatype", 1)));
  if (!dt) ctx.fail("unknown output_datatype");
  auto mel = constant_ints(ctx, 0);
  auto len = constant_ints(ctx, 1);
  ctx.set_output(0, *dt, Shape({len && len->size() == 1 ? Dim((*len)[0] / 2 + 1) : ctx.new_symbol(),
                                mel && mel->size() == 1 ? Dim((*mel)[0]) : ctx.new_symbol()}));
}

}  // namespace

KILN_REGISTER_OP(DFT, {"", "DFT", {17, 20}, infer_dft, dft_cpu});
KILN_REGISTER_OP(STFT, {"", "STFT", {17}, infer_stft, stft_cpu});
KILN_REGISTER_OP(HannWindow, {"", "HannWindow", {17}, infer_window, window_cpu<Window::kHann>});
KILN_REGISTER_OP(HammingWindow, {"", "HammingWindow", {17}, infer_window, window_cpu<Window::kHamming>});
KILN_REGISTER_OP(BlackmanWindow, {"", "BlackmanWindow", {17}, infer_window, window_cpu<Window::kBlackman>});
KILN_REGISTER_OP(MelWeightMatrix, {"", "MelWeightMatrix", {17}, infer_mel_weight_matrix, mel_weight_matrix_cpu});

}  // namespace kiln::ops
