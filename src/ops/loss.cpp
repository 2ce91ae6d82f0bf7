// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss. Input (N, C, D1, ...), integer target
// (N, D1, ...), optional per-class weight (C). Each element's loss is -input[n, t, d] * w[t]
// with w = 0 where t == ignore_index; reduction "none" keeps them, "sum" adds them, "mean"
// divides the sum by the sum of the weights. SoftmaxCrossEntropyLoss first takes the
// log-softmax over axis 1 and can return it as a second output.
#include <cmath>
#include <limits>
#include <optional>

#include "ops/common/infer.h"
#include "ops/common/as_double.h"
#include "ops/common/reduction.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

enum class Reduction { kNone, kSum, kMean };

template <typename Ctx>
Reduction reduction_of(const Ctx& ctx) {
  std::string r = ctx.attrs().get_string("reduction", "mean");
  if (r == "none") return Reduction::kNone;
  if (r == "sum") return Reduction::kSum;
  if (r == "mean") return Reduction::kMean;
  ctx.fail("reduction must be none, sum or mean, got '" + r + "'");
}

template <bool kSoftmax>
void infer_loss(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("input must be a float tensor, got " + std::string(dtype_name(dt)));
  DataType tt = ctx.input_dtype(1);
  if (tt != DataType::kInt32 && tt != DataType::kInt64) ctx.fail("target must be int32 or int64");
  if (ctx.has_input(2) && ctx.input_dtype(2) != dt) ctx.fail("weight must have the input's dtype");
  const Shape* in = ctx.input_shape(0);
  const Shape* target = ctx.input_shape(1);
  if (in && in->rank() < 2) ctx.fail("input must have rank >= 2, got " + in->to_string());
  if (in && target && target->rank() + 1 != in->rank())
    ctx.fail("target rank must be one less than the input's: " + target->to_string() + " vs " + in->to_string());
  if (reduction_of(ctx) == Reduction::kNone) {
    ctx.set_output(0, dt, target ? std::optional<Shape>(*target) : std::nullopt);
  } else {
    ctx.set_output(0, dt, Shape(std::vector<Dim>{}));
  }
  if (kSoftmax && ctx.num_outputs() > 1) ctx.set_output(1, dt, in ? std::optional<Shape>(*in) : std::nullopt);
}

// The loss of log-probabilities lp (the input's dims) for ctx's target, weight and attributes.
void nll_loss(KernelContext& ctx, const std::vector<double>& lp, const std::vector<int64_t>& dims, DataType dt) {
  const Tensor& target = ctx.input(1);
  if (target.dtype() != DataType::kInt32 && target.dtype() != DataType::kInt64)
    ctx.fail("target must be int32 or int64, got " + target.describe());
  const int64_t n = dims[0], c = dims[1], d = dims_product(dims, 2, dims.size());
  std::vector<int64_t> want(dims);
  want.erase(want.begin() + 1);
  if (target.dims() != want) ctx.fail("target dims must be " + dims_to_string(want) + ", got " + target.describe());
  std::vector<double> weight;
  if (ctx.has_input(2)) {
    const Tensor& w = ctx.input(2);
    if (!is_float(w.dtype()) || w.rank() != 1 || w.dim(0) != c)
      ctx.fail("weight must be a 1-D float tensor of " + std::to_string(c) + " classes, got " + w.describe());
    weight = w.to_f64();
  }
  std::optional<int64_t> ignore;
  if (ctx.attrs().has("ignore_index")) ignore = ctx.attrs().get_int("ignore_index", 0);
  const Reduction reduction = reduction_of(ctx);
  const std::vector<int64_t> t = target.to_i64();
  std::vector<double> loss(t.size());
  double total = 0, weight_sum = 0;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t j = 0; j < d; ++j) {
      const int64_t at = b * d + j;
      const int64_t cls = t[at];
      if (ignore && cls == *ignore) continue;  // loss 0, weight 0
      if (cls < 0 || cls >= c)
        ctx.fail("target " + std::to_string(cls) + " is out of range for " + std::to_string(c) + " classes");
      const double w = weight.empty() ? 1.0 : weight[cls];
      loss[at] = -lp[(b * c + cls) * d + j] * w;
      total += loss[at];
      weight_sum += w;
    }
  std::vector<int64_t> out_dims;
  if (reduction == Reduction::kNone) {
    out_dims = target.dims();
  } else {
    loss = {reduction == Reduction::kSum ? total : total / weight_sum};
  }
  Tensor& out = ctx.allocate_output(0, dt, out_dims);
  dispatch_float(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = out.data<T>();
    for (size_t i = 0; i < loss.size(); ++i) p[i] = from_double<T>(loss[i]);
  });
}

void nll_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!is_float(x.dtype()) || x.rank() < 2) ctx.fail("input must be a float tensor of rank >= 2, got " + x.describe());
  nll_loss(ctx, x.to_f64(), x.dims(), x.dtype());
}

void sce_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!is_float(x.dtype()) || x.rank() < 2) ctx.fail("input must be a float tensor of rank >= 2, got " + x.describe());
  const int64_t n = x.dim(0), c = x.dim(1), d = dims_product(x.dims(), 2, x.rank());
  std::vector<double> lp = x.to_f64();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t j = 0; j < d; ++j) {
      double m = -std::numeric_limits<double>::infinity(), s = 0;
      for (int64_t k = 0; k < c; ++k) m = std::max(m, lp[(b * c + k) * d + j]);
      for (int64_t k = 0; k < c; ++k) s += std::exp(lp[(b * c + k) * d + j] - m);
      const double log_s = std::log(s);
      for (int64_t k = 0; k < c; ++k) lp[(b * c + k) * d + j] -= m + log_s;
    }
  nll_loss(ctx, lp, x.dims(), x.dtype());
  if (ctx.wants_output(1)) {
    Tensor& out = ctx.allocate_output(1, x.dtype(), x.dims());
    dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* p = out.data<T>();
      for (size_t i = 0; i < lp.size(); ++i) p[i] = from_double<T>(lp[i]);
    });
  }
}

}  // namespace

KILN_REGISTER_OP(NegativeLogLikelihoodLoss, {"", "NegativeLogLikelihoodLoss", {12, 13, 22}, infer_loss<false>, nll_cpu});
KILN_REGISTER_OP(SoftmaxCrossEntropyLoss, {"", "SoftmaxCrossEntropyLoss", {12, 13}, infer_loss<true>, sce_cpu});

}  // namespace kiln::ops
