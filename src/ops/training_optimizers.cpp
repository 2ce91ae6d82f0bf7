// ai.onnx.preview.training optimizers: Momentum, Adagrad, Adam. Inputs are R (learning rate),
// T (update count), then the per-tensor groups X..., G..., and the optimizer states; outputs
// are the new X... followed by the new states. Computed in double.
#include <cmath>

#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

// Number of optimized tensors for `groups` input groups (X, G, states...).
size_t tensor_count(size_t num_inputs, size_t groups, const std::string& who) {
  if (num_inputs < 2 + groups || (num_inputs - 2) % groups != 0)
    throw_error(StatusCode::kInvalidModel, who + " takes R, T and " + std::to_string(groups) + " equal groups of tensors");
  return (num_inputs - 2) / groups;
}

// Runs `update(x, g, states..., outputs...)` element-wise for each tensor group.
template <typename Update>
void run_optimizer(KernelContext& ctx, size_t groups, Update update) {
  size_t n = tensor_count(ctx.num_inputs(), groups, ctx.node().op_type());
  double r = ctx.input(0).to_f64().at(0);
  const Tensor& tt = ctx.input(1);
  if (tt.numel() != 1 || tt.dtype() != DataType::kInt64) ctx.fail("T must be an int64 scalar, is " + tt.describe());
  int64_t t = tt.data<int64_t>()[0];
  for (size_t i = 0; i < n; ++i) {
    std::vector<std::vector<double>> in;
    const Tensor& x = ctx.input(2 + i);
    for (size_t gi = 0; gi < groups; ++gi) {
      const Tensor& v = ctx.input(2 + gi * n + i);
      if (v.dims() != x.dims()) ctx.fail("tensor " + v.describe() + " does not match " + x.describe());
      in.push_back(v.to_f64());
    }
    size_t n_out = groups - 1;  // X and the states, not G
    std::vector<std::vector<double>> out(n_out, std::vector<double>(in[0].size()));
    for (size_t e = 0; e < in[0].size(); ++e) {
      std::vector<double> args(groups), res(n_out);
      for (size_t gi = 0; gi < groups; ++gi) args[gi] = in[gi][e];
      update(r, t, args, res);
      for (size_t k = 0; k < n_out; ++k) out[k][e] = res[k];
    }
    for (size_t k = 0; k < n_out; ++k) {
      size_t slot = k * n + i;
      if (!ctx.wants_output(slot)) continue;
      const Tensor& like = ctx.input(2 + (k == 0 ? 0 : k + 1) * n + i);
      Tensor& o = ctx.allocate_output(slot, like.dtype(), like.dims());
      dispatch_float(like.dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        for (size_t e = 0; e < out[k].size(); ++e) {
          if constexpr (std::is_same_v<T, double>) o.data<T>()[e] = out[k][e];
          else o.data<T>()[e] = T(static_cast<float>(out[k][e]));
        }
      });
    }
  }
}

void momentum_cpu(KernelContext& ctx) {
  const auto& a = ctx.attrs();
  double alpha = a.get_float("alpha", 0), beta = a.get_float("beta", 0), norm = a.get_float("norm_coefficient", 0);
  std::string mode = a.get_string("mode", "standard");
  if (mode != "standard" && mode != "nesterov") ctx.fail("unknown mode '" + mode + "'");
  bool nesterov = mode == "nesterov";
  run_optimizer(ctx, 3, [&](double r, int64_t t, const std::vector<double>& in, std::vector<double>& out) {
    double x = in[0], g = in[1] + norm * in[0], v = in[2];
    double v_new = alpha * v + (t > 0 ? beta : 1.0) * g;
    out[0] = nesterov ? x - r * (g + alpha * v_new) : x - r * v_new;
    out[1] = v_new;
  });
}

void adagrad_cpu(KernelContext& ctx) {
  const auto& a = ctx.attrs();
  double decay = a.get_float("decay_factor", 0), eps = a.get_float("epsilon", 1e-6f), norm = a.get_float("norm_coefficient", 0);
  run_optimizer(ctx, 3, [&](double r, int64_t t, const std::vector<double>& in, std::vector<double>& out) {
    double rr = r / (1 + static_cast<double>(t) * decay);
    double g = norm * in[0] + in[1];
    double h = in[2] + g * g;
    out[0] = in[0] - rr * g / (std::sqrt(h) + eps);
    out[1] = h;
  });
}

void adam_cpu(KernelContext& ctx) {
  const auto& a = ctx.attrs();
  double alpha = a.get_float("alpha", 0.9f), beta = a.get_float("beta", 0.999f), eps = a.get_float("epsilon", 1e-6f);
  double norm = a.get_float("norm_coefficient", 0), post = a.get_float("norm_coefficient_post", 0);
  run_optimizer(ctx, 4, [&](double r, int64_t t, const std::vector<double>& in, std::vector<double>& out) {
    double g = norm * in[0] + in[1];
    double v = alpha * in[2] + (1 - alpha) * g;
    double h = beta * in[3] + (1 - beta) * g * g;
    double td = static_cast<double>(t);
    double rr = t > 0 ? r * std::sqrt(1 - std::pow(beta, td)) / (1 - std::pow(alpha, td)) : r;
    out[0] = (1 - post) * (in[0] - rr * (v / (std::sqrt(h) + eps)));
    out[1] = v;
    out[2] = h;
  });
}

void infer_optimizer(InferenceContext& ctx, size_t groups) {
  size_t n = tensor_count(ctx.num_inputs(), groups, ctx.node().op_type());
  for (size_t k = 0; k + 1 < groups; ++k)
    for (size_t i = 0; i < n; ++i) {
      size_t slot = k * n + i;
      if (slot >= ctx.num_outputs()) return;
      ctx.set_output(slot, ctx.input_type(2 + (k == 0 ? 0 : k + 1) * n + i));
    }
}
void infer_momentum(InferenceContext& ctx) { infer_optimizer(ctx, 3); }
void infer_adagrad(InferenceContext& ctx) { infer_optimizer(ctx, 3); }
void infer_adam(InferenceContext& ctx) { infer_optimizer(ctx, 4); }

}  // namespace

KILN_REGISTER_OP(Momentum, {"ai.onnx.preview.training", "Momentum", {1}, infer_momentum, momentum_cpu});
KILN_REGISTER_OP(Adagrad, {"ai.onnx.preview.training", "Adagrad", {1}, infer_adagrad, adagrad_cpu});
KILN_REGISTER_OP(Adam, {"ai.onnx.preview.training", "Adam", {1}, infer_adam, adam_cpu});

}  // namespace kiln::ops
