// TopK: the k largest (or smallest) elements along an axis and their int64 indices. k is an
// attribute in opset 1 and a one-element input from 10. Equal values keep the lower index
// first; a NaN counts as larger than any number. Output is always sorted (sorted=0 leaves the
// order unspecified, so sorted order is valid).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <type_traits>

#include "ops/common/infer.h"
#include "ops/common/as_double.h"
#include "ops/common/reduction.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

void infer_topk(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (!(is_float(dt) || is_integer(dt)) || is_sub_byte(dt)) ctx.fail("unsupported input dtype " + std::string(dtype_name(dt)));
  std::optional<int64_t> k;
  if (ctx.version() < 10) {
    k = ctx.attrs().int_("k");
  } else {
    if (ctx.input_dtype(1) != DataType::kInt64) ctx.fail("K must be int64");
    if (auto v = constant_ints(ctx, 1)) {
      if (v->size() != 1) ctx.fail("K must hold one value");
      k = (*v)[0];
    }
  }
  if (k && *k < 0) ctx.fail("k must be non-negative, got " + std::to_string(*k));
  const Shape* in = ctx.input_shape(0);
  if (!in) {
    ctx.set_output(0, dt, std::nullopt);
    ctx.set_output(1, DataType::kInt64, std::nullopt);
    return;
  }
  int64_t axis = 0;
  try {
    axis = normalize_axis(ctx.attrs().get_int("axis", -1), static_cast<int64_t>(in->rank()));
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
  Shape out = *in;
  if (k && out[axis].is_constant() && *k > out[axis].value())
    ctx.fail("k = " + std::to_string(*k) + " is larger than the axis (" + std::to_string(out[axis].value()) + ")");
  out[axis] = k ? Dim(*k) : ctx.new_symbol();
  ctx.set_output(0, dt, out);
  ctx.set_output(1, DataType::kInt64, out);
}

void topk_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t k;
  if (ctx.version() < 10) {
    k = ctx.attrs().int_("k");
  } else {
    const Tensor& kt = ctx.input(1);
    if (kt.dtype() != DataType::kInt64 || kt.numel() != 1 || kt.rank() > 1) ctx.fail("K must be one int64, got " + kt.describe());
    k = kt.data<int64_t>()[0];
  }
  const size_t axis = static_cast<size_t>(normalize_axis(ctx.attrs().get_int("axis", -1), static_cast<int64_t>(x.rank())));
  const int64_t n = x.dim(axis);
  if (k < 0 || k > n) ctx.fail("k = " + std::to_string(k) + " is out of range for an axis of " + std::to_string(n));
  const bool largest = ctx.attrs().get_int("largest", 1) != 0;
  std::vector<int64_t> out_dims = x.dims();
  out_dims[axis] = k;
  Tensor& values = ctx.allocate_output(0, x.dtype(), out_dims);
  Tensor& indices = ctx.allocate_output(1, DataType::kInt64, out_dims);
  if (values.numel() == 0) return;
  const int64_t outer = dims_product(x.dims(), 0, axis), inner = dims_product(x.dims(), axis + 1, x.rank());
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = std::conditional_t<std::is_integral_v<T>, T, double>;
    const T* px = x.data<T>();
    T* pv = values.data<T>();
    int64_t* pi = indices.data<int64_t>();
    std::vector<C> key(static_cast<size_t>(n));
    std::vector<int64_t> order(static_cast<size_t>(n));
    // a before b: a is larger (or smaller), ties by index; NaN is the largest value.
    auto before = [&](int64_t a, int64_t b) {
      C va = key[a], vb = key[b];
      if constexpr (!std::is_integral_v<T>) {
        bool na = std::isnan(va), nb = std::isnan(vb);
        if (na || nb) {
          if (na && nb) return a < b;
          return largest ? na : nb;
        }
      }
      if (va != vb) return largest ? va > vb : va < vb;
      return a < b;
    };
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          if constexpr (std::is_integral_v<T>) key[j] = px[(o * n + j) * inner + i];
          else key[j] = to_double(px[(o * n + j) * inner + i]);
        }
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        for (int64_t j = 0; j < k; ++j) {
          const int64_t at = (o * k + j) * inner + i;
          pv[at] = px[(o * n + order[j]) * inner + i];
          pi[at] = order[j];
        }
      }
  });
}

}  // namespace

KILN_REGISTER_OP(TopK, {"", "TopK", {1, 10, 11, 24}, infer_topk, topk_cpu});

}  // namespace kiln::ops
