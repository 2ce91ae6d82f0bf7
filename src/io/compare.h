// Compares computed values with references the way ONNX's backend tests do
// (numpy.testing.assert_allclose: |actual - expected| <= atol + rtol * |expected|, NaNs in the
// same places), and reports the largest errors.
#pragma once
#include <string>

#include "core/tensor.h"

namespace kiln::io {

struct Comparison {
  bool ok = true;
  double max_abs_error = 0;
  double max_rel_error = 0;
  std::string message;  // why it failed, empty when ok
};

Comparison compare_tensors(const Tensor& expected, const Tensor& actual, double rtol, double atol);
Comparison compare_values(const RuntimeValue& expected, const RuntimeValue& actual, double rtol, double atol);

}  // namespace kiln::io
