// MaxPool (with indices), AveragePool and LpPool over 1-D to N-D windows.
#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/common/window.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

enum class PoolKind { kMax, kAverage, kLp };

constexpr size_t kMaxDims = 8;

struct PoolGeometry {
  int64_t channels = 0;  // N * C
  std::vector<int64_t> in, out;
  WindowParams w;
};

PoolGeometry pool_geometry(const KernelContext& ctx, const Tensor& x, bool dilations_allowed) {
  if (x.rank() < 3) ctx.fail("X must have rank >= 3, has " + x.describe());
  if (x.rank() - 2 > kMaxDims) ctx.fail("too many spatial dims");
  PoolGeometry g;
  g.channels = x.dim(0) * x.dim(1);
  g.in.assign(x.dims().begin() + 2, x.dims().end());
  g.w = read_window_params(ctx.attrs(), g.in.size(), {}, true);
  if (!dilations_allowed) g.w.dilations.assign(g.in.size(), 1);
  g.out = resolve_window(g.w, g.in);
  return g;
}

template <typename T>
double load(const T* p, int64_t i) {
  if constexpr (std::is_arithmetic_v<T>)
    return static_cast<double>(p[i]);
  else
    return static_cast<double>(static_cast<float>(p[i]));
}

template <typename T>
T store(double v) {
  if constexpr (std::is_arithmetic_v<T>)
    return static_cast<T>(v);
  else
    return T(static_cast<float>(v));
}

// Visits every output position of one channel: fn(out_index, window) where window lists the
// valid input offsets (row-major) and `covered` counts window positions inside input + pads.
template <typename Fn>
void for_each_window(const PoolGeometry& g, Fn fn) {
  size_t nd = g.in.size();
  int64_t out_total = 1, k_total = 1;
  for (size_t d = 0; d < nd; ++d) {
    out_total *= g.out[d];
    if (g.w.kernel[d] > (int64_t{1} << 31) / k_total)
      throw_error(StatusCode::kUnsupported, "pooling window too large for the reference kernel");
    k_total *= g.w.kernel[d];
  }
  std::vector<int64_t> offsets;
  offsets.reserve(static_cast<size_t>(k_total));
  int64_t oc[kMaxDims] = {}, kc[kMaxDims] = {};
  for (int64_t o = 0; o < out_total; ++o) {
    offsets.clear();
    int64_t covered = 0;
    for (size_t d = 0; d < nd; ++d) kc[d] = 0;
    for (int64_t k = 0; k < k_total; ++k) {
      bool valid = true, inside = true;
      int64_t off = 0;
      for (size_t d = 0; d < nd; ++d) {
        int64_t i = oc[d] * g.w.strides[d] - g.w.pads[d] + kc[d] * g.w.dilations[d];
        if (i < 0 || i >= g.in[d]) valid = false;
        if (i >= g.in[d] + g.w.pads[d + nd]) inside = false;
        off = off * g.in[d] + i;
      }
      covered += inside;
      if (valid) offsets.push_back(off);
      for (size_t d = nd; d-- > 0;) {
        if (++kc[d] < g.w.kernel[d]) break;
        kc[d] = 0;
      }
    }
    fn(o, offsets, covered);
    for (size_t d = nd; d-- > 0;) {
      if (++oc[d] < g.out[d]) break;
      oc[d] = 0;
    }
  }
}

std::vector<int64_t> output_dims(const Tensor& x, const PoolGeometry& g) {
  std::vector<int64_t> d{x.dim(0), x.dim(1)};
  d.insert(d.end(), g.out.begin(), g.out.end());
  return d;
}

// Row-major spatial offset -> column-major one (MaxPool's storage_order = 1).
int64_t column_major(int64_t off, const std::vector<int64_t>& in) {
  int64_t result = 0, stride = 1;
  std::vector<int64_t> coord(in.size());
  for (size_t d = in.size(); d-- > 0;) {
    coord[d] = off % in[d];
    off /= in[d];
  }
  for (size_t d = 0; d < in.size(); ++d) {
    result += coord[d] * stride;
    stride *= in[d];
  }
  return result;
}

template <PoolKind K>
void pool_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  bool dil = K == PoolKind::kMax ? ctx.version() >= 10 : K == PoolKind::kAverage ? ctx.version() >= 19 : ctx.version() >= 18;
  PoolGeometry g = pool_geometry(ctx, x, dil);
  if (K != PoolKind::kMax && !is_float(x.dtype())) ctx.fail("X must be a float tensor, got " + x.describe());
  Tensor& y = ctx.allocate_output(0, x.dtype(), output_dims(x, g));
  bool want_indices = K == PoolKind::kMax && ctx.wants_output(1);
  Tensor* ind = want_indices ? &ctx.allocate_output(1, DataType::kInt64, output_dims(x, g)) : nullptr;
  bool col_major = ctx.attrs().get_int("storage_order", 0) != 0;
  bool include_pad = ctx.attrs().get_int("count_include_pad", 0) != 0;
  // LpPool-1 took p as a float; later versions as an int.
  double p = K != PoolKind::kLp ? 0
             : ctx.version() < 2 ? ctx.attrs().get_float("p", 2.0f)
                                 : static_cast<double>(ctx.attrs().get_int("p", 2));
  int64_t in_size = 1, out_size = 1;
  for (int64_t d : g.in) in_size *= d;
  for (int64_t d : g.out) out_size *= d;
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t c = 0; c < g.channels; ++c) {
      const T* xc = x.data<T>() + c * in_size;
      T* yc = y.data<T>() + c * out_size;
      for_each_window(g, [&](int64_t o, const std::vector<int64_t>& offs, int64_t covered) {
        if constexpr (K == PoolKind::kMax) {
          int64_t best = -1;
          double bv = 0;
          for (int64_t off : offs) {
            double v = load(xc, off);
            if (best < 0 || v > bv) best = off, bv = v;
          }
          yc[o] = best < 0 ? store<T>(0) : xc[best];
          if (ind)
            ind->data<int64_t>()[c * out_size + o] =
                best < 0 ? -1 : c * in_size + (col_major ? column_major(best, g.in) : best);
        } else if constexpr (K == PoolKind::kAverage) {
          double s = 0;
          for (int64_t off : offs) s += load(xc, off);
          int64_t count = include_pad ? covered : static_cast<int64_t>(offs.size());
          yc[o] = store<T>(count > 0 ? s / static_cast<double>(count) : std::numeric_limits<double>::quiet_NaN());
        } else {
          double s = 0;
          for (int64_t off : offs) s += std::pow(std::fabs(load(xc, off)), p);
          yc[o] = store<T>(std::pow(s, 1.0 / p));
        }
      });
    }
  });
}

void infer_pool(InferenceContext& ctx) {
  const Shape* xs = ctx.input_shape(0);
  DataType dt = ctx.input_dtype(0);
  std::optional<Shape> out;
  if (xs) {
    if (xs->rank() < 3) ctx.fail("X must have rank >= 3, has " + xs->to_string());
    std::vector<Dim> dims{(*xs)[0], (*xs)[1]};
    try {
      WindowParams p = read_window_params(ctx.attrs(), xs->rank() - 2, {}, true);
      std::string op = ctx.node().op_type();
      int v = ctx.version();
      if ((op == "MaxPool" && v < 10) || (op == "AveragePool" && v < 19) || (op == "LpPool" && v < 18))
        p.dilations.assign(p.rank(), 1);
      for (const Dim& d : window_output_dims(p, std::vector<Dim>(xs->dims().begin() + 2, xs->dims().end())))
        dims.push_back(d);
    } catch (const Error& e) {
      ctx.fail(e.what());
    }
    out = Shape(dims);
  }
  ctx.set_output(0, dt, out);
  if (ctx.num_outputs() > 1) ctx.set_output(1, DataType::kInt64, out);
}

}  // namespace

KILN_REGISTER_OP(MaxPool, {"", "MaxPool", {1, 8, 10, 11, 12, 22}, infer_pool, pool_cpu<PoolKind::kMax>});
KILN_REGISTER_OP(AveragePool, {"", "AveragePool", {1, 7, 10, 11, 19, 22}, infer_pool, pool_cpu<PoolKind::kAverage>});
KILN_REGISTER_OP(LpPool, {"", "LpPool", {1, 2, 11, 18, 22}, infer_pool, pool_cpu<PoolKind::kLp>});

}  // namespace kiln::ops
