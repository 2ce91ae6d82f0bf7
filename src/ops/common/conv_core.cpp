#include "ops/common/conv_core.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>

#include "ops/common/gemm.h"

namespace kiln::ops {

namespace {
constexpr size_t kMaxSpatial = 8;

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

// Columns of the im2col buffer for output rows [r0, r1), a "row" being one position of all
// spatial dims but the last. col is [Cg * kernel_size, (r1 - r0) * out_last].
template <typename T>
void im2col(const ConvGeometry& g, const T* x, int64_t cg, int64_t r0, int64_t r1, T* col) {
  const auto& wp = g.window;
  size_t nd = g.in.size();
  int64_t in_last = g.in[nd - 1], out_last = g.out[nd - 1];
  int64_t s_last = wp.strides[nd - 1], d_last = wp.dilations[nd - 1], p_last = wp.pads[nd - 1];
  int64_t ncols = (r1 - r0) * out_last, ksize = g.kernel_size(), in_size = g.in_size();
  std::array<int64_t, kMaxSpatial> kc{};
  for (int64_t c = 0; c < cg; ++c) {
    const T* xc = x + c * in_size;
    kc.fill(0);
    for (int64_t kidx = 0; kidx < ksize; ++kidx) {
      T* row = col + (c * ksize + kidx) * ncols;
      for (int64_t r = r0; r < r1; ++r) {
        T* dst = row + (r - r0) * out_last;
        // Outer output coordinates of row r, and the input offset of their window position.
        int64_t rem = r, base = 0, stride = in_last;
        bool valid = true;
        for (size_t d = nd - 1; d-- > 0;) {
          int64_t o = rem % g.out[d];
          rem /= g.out[d];
          int64_t i = o * wp.strides[d] - wp.pads[d] + kc[d] * wp.dilations[d];
          if (i < 0 || i >= g.in[d]) valid = false;
          base += i * stride;
          stride *= g.in[d];
        }
        if (!valid) {
          std::fill(dst, dst + out_last, T(0));
          continue;
        }
        const T* xrow = xc + base;
        int64_t koff = kc[nd - 1] * d_last - p_last;
        // Outputs o whose input o * s + koff lies in [0, in_last): [lo, hi); zeros elsewhere.
        int64_t lo = koff >= 0 ? 0 : (-koff + s_last - 1) / s_last;
        int64_t hi = koff > in_last - 1 ? 0 : std::min(out_last, (in_last - 1 - koff) / s_last + 1);
        lo = std::min(lo, out_last);
        hi = std::max(hi, lo);
        std::fill(dst, dst + lo, T(0));
        if (s_last == 1)
          std::copy(xrow + lo + koff, xrow + hi + koff, dst + lo);
        else
          for (int64_t o = lo; o < hi; ++o) dst[o] = xrow[o * s_last + koff];
        std::fill(dst + hi, dst + out_last, T(0));
      }
      for (size_t d = nd; d-- > 0;) {  // next kernel position
        if (++kc[d] < wp.kernel[d]) break;
        kc[d] = 0;
      }
    }
  }
}

template <typename T>
void gemm_any(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>)
    gemm_f32(false, false, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  else
    gemm_plain(m, n, k, a, lda, b, ldb, c, ldc);
}
}  // namespace

int64_t ConvGeometry::in_size() const { return product(in); }
int64_t ConvGeometry::out_size() const { return product(out); }
int64_t ConvGeometry::kernel_size() const { return product(window.kernel); }

ConvGeometry conv_geometry(const KernelContext& ctx, const std::vector<int64_t>& x_dims,
                           const std::vector<int64_t>& w_dims) {
  if (x_dims.size() < 3) ctx.fail("X must have rank >= 3, has shape " + dims_to_string(x_dims));
  if (w_dims.size() != x_dims.size())
    ctx.fail("W " + dims_to_string(w_dims) + " must have the rank of X " + dims_to_string(x_dims));
  ConvGeometry g;
  g.batch = x_dims[0];
  g.in_channels = x_dims[1];
  g.out_channels = w_dims[0];
  g.group = ctx.attrs().get_int("group", 1);
  if (g.group < 1 || g.in_channels % g.group != 0 || g.out_channels % g.group != 0 ||
      w_dims[1] * g.group != g.in_channels)
    ctx.fail("channels do not match: X " + dims_to_string(x_dims) + ", W " + dims_to_string(w_dims) + ", group " +
             std::to_string(g.group));
  size_t nd = x_dims.size() - 2;
  if (nd > kMaxSpatial) ctx.fail("at most " + std::to_string(kMaxSpatial) + " spatial dims are supported");
  std::vector<int64_t> wk(w_dims.begin() + 2, w_dims.end());
  g.window = read_window_params(ctx.attrs(), nd, wk, false);
  if (g.window.kernel != wk) ctx.fail("kernel_shape does not match W " + dims_to_string(w_dims));
  g.in.assign(x_dims.begin() + 2, x_dims.end());
  g.out = resolve_window(g.window, g.in);
  return g;
}

template <typename T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, T* y) {
  const auto& wp = g.window;
  size_t nd = g.in.size();
  int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  int64_t ksize = g.kernel_size(), kdim = cg * ksize;
  int64_t in_size = g.in_size(), out_size = g.out_size();
  if (out_size == 0 || g.batch == 0 || mg == 0) return;
  bool pointwise = true;
  for (size_t d = 0; d < nd; ++d)
    pointwise = pointwise && wp.kernel[d] == 1 && wp.strides[d] == 1 && wp.pads[d] == 0 && wp.pads[d + nd] == 0;
  int64_t out_last = g.out[nd - 1], rows = out_size / out_last;
  // Bound the column buffer (~64 MB of floats) by taking output rows in chunks.
  constexpr int64_t kMaxCol = int64_t{1} << 24;
  int64_t row_cols = kdim * out_last;
  if (!pointwise && row_cols > kMaxCol * 4)
    throw_error(StatusCode::kUnsupported, "convolution too large for the reference kernel's column buffer");
  int64_t rows_per_chunk = std::max<int64_t>(1, kMaxCol / std::max<int64_t>(1, row_cols));
  std::vector<T> col;
  if (!pointwise) col.resize(static_cast<size_t>(kdim * std::min(rows, rows_per_chunk) * out_last));
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t gi = 0; gi < g.group; ++gi) {
      const T* xg = x + (n * g.in_channels + gi * cg) * in_size;
      const T* wg = w + gi * mg * kdim;
      T* yg = y + (n * g.out_channels + gi * mg) * out_size;
      if (pointwise) {
        gemm_any(mg, out_size, kdim, wg, kdim, xg, in_size, yg, out_size);
        continue;
      }
      for (int64_t r0 = 0; r0 < rows; r0 += rows_per_chunk) {
        int64_t r1 = std::min(rows, r0 + rows_per_chunk), ncols = (r1 - r0) * out_last;
        im2col(g, xg, cg, r0, r1, col.data());
        gemm_any(mg, ncols, kdim, wg, kdim, col.data(), ncols, yg + r0 * out_last, out_size);
      }
    }
}

template void conv_forward<float>(const ConvGeometry&, const float*, const float*, float*);
template void conv_forward<double>(const ConvGeometry&, const double*, const double*, double*);
template void conv_forward<int64_t>(const ConvGeometry&, const int64_t*, const int64_t*, int64_t*);

void infer_conv_output(InferenceContext& ctx, size_t x_index, size_t w_index, DataType out) {
  const Shape* xs = ctx.input_shape(x_index);
  const Shape* ws = ctx.has_input(w_index) ? ctx.input_shape(w_index) : nullptr;
  if (!xs) {
    ctx.set_output(0, out, std::nullopt);
    return;
  }
  if (xs->rank() < 3) ctx.fail("X must have rank >= 3, has " + xs->to_string());
  if (ws && ws->rank() != xs->rank()) ctx.fail("W " + ws->to_string() + " must have the rank of X " + xs->to_string());
  size_t nd = xs->rank() - 2;
  std::vector<Dim> dims{(*xs)[0], ws ? (*ws)[0] : Dim::unknown()};
  std::vector<int64_t> wk;
  if (ws)
    for (size_t d = 2; d < ws->rank(); ++d) {
      if (!(*ws)[d].is_constant()) {
        wk.clear();
        break;
      }
      wk.push_back((*ws)[d].value());
    }
  if (wk.empty() && !ctx.attrs().has("kernel_shape")) {
    for (size_t d = 0; d < nd; ++d) dims.push_back(Dim::unknown());
    ctx.set_output(0, out, Shape(dims));
    return;
  }
  try {
    WindowParams p = read_window_params(ctx.attrs(), nd, wk, false);
    std::vector<Dim> in(xs->dims().begin() + 2, xs->dims().end());
    for (const Dim& d : window_output_dims(p, in)) dims.push_back(d);
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
  ctx.set_output(0, out, Shape(dims));
}

}  // namespace kiln::ops
