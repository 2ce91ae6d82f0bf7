// Element conversions for reference kernels that compute in double whatever the dtype:
// half types and floats widen exactly; back to integers truncates toward zero, NaN gives 0 and
// out-of-range values saturate (never undefined behaviour).
#pragma once
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/float_types.h"

namespace kiln::ops {

template <typename T> double to_double(T v) { return static_cast<double>(static_cast<std::conditional_t<std::is_arithmetic_v<T>, T, float>>(v)); }

template <typename T> T from_double(double v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v)) return 0;
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {  // Float16, BFloat16, fp8: round once from float
    return T(static_cast<float>(v));
  }
}

}  // namespace kiln::ops
