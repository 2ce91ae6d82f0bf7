// GroupNormalization and InstanceNormalization of (N, C, D1, ...): statistics per sample over
// each group of C/num_groups channels (instance norm: each channel alone) and their spatial
// positions. GroupNormalization-18 takes scale and bias per group, -21 per channel.
#include <cmath>

#include "ops/common/infer.h"
#include "ops/common/as_double.h"
#include "ops/common/reduction.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

void infer_group_like(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("X must be a float tensor, got " + std::string(dtype_name(dt)));
  for (size_t i = 1; i < 3; ++i)
    if (!is_float(ctx.input_dtype(i))) ctx.fail("input " + std::to_string(i) + " must be a float tensor");
  const Shape* x = ctx.input_shape(0);
  if (x && x->rank() < 2) ctx.fail("X must have rank >= 2, got " + x->to_string());
  if (ctx.node().op_type() == "GroupNormalization") {
    int64_t groups = ctx.attrs().int_("num_groups");
    if (groups <= 0) ctx.fail("num_groups must be positive");
    if (x && (*x)[1].is_constant() && (*x)[1].value() % groups != 0)
      ctx.fail("channels " + (*x)[1].to_string() + " are not divisible by num_groups " + std::to_string(groups));
  }
  ctx.set_output(0, dt, x ? std::optional<Shape>(*x) : std::nullopt);
}

// Normalizes x with `groups` groups; scale/bias hold one value per group or per channel.
void group_normalize(KernelContext& ctx, int64_t groups, bool per_group_params) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.fail("X must have rank >= 2, got " + x.describe());
  const int64_t n = x.dim(0), c = x.dim(1), spatial = dims_product(x.dims(), 2, x.rank());
  if (groups <= 0 || c % groups != 0)
    ctx.fail("channels " + std::to_string(c) + " are not divisible by num_groups " + std::to_string(groups));
  const int64_t per_group = c / groups;
  const int64_t params = per_group_params ? groups : c;
  std::vector<std::vector<double>> p;
  for (size_t i = 1; i < 3; ++i) {
    const Tensor& t = ctx.input(i);
    if (!is_float(t.dtype()) || t.numel() != params)
      ctx.fail(std::string(i == 1 ? "scale" : "bias") + " must hold " + std::to_string(params) + " floats, got " + t.describe());
    p.push_back(t.to_f64());
  }
  const double eps = ctx.attrs().get_float("epsilon", 1e-5f);
  const std::vector<double> xd = x.to_f64();
  Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
  const int64_t block = per_group * spatial;  // contiguous elements of one (sample, group)
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* py = y.data<T>();
    for (int64_t b = 0; b < n; ++b)
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t start = (b * groups + g) * block;
        double m = 0, v = 0;
        for (int64_t i = 0; i < block; ++i) m += xd[start + i];
        m /= static_cast<double>(block);
        for (int64_t i = 0; i < block; ++i) v += (xd[start + i] - m) * (xd[start + i] - m);
        v /= static_cast<double>(block);
        const double inv = 1.0 / std::sqrt(v + eps);
        for (int64_t i = 0; i < block; ++i) {
          const int64_t ch = g * per_group + i / spatial;
          const int64_t q = per_group_params ? g : ch;
          py[start + i] = from_double<T>((xd[start + i] - m) * inv * p[0][q] + p[1][q]);
        }
      }
  });
}

void group_norm_cpu(KernelContext& ctx) {
  group_normalize(ctx, ctx.attrs().int_("num_groups"), ctx.version() < 21);
}

void instance_norm_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.fail("X must have rank >= 2, got " + x.describe());
  if (x.numel() == 0) {
    ctx.allocate_output(0, x.dtype(), x.dims());
    return;
  }
  group_normalize(ctx, x.dim(1), false);
}

}  // namespace

KILN_REGISTER_OP(GroupNormalization, {"", "GroupNormalization", {18, 21}, infer_group_like, group_norm_cpu});
KILN_REGISTER_OP(InstanceNormalization, {"", "InstanceNormalization", {1, 6, 22}, infer_group_like, instance_norm_cpu});

}  // namespace kiln::ops
