// BatchNormalization over channel axis 1 of (N, C, D1, ...). Inference mode normalizes with the
// given mean and variance; training_mode=1 (opset 14+) uses the batch's own statistics and also
// returns the updated running mean and variance. Before opset 14 only the inference output Y is
// supported (like ONNX Runtime, is_test=0 of opsets 1/6 is not treated as training); spatial=0
// of opsets 1-7 takes per-position parameters of shape (C, D1, ...).
#include <cmath>

#include "ops/common/infer.h"
#include "ops/common/as_double.h"
#include "ops/common/reduction.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

bool training(const ir::Attributes& attrs, int version) { return version >= 14 && attrs.get_int("training_mode", 0) != 0; }

void infer_batch_norm(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("X must be a float tensor, got " + std::string(dtype_name(dt)));
  for (size_t i = 1; i < 5; ++i)
    if (!is_float(ctx.input_dtype(i))) ctx.fail("input " + std::to_string(i) + " must be a float tensor");
  const Shape* x = ctx.input_shape(0);
  if (x && x->rank() < 2) ctx.fail("X must have rank >= 2, got " + x->to_string());
  ctx.set_output(0, dt, x ? std::optional<Shape>(*x) : std::nullopt);
  if (ctx.num_outputs() > 1 && ctx.version() < 14) {
    // Training outputs of old opsets: declared so the graph types, refused by the kernel.
    for (size_t i = 1; i < ctx.num_outputs(); ++i) ctx.set_output(i, ctx.input_dtype(3), std::nullopt);
    return;
  }
  for (size_t i = 1; i < ctx.num_outputs() && i < 3; ++i) {
    std::optional<Shape> s;
    if (x) s = Shape(std::vector<Dim>{(*x)[1]});
    ctx.set_output(i, ctx.input_dtype(2 + i), s);
  }
}

void batch_norm_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.fail("X must have rank >= 2, got " + x.describe());
  const bool train = training(ctx.attrs(), ctx.version());
  if (ctx.version() < 14)
    for (size_t i = 1; i < ctx.num_outputs(); ++i)
      if (ctx.wants_output(i)) ctx.fail("training outputs of BatchNormalization before opset 14 are not supported");
  const int64_t n = x.dim(0), c = x.dim(1), spatial = dims_product(x.dims(), 2, x.rank());
  // Per-channel parameters, or per position (C * D1 * ...) for spatial=0 of old opsets.
  const bool per_position = ctx.version() < 9 && ctx.attrs().get_int("spatial", 1) == 0 && !train;
  const int64_t params = per_position ? c * spatial : c;
  std::vector<std::vector<double>> p(4);
  for (size_t i = 0; i < 4; ++i) {
    const Tensor& t = ctx.input(i + 1);
    if (!is_float(t.dtype()) || t.numel() != params)
      ctx.fail("input " + std::to_string(i + 1) + " must hold " + std::to_string(params) + " floats, got " + t.describe());
    p[i] = t.to_f64();
  }
  const double eps = ctx.attrs().get_float("epsilon", 1e-5f);
  const double momentum = ctx.attrs().get_float("momentum", 0.9f);
  std::vector<double> mean = p[2], var = p[3];
  std::vector<double> xd = x.to_f64();
  if (train) {  // population statistics over every axis but 1
    const double count = static_cast<double>(n * spatial);
    for (int64_t ch = 0; ch < c; ++ch) {
      double s = 0, ss = 0;
      for (int64_t b = 0; b < n; ++b)
        for (int64_t j = 0; j < spatial; ++j) s += xd[(b * c + ch) * spatial + j];
      const double m = s / count;
      for (int64_t b = 0; b < n; ++b)
        for (int64_t j = 0; j < spatial; ++j) {
          double d = xd[(b * c + ch) * spatial + j] - m;
          ss += d * d;
        }
      mean[ch] = m;
      var[ch] = ss / count;
    }
  }
  Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* py = y.data<T>();
    for (int64_t b = 0; b < n; ++b)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t j = 0; j < spatial; ++j) {
          const int64_t at = (b * c + ch) * spatial + j;
          const int64_t q = per_position ? ch * spatial + j : ch;
          py[at] = from_double<T>(p[0][q] * (xd[at] - mean[q]) / std::sqrt(var[q] + eps) + p[1][q]);
        }
  });
  if (!train) {
    if (ctx.wants_output(1) || ctx.wants_output(2)) ctx.fail("running mean and variance outputs need training_mode=1");
    return;
  }
  for (size_t o = 1; o < 3; ++o) {
    if (!ctx.wants_output(o)) continue;
    const Tensor& running = ctx.input(o + 2);
    Tensor& out = ctx.allocate_output(o, running.dtype(), running.dims());
    const std::vector<double>& batch = o == 1 ? mean : var;
    dispatch_float(running.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* pr = out.data<T>();
      for (int64_t ch = 0; ch < c; ++ch) pr[ch] = from_double<T>(p[o + 1][ch] * momentum + batch[ch] * (1 - momentum));
    });
  }
}

}  // namespace

KILN_REGISTER_OP(BatchNormalization, {"", "BatchNormalization", {1, 6, 7, 9, 14, 15}, infer_batch_norm, batch_norm_cpu});

}  // namespace kiln::ops
