#include "io/compare.h"

#include <cmath>
#include <sstream>

namespace kiln::io {

Comparison compare_tensors(const Tensor& expected, const Tensor& actual, double rtol, double atol) {
  Comparison c;
  auto fail = [&](const std::string& why) {
    c.ok = false;
    c.message = why;
    return c;
  };
  if (expected.dtype() != actual.dtype())
    return fail("dtype " + std::string(dtype_name(actual.dtype())) + ", expected " + std::string(dtype_name(expected.dtype())));
  if (expected.dims() != actual.dims())
    return fail("shape " + dims_to_string(actual.dims()) + ", expected " + dims_to_string(expected.dims()));
  const int64_t n = expected.numel();
  if (expected.dtype() == DataType::kString) {
    for (int64_t i = 0; i < n; ++i)
      if (expected.strings()[i] != actual.strings()[i])
        return fail("element " + std::to_string(i) + " is '" + actual.strings()[i] + "', expected '" + expected.strings()[i] + "'");
    return c;
  }
  if (expected.dtype() == DataType::kComplex64 || expected.dtype() == DataType::kComplex128) {
    // Compare real and imaginary parts as floats.
    bool single = expected.dtype() == DataType::kComplex64;
    for (int64_t i = 0; i < 2 * n; ++i) {
      double a = single ? actual.data<float>()[i] : actual.data<double>()[i];
      double b = single ? expected.data<float>()[i] : expected.data<double>()[i];
      double err = std::fabs(a - b);
      c.max_abs_error = std::max(c.max_abs_error, err);
      if (!(err <= atol + rtol * std::fabs(b)) && !(std::isnan(a) && std::isnan(b)))
        c.ok = false;
    }
    if (!c.ok) c.message = "max abs error " + std::to_string(c.max_abs_error);
    return c;
  }
  std::vector<double> a = actual.to_f64(), b = expected.to_f64();
  int64_t worst = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) {
      if (std::isnan(a[i]) != std::isnan(b[i]) && worst < 0) worst = i;
      continue;
    }
    if (std::isinf(a[i]) || std::isinf(b[i])) {
      if (a[i] != b[i] && worst < 0) worst = i;
      continue;
    }
    double err = std::fabs(a[i] - b[i]);
    c.max_abs_error = std::max(c.max_abs_error, err);
    if (b[i] != 0) c.max_rel_error = std::max(c.max_rel_error, err / std::fabs(b[i]));
    if (err > atol + rtol * std::fabs(b[i]) && worst < 0) worst = i;
  }
  if (worst >= 0) {
    std::ostringstream os;
    os << "element " << worst << " is " << a[worst] << ", expected " << b[worst] << " (max abs error "
       << c.max_abs_error << ", max rel error " << c.max_rel_error << ")";
    return fail(os.str());
  }
  return c;
}

Comparison compare_values(const RuntimeValue& expected, const RuntimeValue& actual, double rtol, double atol) {
  Comparison c;
  if (expected.kind() != actual.kind()) {
    c.ok = false;
    c.message = "value kind differs (none/tensor/sequence)";
    return c;
  }
  if (expected.is_none()) return c;
  if (expected.is_tensor()) return compare_tensors(expected.tensor(), actual.tensor(), rtol, atol);
  const auto& e = expected.sequence().items;
  const auto& a = actual.sequence().items;
  if (e.size() != a.size()) {
    c.ok = false;
    c.message = "sequence has " + std::to_string(a.size()) + " items, expected " + std::to_string(e.size());
    return c;
  }
  for (size_t i = 0; i < e.size(); ++i) {
    Comparison ci = compare_tensors(e[i], a[i], rtol, atol);
    c.max_abs_error = std::max(c.max_abs_error, ci.max_abs_error);
    c.max_rel_error = std::max(c.max_rel_error, ci.max_rel_error);
    if (!ci.ok) {
      c.ok = false;
      c.message = "item " + std::to_string(i) + ": " + ci.message;
      return c;
    }
  }
  return c;
}

}  // namespace kiln::io
