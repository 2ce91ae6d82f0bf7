// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum,
// ReduceLogSumExp, ReduceSumSquare. Axes come from the `axes` attribute in old opsets and from
// the optional second input from opset 13 (ReduceSum) or 18 (the others). Floats reduce in
// double; integers wrap like numpy's reductions in the input dtype.
#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/common/infer.h"
#include "ops/common/as_double.h"
#include "ops/common/reduction.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

enum class ReduceKind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

constexpr int axes_input_version(ReduceKind k) { return k == ReduceKind::kSum ? 13 : 18; }
constexpr bool allows_bool(ReduceKind k) { return k == ReduceKind::kMax || k == ReduceKind::kMin; }

// The axes of a node: nullopt when they come from an input whose value is unknown here.
// An empty vector means "no axes given".
template <typename Ctx>
std::optional<std::vector<int64_t>> node_axes(const Ctx& ctx, ReduceKind kind, const Tensor* axes_input) {
  if (ctx.version() >= axes_input_version(kind)) {
    if (!ctx.has_input(1)) return std::vector<int64_t>{};
    if (!axes_input) return std::nullopt;
    if (axes_input->dtype() != DataType::kInt64) ctx.fail("axes must be int64, got " + axes_input->describe());
    if (axes_input->rank() > 1) ctx.fail("axes must be 1-D, got " + axes_input->describe());
    return axes_input->to_i64();
  }
  return ctx.attrs().get_ints("axes", {});
}

// Mask of reduced axes. Empty axes reduce everything, or nothing with noop_with_empty_axes:
// then each output is the op over one element (ReduceSumSquare squares, ReduceL1 takes |x|).
template <typename Ctx>
std::vector<bool> reduce_mask(const Ctx& ctx, const std::vector<int64_t>& axes, int64_t rank) {
  if (axes.empty()) return std::vector<bool>(static_cast<size_t>(rank), ctx.attrs().get_int("noop_with_empty_axes", 0) == 0);
  try {
    return reduction_mask(axes, rank);
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
}

template <ReduceKind K>
void infer_reduce(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  bool ok = dt == DataType::kBool ? allows_bool(K) : (is_float(dt) || is_integer(dt)) && !is_sub_byte(dt);
  if ((K == ReduceKind::kLogSum || K == ReduceKind::kLogSumExp) && ctx.version() >= 28 && is_integer(dt)) ok = false;
  if (!ok) ctx.fail("unsupported input dtype " + std::string(dtype_name(dt)));
  if (ctx.version() >= axes_input_version(K) && ctx.has_input(1) && ctx.input_dtype(1) != DataType::kInt64)
    ctx.fail("axes must be int64");
  const Shape* in = ctx.input_shape(0);
  bool keepdims = ctx.attrs().get_int("keepdims", 1) != 0;
  auto axes = node_axes(ctx, K, ctx.input_constant(1));
  const Shape* axes_shape = ctx.has_input(1) ? ctx.input_shape(1) : nullptr;
  if (!axes && axes_shape && axes_shape->rank() == 1 && (*axes_shape)[0] == Dim(0)) axes.emplace();  // known empty
  if (!in) return ctx.set_output(0, dt, std::nullopt);
  const int64_t rank = static_cast<int64_t>(in->rank());
  if (!axes) {  // axes unknown until run time
    if (keepdims) {
      std::vector<Dim> dims;
      for (const Dim& d : in->dims()) dims.push_back(d.is_constant() && d.value() == 1 ? Dim(1) : Dim());
      return ctx.set_output(0, dt, Shape(dims));
    }
    if (axes_shape && axes_shape->rank() == 1 && (*axes_shape)[0].is_constant() && (*axes_shape)[0].value() > 0) {
      int64_t k = (*axes_shape)[0].value();
      if (k > rank) ctx.fail("more axes than the input has dims");
      return ctx.set_output(0, dt, Shape(std::vector<Dim>(static_cast<size_t>(rank - k))));
    }
    return ctx.set_output(0, dt, std::nullopt);
  }
  ctx.set_output(0, dt, reduced_shape(*in, reduce_mask(ctx, *axes, rank), keepdims));
}

double nan_max(double a, double b) { return (std::isnan(a) || a >= b) ? a : b; }
double nan_min(double a, double b) { return (std::isnan(a) || a <= b) ? a : b; }

// Floats (and narrow floats): everything in double.
template <ReduceKind K, typename T>
void reduce_float(const T* x, T* y, ReductionLayout& L) {
  const int64_t n = L.inner.count();
  for (int64_t o = 0; o < L.outer.count(); ++o, L.outer.next()) {
    const T* base = x + L.outer.offset();
    double acc;
    if constexpr (K == ReduceKind::kLogSumExp) {
      double m = -std::numeric_limits<double>::infinity();
      L.inner.reset();
      for (int64_t i = 0; i < n; ++i, L.inner.next()) {
        double v = to_double(base[L.inner.offset()]);
        if (std::isfinite(v) && v > m) m = v;
      }
      if (!std::isfinite(m)) m = 0;
      double s = 0;
      L.inner.reset();
      for (int64_t i = 0; i < n; ++i, L.inner.next()) s += std::exp(to_double(base[L.inner.offset()]) - m);
      acc = std::log(s) + m;
    } else {
      if constexpr (K == ReduceKind::kMax) acc = -std::numeric_limits<double>::infinity();
      else if constexpr (K == ReduceKind::kMin) acc = std::numeric_limits<double>::infinity();
      else if constexpr (K == ReduceKind::kProd) acc = 1;
      else acc = 0;
      L.inner.reset();
      for (int64_t i = 0; i < n; ++i, L.inner.next()) {
        double v = to_double(base[L.inner.offset()]);
        if constexpr (K == ReduceKind::kMax) acc = nan_max(acc, v);
        else if constexpr (K == ReduceKind::kMin) acc = nan_min(acc, v);
        else if constexpr (K == ReduceKind::kProd) acc *= v;
        else if constexpr (K == ReduceKind::kL1) acc += std::fabs(v);
        else if constexpr (K == ReduceKind::kL2 || K == ReduceKind::kSumSquare) acc += v * v;
        else acc += v;  // Sum, Mean, LogSum
      }
      if constexpr (K == ReduceKind::kMean) acc /= static_cast<double>(n);
      else if constexpr (K == ReduceKind::kL2) acc = std::sqrt(acc);
      else if constexpr (K == ReduceKind::kLogSum) acc = std::log(acc);
    }
    y[o] = from_double<T>(acc);
  }
}

// Integers: sums and products wrap in the input dtype (computed modulo 2^64, then truncated),
// Max/Min compare exactly, the rest go through double like numpy's float results cast back.
template <ReduceKind K, typename T>
void reduce_int(const T* x, T* y, ReductionLayout& L) {
  const int64_t n = L.inner.count();
  for (int64_t o = 0; o < L.outer.count(); ++o, L.outer.next()) {
    const T* base = x + L.outer.offset();
    L.inner.reset();
    if constexpr (K == ReduceKind::kMax || K == ReduceKind::kMin) {
      T acc = K == ReduceKind::kMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
      for (int64_t i = 0; i < n; ++i, L.inner.next()) {
        T v = base[L.inner.offset()];
        acc = K == ReduceKind::kMax ? std::max(acc, v) : std::min(acc, v);
      }
      y[o] = acc;
    } else if constexpr (K == ReduceKind::kLogSumExp) {
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t i = 0; i < n; ++i, L.inner.next()) m = std::max(m, static_cast<double>(base[L.inner.offset()]));
      if (!std::isfinite(m)) m = 0;
      double s = 0;
      L.inner.reset();
      for (int64_t i = 0; i < n; ++i, L.inner.next()) s += std::exp(static_cast<double>(base[L.inner.offset()]) - m);
      y[o] = from_double<T>(std::log(s) + m);
    } else if constexpr (K == ReduceKind::kL2) {
      // As onnx's reference: squares wrap in T, their sum does not, then sqrt.
      using Wide = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
      uint64_t acc = 0;
      for (int64_t i = 0; i < n; ++i, L.inner.next()) {
        uint64_t u = static_cast<uint64_t>(static_cast<Wide>(base[L.inner.offset()]));
        acc += static_cast<uint64_t>(static_cast<Wide>(static_cast<T>(u * u)));
      }
      y[o] = from_double<T>(std::sqrt(static_cast<double>(static_cast<Wide>(acc))));
    } else {
      uint64_t acc = K == ReduceKind::kProd ? 1 : 0;
      for (int64_t i = 0; i < n; ++i, L.inner.next()) {
        T v = base[L.inner.offset()];
        uint64_t u = static_cast<uint64_t>(static_cast<std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>(v));
        if constexpr (K == ReduceKind::kProd) acc *= u;
        else if constexpr (K == ReduceKind::kL1) acc += (std::is_signed_v<T> && v < 0) ? uint64_t(0) - u : u;
        else if constexpr (K == ReduceKind::kSumSquare) acc += u * u;
        else acc += u;
      }
      T r = static_cast<T>(acc);  // modular truncation to the dtype
      if constexpr (K == ReduceKind::kMean) r = n == 0 ? T(0) : static_cast<T>(static_cast<double>(r) / static_cast<double>(n));
      else if constexpr (K == ReduceKind::kLogSum) r = from_double<T>(std::log(static_cast<double>(r)));
      y[o] = r;
    }
  }
}

template <ReduceKind K>
void reduce_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  auto axes = node_axes(ctx, K, ctx.has_input(1) ? &ctx.input(1) : nullptr);
  const int64_t rank = static_cast<int64_t>(x.rank());
  const std::vector<bool> mask = reduce_mask(ctx, *axes, rank);
  bool keepdims = ctx.attrs().get_int("keepdims", 1) != 0;
  Tensor& y = ctx.allocate_output(0, x.dtype(), reduced_dims(x.dims(), mask, keepdims));
  if (y.numel() == 0) return;
  ReductionLayout layout(x.dims(), mask);
  if (x.dtype() == DataType::kBool) {
    if constexpr (allows_bool(K)) {
      const bool* px = x.data<bool>();
      bool* py = y.data<bool>();
      const int64_t n = layout.inner.count();
      for (int64_t o = 0; o < layout.outer.count(); ++o, layout.outer.next()) {
        bool acc = K == ReduceKind::kMin;  // all() of nothing is true, any() of nothing false
        layout.inner.reset();
        for (int64_t i = 0; i < n; ++i, layout.inner.next()) {
          bool v = px[layout.outer.offset() + layout.inner.offset()];
          acc = K == ReduceKind::kMax ? (acc || v) : (acc && v);
        }
        py[o] = acc;
      }
      return;
    }
    ctx.fail("bool input is not supported");
  }
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_integral_v<T>) reduce_int<K, T>(x.data<T>(), y.data<T>(), layout);
    else reduce_float<K, T>(x.data<T>(), y.data<T>(), layout);
  });
}

}  // namespace

#define KILN_REDUCE_OP(Name, Kind, ...) \
  KILN_REGISTER_OP(Name, {"", #Name, __VA_ARGS__, infer_reduce<ReduceKind::Kind>, reduce_cpu<ReduceKind::Kind>})

KILN_REDUCE_OP(ReduceSum, kSum, {1, 11, 13});
KILN_REDUCE_OP(ReduceMean, kMean, {1, 11, 13, 18});
KILN_REDUCE_OP(ReduceMax, kMax, {1, 11, 12, 13, 18, 20});
KILN_REDUCE_OP(ReduceMin, kMin, {1, 11, 12, 13, 18, 20});
KILN_REDUCE_OP(ReduceProd, kProd, {1, 11, 13, 18});
KILN_REDUCE_OP(ReduceL1, kL1, {1, 11, 13, 18});
KILN_REDUCE_OP(ReduceL2, kL2, {1, 11, 13, 18});
KILN_REDUCE_OP(ReduceLogSum, kLogSum, {1, 11, 13, 18, 28});
KILN_REDUCE_OP(ReduceLogSumExp, kLogSumExp, {1, 11, 13, 18, 28});
KILN_REDUCE_OP(ReduceSumSquare, kSumSquare, {1, 11, 13, 18});

}  // namespace kiln::ops
