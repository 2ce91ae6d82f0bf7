// Softmax, LogSoftmax, Hardmax. Before opset 13 the input is coerced to 2-D at `axis`
// (default 1) and the op runs over each row; from 13 it runs along the one axis (default -1).
#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/common/infer.h"
#include "ops/common/as_double.h"
#include "ops/common/reduction.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

enum class SoftKind { kSoftmax, kLogSoftmax, kHardmax };

// The op runs over n elements at stride inner, for each of outer * inner starting points.
struct SoftLayout {
  int64_t outer = 1, n = 1, inner = 1;
};

int64_t softmax_axis(int version, int64_t rank, const ir::Attributes& attrs) {
  int64_t axis = attrs.get_int("axis", version < 13 ? 1 : -1);
  return normalize_axis(axis, rank);
}

SoftLayout softmax_layout(int version, const std::vector<int64_t>& dims, const ir::Attributes& attrs) {
  const int64_t rank = static_cast<int64_t>(dims.size());
  const size_t axis = static_cast<size_t>(softmax_axis(version, rank, attrs));
  SoftLayout l;
  l.outer = dims_product(dims, 0, axis);
  if (version < 13) {
    l.n = dims_product(dims, axis, dims.size());
  } else {
    l.n = dims[axis];
    l.inner = dims_product(dims, axis + 1, dims.size());
  }
  return l;
}

void infer_softmax(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (!is_float(dt)) ctx.fail("input must be a float tensor, got " + std::string(dtype_name(dt)));
  if (const Shape* s = ctx.input_shape(0)) {
    try {
      softmax_axis(ctx.version(), static_cast<int64_t>(s->rank()), ctx.attrs());
    } catch (const Error& e) {
      ctx.fail(e.what());
    }
  }
  ctx.set_output(0, ctx.input_type(0));
}

template <SoftKind K, typename T>
void softmax_rows(const T* x, T* y, const SoftLayout& l) {
  std::vector<double> buf(static_cast<size_t>(l.n));
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t i = 0; i < l.inner; ++i) {
      const T* px = x + o * l.n * l.inner + i;
      T* py = y + o * l.n * l.inner + i;
      double m = -std::numeric_limits<double>::infinity();
      int64_t arg = 0;
      for (int64_t k = 0; k < l.n; ++k) {
        buf[k] = to_double(px[k * l.inner]);
        if (std::isnan(buf[k]) ? !std::isnan(m) : buf[k] > m) {
          m = buf[k];
          arg = k;
        }
      }
      if constexpr (K == SoftKind::kSoftmax && (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>)) {
        // Half types follow onnx's numpy reference step by step (the node tests' expected
        // values, checked at rtol 1e-3, need it): x - max, exp and the division each round to
        // T; numpy sums float16 in float, bfloat16 one rounded addition at a time.
        const float mf = static_cast<float>(m);
        double wide_sum = 0;
        T narrow_sum(0.0f);
        for (int64_t k = 0; k < l.n; ++k) {
          T e(std::exp(static_cast<float>(T(static_cast<float>(buf[k]) - mf))));
          buf[k] = static_cast<float>(e);
          wide_sum += buf[k];
          narrow_sum = T(static_cast<float>(narrow_sum) + static_cast<float>(e));
        }
        const float sum = std::is_same_v<T, Float16> ? static_cast<float>(T(static_cast<float>(wide_sum))) : static_cast<float>(narrow_sum);
        for (int64_t k = 0; k < l.n; ++k) py[k * l.inner] = T(static_cast<float>(buf[k]) / sum);
      } else if constexpr (K == SoftKind::kHardmax) {
        for (int64_t k = 0; k < l.n; ++k) py[k * l.inner] = from_double<T>(k == arg ? 1.0 : 0.0);
      } else {
        double s = 0;
        for (int64_t k = 0; k < l.n; ++k) s += std::exp(buf[k] - m);
        const double log_s = std::log(s);
        for (int64_t k = 0; k < l.n; ++k) {
          double v = K == SoftKind::kSoftmax ? std::exp(buf[k] - m) / s : buf[k] - m - log_s;
          py[k * l.inner] = from_double<T>(v);
        }
      }
    }
}

template <SoftKind K>
void softmax_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  SoftLayout l = softmax_layout(ctx.version(), x.dims(), ctx.attrs());
  Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
  if (y.numel() == 0) return;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_rows<K, T>(x.data<T>(), y.data<T>(), l);
  });
}

}  // namespace

KILN_REGISTER_OP(Softmax, {"", "Softmax", {1, 11, 13}, infer_softmax, softmax_cpu<SoftKind::kSoftmax>});
KILN_REGISTER_OP(LogSoftmax, {"", "LogSoftmax", {1, 11, 13}, infer_softmax, softmax_cpu<SoftKind::kLogSoftmax>});
KILN_REGISTER_OP(Hardmax, {"", "Hardmax", {1, 11, 13}, infer_softmax, softmax_cpu<SoftKind::kHardmax>});

}  // namespace kiln::ops
