// GridSample (2-D and N-D; nearest/linear/cubic; zeros/border/reflection padding) and
// AffineGrid, which makes the sampling grids GridSample reads.
#include <cmath>
#include <type_traits>

#include "ops/common/element_copy.h"
#include "ops/common/infer.h"
#include "ops/common/shape_util.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

// Reflects x into [lo, hi] by the nearer border until inside (the reference's algorithm).
double reflect(double x, double lo, double hi) {
  double rng = hi - lo;
  if (rng <= 0) return lo;
  if (x < lo) {
    double dx = lo - x;
    int64_t n = static_cast<int64_t>(dx / rng);
    double r = dx - static_cast<double>(n) * rng;
    return n % 2 == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    double dx = x - hi;
    int64_t n = static_cast<int64_t>(dx / rng);
    double r = dx - static_cast<double>(n) * rng;
    return n % 2 == 0 ? hi - r : lo + r;
  }
  return x;
}

void cubic_coeffs(double x, double* c) {
  const double A = -0.75;
  x = std::fabs(x);
  c[0] = ((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A;
  c[1] = ((A + 2) * x - (A + 3)) * x * x + 1;
  c[2] = ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1;
  c[3] = ((A * (2 - x) - 5 * A) * (2 - x) + 8 * A) * (2 - x) - 4 * A;
}

struct GridSampler {
  int mode = 1;     // 0 nearest, 1 linear, 2 cubic
  int padding = 0;  // 0 zeros, 1 border, 2 reflection
  bool align = false;
  std::vector<int64_t> dims;            // spatial dims of X
  std::vector<double> border_lo, border_hi;

  // Index along spatial dim d for integer position i, or -1 for a zero pixel.
  int64_t pixel_index(int64_t i, size_t d) const {
    int64_t n = dims[d];
    if (padding == 0) return i >= 0 && i < n ? i : -1;
    if (padding == 1) return std::clamp<int64_t>(i, 0, n - 1);
    int64_t r = static_cast<int64_t>(reflect(static_cast<double>(i), border_lo[d], border_hi[d]));
    return std::clamp<int64_t>(r, 0, n - 1);
  }

  // Samples the image `img` (row-major over dims) at continuous coordinates x (per spatial dim).
  double sample(const std::vector<double>& img, std::vector<double> x) const {
    size_t nd = dims.size();
    for (size_t d = 0; d < nd; ++d) {
      if (mode == 0) x[d] = std::nearbyint(x[d]);
      if (x[d] < border_lo[d] || x[d] > border_hi[d]) {
        if (padding == 1) x[d] = std::clamp(x[d], 0.0, static_cast<double>(dims[d] - 1));
        else if (padding == 2) x[d] = reflect(x[d], border_lo[d], border_hi[d]);
      }
    }
    auto strides = row_major_strides(dims);
    if (mode == 0) {
      int64_t off = 0;
      for (size_t d = 0; d < nd; ++d) {
        int64_t i = pixel_index(static_cast<int64_t>(x[d]), d);
        if (i < 0) return 0.0;
        off += i * strides[d];
      }
      return img[off];
    }
    int taps = mode == 1 ? 2 : 4;
    std::vector<std::vector<double>> w(nd, std::vector<double>(taps));
    std::vector<std::vector<int64_t>> idx(nd, std::vector<int64_t>(taps));
    for (size_t d = 0; d < nd; ++d) {
      double f = std::floor(x[d]);
      double t = x[d] - f;
      int64_t base = static_cast<int64_t>(f) - (mode == 2 ? 1 : 0);
      if (mode == 1) { w[d][0] = 1 - t; w[d][1] = t; }
      else cubic_coeffs(t, w[d].data());
      for (int k = 0; k < taps; ++k) idx[d][k] = pixel_index(base + k, d);
    }
    double acc = 0;
    std::vector<int64_t> corner(nd, 0), tap_dims(nd, taps);
    do {
      double weight = 1;
      int64_t off = 0;
      bool zero = false;
      for (size_t d = 0; d < nd; ++d) {
        int64_t i = idx[d][corner[d]];
        if (i < 0) { zero = true; break; }
        weight *= w[d][corner[d]];
        off += i * strides[d];
      }
      if (!zero) acc += weight * img[off];
    } while (next_index(corner, tap_dims));
    return acc;
  }
};

void grid_sample_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& grid = ctx.input(1);
  size_t r = x.rank();
  KILN_CHECK(r >= 3 && grid.rank() == r, "GridSample: X and grid must have the same rank >= 3");
  size_t nd = r - 2;
  KILN_CHECK(ctx.version() >= 20 || nd == 2, "GridSample-16 takes 4-D input only");
  KILN_CHECK(grid.dim(0) == x.dim(0) && grid.dim(r - 1) == static_cast<int64_t>(nd),
             "GridSample: grid " + grid.describe() + " does not match X " + x.describe());
  GridSampler s;
  std::string mode = ctx.attrs().get_string("mode", ctx.version() >= 20 ? "linear" : "bilinear");
  if (mode == "nearest") s.mode = 0;
  else if (mode == "linear" || mode == "bilinear") s.mode = 1;
  else if (mode == "cubic" || mode == "bicubic") s.mode = 2;
  else ctx.fail("unknown mode '" + mode + "'");
  std::string pad = ctx.attrs().get_string("padding_mode", "zeros");
  if (pad == "zeros") s.padding = 0;
  else if (pad == "border") s.padding = 1;
  else if (pad == "reflection") s.padding = 2;
  else ctx.fail("unknown padding_mode '" + pad + "'");
  s.align = ctx.attrs().get_int("align_corners", 0) != 0;
  s.dims.assign(x.dims().begin() + 2, x.dims().end());
  for (int64_t d : s.dims) {
    KILN_CHECK(d > 0, "GridSample: empty spatial dim");
    s.border_lo.push_back(s.align ? 0.0 : -0.5);
    s.border_hi.push_back(s.align ? static_cast<double>(d) - 1 : static_cast<double>(d) - 0.5);
  }
  std::vector<int64_t> out_dims = {x.dim(0), x.dim(1)};
  out_dims.insert(out_dims.end(), grid.dims().begin() + 1, grid.dims().end() - 1);
  Tensor& out = ctx.allocate_output(0, x.dtype(), out_dims);
  if (out.numel() == 0) return;
  int64_t n_out = dims_product(out_dims, 2, out_dims.size());
  int64_t img_size = dims_product(x.dims(), 2, r);
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    auto gv = grid.to_f64();
    std::vector<double> img(img_size), coord(nd);
    for (int64_t n = 0; n < x.dim(0); ++n)
      for (int64_t c = 0; c < x.dim(1); ++c) {
        for (int64_t i = 0; i < img_size; ++i) img[i] = static_cast<double>(px[(n * x.dim(1) + c) * img_size + i]);
        for (int64_t o = 0; o < n_out; ++o) {
          const double* g = gv.data() + (n * n_out + o) * static_cast<int64_t>(nd);
          for (size_t d = 0; d < nd; ++d) {
            C v = static_cast<C>(g[nd - 1 - d]);  // grid's last component is the innermost dim
            C len = static_cast<C>(s.dims[d]);
            coord[d] = static_cast<double>(s.align ? (v + 1) / C(2) * (len - 1) : ((v + 1) * len - 1) / C(2));
          }
          po[(n * x.dim(1) + c) * n_out + o] = T(static_cast<C>(s.sample(img, coord)));
        }
      }
  });
}

void infer_grid_sample(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  const Shape* xs = ctx.input_shape(0);
  const Shape* gs = ctx.input_shape(1);
  if (!xs || !gs) return ctx.set_output(0, dt, std::nullopt);
  if (xs->rank() < 3 || xs->rank() != gs->rank()) ctx.fail("X and grid must have the same rank >= 3");
  std::vector<Dim> out = {(*xs)[0], (*xs)[1]};
  out.insert(out.end(), gs->dims().begin() + 1, gs->dims().end() - 1);
  ctx.set_output(0, dt, Shape(out));
}

// --- AffineGrid ---

void affine_grid_cpu(KernelContext& ctx) {
  const Tensor& theta = ctx.input(0);
  auto size = ctx.input(1).to_i64();
  KILN_CHECK(size.size() == 4 || size.size() == 5, "AffineGrid: size must have 4 or 5 entries");
  size_t nd = size.size() - 2;
  KILN_CHECK(theta.rank() == 3 && theta.dim(0) == size[0] && theta.dim(1) == static_cast<int64_t>(nd) &&
                 theta.dim(2) == static_cast<int64_t>(nd + 1),
             "AffineGrid: theta " + theta.describe() + " does not match size");
  bool align = ctx.attrs().get_int("align_corners", 0) != 0;
  std::vector<int64_t> sp(size.begin() + 2, size.end());
  for (int64_t d : sp) KILN_CHECK(d >= 0, "AffineGrid: negative size");
  std::vector<int64_t> out_dims = {size[0]};
  out_dims.insert(out_dims.end(), sp.begin(), sp.end());
  out_dims.push_back(static_cast<int64_t>(nd));
  Tensor& out = ctx.allocate_output(0, theta.dtype(), out_dims);
  auto th = theta.to_f64();
  auto base = [&](int64_t i, int64_t n) {
    if (align) return n == 1 ? -1.0 : -1.0 + static_cast<double>(i) * 2.0 / static_cast<double>(n - 1);
    double step = 2.0 / static_cast<double>(n);
    return -1.0 + step / 2 + static_cast<double>(i) * step;
  };
  int64_t points = dims_product(sp, 0, sp.size());
  std::vector<double> res(out.numel());
  for (int64_t n = 0; n < size[0]; ++n) {
    std::vector<int64_t> idx(nd, 0);
    for (int64_t p = 0; p < points; ++p, next_index(idx, sp)) {
      std::vector<double> h(nd + 1, 1.0);  // (x, y[, z], 1): x runs along the last dim
      for (size_t d = 0; d < nd; ++d) h[d] = base(idx[nd - 1 - d], sp[nd - 1 - d]);
      for (size_t k = 0; k < nd; ++k) {
        double acc = 0;
        for (size_t j = 0; j <= nd; ++j) acc += th[(n * nd + k) * (nd + 1) + j] * h[j];
        res[(n * points + p) * nd + k] = acc;
      }
    }
  }
  dispatch_float(theta.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < out.numel(); ++i) out.data<T>()[i] = T(static_cast<std::conditional_t<std::is_same_v<T, double>, double, float>>(res[i]));
  });
}

void infer_affine_grid(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  auto size = constant_ints(ctx, 1);
  if (size) {
    if (size->size() != 4 && size->size() != 5) ctx.fail("size must have 4 or 5 entries");
    std::vector<Dim> out = {Dim((*size)[0])};
    for (size_t i = 2; i < size->size(); ++i) out.push_back(Dim((*size)[i]));
    out.push_back(Dim(static_cast<int64_t>(size->size() - 2)));
    return ctx.set_output(0, dt, Shape(out));
  }
  auto n = static_length_1d(ctx.input_shape(1));
  ctx.set_output(0, dt, n ? std::optional<Shape>(unknown_dims(*n)) : std::nullopt);
}

}  // namespace

KILN_REGISTER_OP(GridSample, {"", "GridSample", {16, 20, 22}, infer_grid_sample, grid_sample_cpu});
KILN_REGISTER_OP(AffineGrid, {"", "AffineGrid", {20}, infer_affine_grid, affine_grid_cpu});

}  // namespace kiln::ops
