// A tensor's values converted to one arithmetic type A (half and narrow floats through float),
// for kernels that compute in one type whatever the input dtype.
#pragma once
#include <type_traits>
#include <vector>

#include "core/tensor.h"

namespace kiln::ops {

template <typename A>
std::vector<A> values_as(const Tensor& t) {
  std::vector<A> out(static_cast<size_t>(t.numel()));
  dispatch_numeric(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      if constexpr (std::is_arithmetic_v<T>)
        out[i] = static_cast<A>(p[i]);
      else
        out[i] = static_cast<A>(static_cast<float>(p[i]));
    }
  });
  return out;
}

}  // namespace kiln::ops
