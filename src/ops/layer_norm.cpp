// LayerNormalization and RMSNormalization over the trailing axes [axis, rank). Scale (and
// LayerNorm's optional bias) broadcast to those axes. LayerNorm's optional Mean and InvStdDev
// outputs keep X's rank with the normalized axes set to 1, in the stash_type dtype. Statistics
// are computed in double whatever stash_type says (at least as accurate as float).
#include <cmath>

#include "ops/common/infer.h"
#include "ops/common/norm_params.h"
#include "ops/common/as_double.h"
#include "ops/common/reduction.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

DataType stash_dtype(const ir::Attributes& attrs, DataType fallback) {
  auto dt = dtype_from_code(static_cast<int32_t>(attrs.get_int("stash_type", 1)));
  return dt && is_float(*dt) ? *dt : fallback;
}

template <bool kRms>
void infer_norm(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("X must be a float tensor, got " + std::string(dtype_name(dt)));
  if (!is_float(ctx.input_dtype(1))) ctx.fail("Scale must be a float tensor");
  const Shape* x = ctx.input_shape(0);
  int64_t axis = 0;
  if (x) {
    try {
      axis = normalize_axis(ctx.attrs().get_int("axis", -1), static_cast<int64_t>(x->rank()));
    } catch (const Error& e) {
      ctx.fail(e.what());
    }
  }
  ctx.set_output(0, dt, x ? std::optional<Shape>(*x) : std::nullopt);
  if constexpr (!kRms) {
    std::optional<Shape> stats;
    if (x) {
      std::vector<Dim> d = x->dims();
      for (size_t i = static_cast<size_t>(axis); i < d.size(); ++i) d[i] = Dim(1);
      stats = Shape(d);
    }
    const DataType u = stash_dtype(ctx.attrs(), dt);
    for (size_t i = 1; i < ctx.num_outputs() && i < 3; ++i) ctx.set_output(i, u, stats);
  }
}

template <bool kRms>
void norm_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const size_t axis = static_cast<size_t>(normalize_axis(ctx.attrs().get_int("axis", -1), static_cast<int64_t>(x.rank())));
  const double eps = ctx.attrs().get_float("epsilon", 1e-5f);
  const std::vector<int64_t> norm_dims(x.dims().begin() + axis, x.dims().end());
  const std::vector<double> scale = broadcast_param(ctx.input(1), norm_dims, "Scale");
  std::vector<double> bias;
  if (!kRms && ctx.has_input(2)) bias = broadcast_param(ctx.input(2), norm_dims, "B");
  const int64_t rows = dims_product(x.dims(), 0, axis), cols = dims_product(x.dims(), axis, x.rank());
  const std::vector<double> xd = x.to_f64();
  std::vector<double> yd(xd.size()), mean(static_cast<size_t>(rows)), inv_std(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const double* row = xd.data() + r * cols;
    double m = 0;
    if (!kRms) {
      for (int64_t c = 0; c < cols; ++c) m += row[c];
      m /= static_cast<double>(cols);
    }
    double v = 0;
    for (int64_t c = 0; c < cols; ++c) v += (row[c] - m) * (row[c] - m);
    v /= static_cast<double>(cols);
    const double inv = 1.0 / std::sqrt(v + eps);
    for (int64_t c = 0; c < cols; ++c)
      yd[r * cols + c] = (row[c] - m) * inv * scale[c] + (bias.empty() ? 0.0 : bias[c]);
    mean[r] = m;
    inv_std[r] = inv;
  }
  auto store = [&](size_t out, DataType dt, std::vector<int64_t> dims, const std::vector<double>& v) {
    Tensor& t = ctx.allocate_output(out, dt, std::move(dims));
    dispatch_float(dt, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* p = t.data<T>();
      for (size_t i = 0; i < v.size(); ++i) p[i] = from_double<T>(v[i]);
    });
  };
  store(0, x.dtype(), x.dims(), yd);
  if constexpr (!kRms) {
    std::vector<int64_t> stat_dims = x.dims();
    for (size_t i = axis; i < stat_dims.size(); ++i) stat_dims[i] = 1;
    const DataType u = stash_dtype(ctx.attrs(), x.dtype());
    if (ctx.wants_output(1)) store(1, u, stat_dims, mean);
    if (ctx.wants_output(2)) store(2, u, stat_dims, inv_std);
  }
}

}  // namespace

KILN_REGISTER_OP(LayerNormalization, {"", "LayerNormalization", {17}, infer_norm<false>, norm_cpu<false>});
KILN_REGISTER_OP(RMSNormalization, {"", "RMSNormalization", {23}, infer_norm<true>, norm_cpu<true>});

}  // namespace kiln::ops
