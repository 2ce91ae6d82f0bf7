#include "ops/common/fused_activation.h"

#include <algorithm>

#include "core/status.h"

namespace kiln::ops {

bool is_fused_activation(const std::string& n) {
  return n.empty() || n == "Relu" || n == "Clip" || n == "Sigmoid" || n == "Silu" || n == "Swish" || n == "Gelu" ||
         n == "GeluTanh" || n == "LeakyRelu" || n == "HardSwish" || n == "HardSigmoid" || n == "Tanh";
}

double apply_fused_activation(const std::string& n, double alpha, double beta, double x) {
  auto sigmoid = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  if (n.empty()) return x;
  if (n == "Relu") return x > 0 ? x : 0.0;
  if (n == "Clip") return std::min(std::max(x, alpha), beta);  // alpha = min, beta = max
  if (n == "Sigmoid") return sigmoid(x);
  if (n == "Silu") return x * sigmoid(x);
  if (n == "Swish") return x * sigmoid(alpha * x);
  if (n == "Gelu") return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
  if (n == "GeluTanh") return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  if (n == "LeakyRelu") return x >= 0 ? x : alpha * x;
  if (n == "HardSwish") return x * std::max(0.0, std::min(1.0, x / 6.0 + 0.5));
  if (n == "HardSigmoid") return std::max(0.0, std::min(1.0, alpha * x + beta));
  if (n == "Tanh") return std::tanh(x);
  throw_error(StatusCode::kInvalidModel, "unknown fused activation '" + n + "'");
}

}  // namespace kiln::ops
