// The largest |got - ref| over max|ref| (a NaN in `got`, or a size mismatch, counts as 1e9): how
// the whole-engine GPU tests compare an engine's output with the CPU reference.
#pragma once
#include <algorithm>
#include <cmath>

#include "core/tensor.h"

namespace kiln::gpu_test {

inline double max_rel_error(const Tensor& got, const Tensor& ref) {
  auto a = got.to_f64(), b = ref.to_f64();
  if (a.size() != b.size()) return 1e9;
  double scale = 1e-6, worst = 0;
  for (double e : b) scale = std::max(scale, std::fabs(e));
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::isnan(a[i]) ? 1e9 : std::fabs(a[i] - b[i]) / scale);
  return worst;
}

}  // namespace kiln::gpu_test
