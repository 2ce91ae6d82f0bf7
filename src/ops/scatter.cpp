// Scatter (deprecated), ScatterElements, ScatterND (with reductions) and TensorScatter. Each
// output starts as a copy of data; indices are bounds-checked before any write.
#include <algorithm>
#include <type_traits>

#include "ops/common/element_copy.h"
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Reduction parse_reduction(const KernelContext& ctx, int since) {
  if (ctx.version() < since) return Reduction::kNone;
  std::string r = ctx.attrs().get_string("reduction", "none");
  if (r == "none") return Reduction::kNone;
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (r == "max" && ctx.version() >= 18) return Reduction::kMax;
  if (r == "min" && ctx.version() >= 18) return Reduction::kMin;
  ctx.fail("unsupported reduction '" + r + "'");
}

// Writes updates[src] into out[dst] under the reduction.
class ScatterWriter {
 public:
  ScatterWriter(const Tensor& updates, Tensor& out, Reduction red) : updates_(updates), out_(out), red_(red), copier_(updates, out) {}
  void write(int64_t src, int64_t dst, int64_t n = 1) {
    if (red_ == Reduction::kNone) return copier_.copy_run(src, dst, n);
    if (out_.dtype() == DataType::kBool) {
      for (int64_t i = 0; i < n; ++i) {
        bool a = out_.data<bool>()[dst + i], b = updates_.data<bool>()[src + i];
        out_.data<bool>()[dst + i] = red_ == Reduction::kAdd || red_ == Reduction::kMax ? (a || b) : (a && b);
      }
      return;
    }
    dispatch_numeric(out_.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using C = std::conditional_t<std::is_integral_v<T> || std::is_same_v<T, double>, T, float>;
      T* o = out_.data<T>();
      const T* u = updates_.data<T>();
      for (int64_t i = 0; i < n; ++i) {
        C a = static_cast<C>(o[dst + i]), b = static_cast<C>(u[src + i]);
        C r = red_ == Reduction::kAdd ? static_cast<C>(a + b) : red_ == Reduction::kMul ? static_cast<C>(a * b)
            : red_ == Reduction::kMax ? std::max(a, b) : std::min(a, b);
        o[dst + i] = T(r);
      }
    });
  }

 private:
  const Tensor& updates_;
  Tensor& out_;
  Reduction red_;
  ElementCopier copier_;
};

int64_t checked_index(int64_t i, int64_t dim, const char* op) {
  KILN_CHECK(i >= -dim && i < dim, std::string(op) + ": index " + std::to_string(i) + " is out of range for a dim of " + std::to_string(dim));
  return i < 0 ? i + dim : i;
}

// --- Scatter / ScatterElements ---

void scatter_elements_impl(KernelContext& ctx, Reduction red, const char* op) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  const Tensor& upd = ctx.input(2);
  KILN_CHECK(ind.dtype() == DataType::kInt32 || ind.dtype() == DataType::kInt64, std::string(op) + ": indices must be int32 or int64");
  KILN_CHECK(upd.dtype() == x.dtype(), std::string(op) + ": updates dtype differs from data");
  KILN_CHECK(ind.dims() == upd.dims(), std::string(op) + ": indices and updates shapes differ");
  int64_t r = static_cast<int64_t>(x.rank());
  KILN_CHECK(r >= 1 && ind.rank() == x.rank(), std::string(op) + ": data and indices must have the same rank >= 1");
  int64_t axis = normalize_axis(ctx.attrs().get_int("axis", 0), r, "axis");
  for (int64_t k = 0; k < r; ++k)
    if (k != axis) KILN_CHECK(ind.dim(k) <= x.dim(k), std::string(op) + ": indices shape exceeds data shape");
  auto idx = ind.to_i64();
  for (auto& i : idx) i = checked_index(i, x.dim(axis), op);
  Tensor out = x.clone();
  if (ind.numel() > 0) {
    ScatterWriter w(upd, out, red);
    auto strides = row_major_strides(x.dims());
    std::vector<int64_t> pos(r, 0);
    for (int64_t i = 0; i < ind.numel(); ++i, next_index(pos, ind.dims())) {
      int64_t dst = 0;
      for (int64_t k = 0; k < r; ++k) dst += (k == axis ? idx[i] : pos[k]) * strides[k];
      w.write(i, dst);
    }
  }
  ctx.set_output(0, out);
}

void scatter_cpu(KernelContext& ctx) { scatter_elements_impl(ctx, Reduction::kNone, "Scatter"); }
void scatter_elements_cpu(KernelContext& ctx) { scatter_elements_impl(ctx, parse_reduction(ctx, 16), "ScatterElements"); }

void infer_scatter(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  DataType it = ctx.input_dtype(1);
  if (it != DataType::kInt32 && it != DataType::kInt64) ctx.fail("indices must be int32 or int64");
  if (ctx.input_dtype(2) != dt) ctx.fail("updates dtype differs from data");
  ctx.set_output(0, ctx.input_type(0));
}

// --- ScatterND ---

void scatter_nd_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  const Tensor& upd = ctx.input(2);
  Reduction red = parse_reduction(ctx, 16);
  KILN_CHECK(ind.dtype() == DataType::kInt64, "ScatterND: indices must be int64");
  KILN_CHECK(upd.dtype() == x.dtype(), "ScatterND: updates dtype differs from data");
  int64_t r = static_cast<int64_t>(x.rank()), q = static_cast<int64_t>(ind.rank());
  KILN_CHECK(r >= 1 && q >= 1, "ScatterND: data and indices need rank >= 1");
  int64_t k_len = ind.dim(q - 1);
  KILN_CHECK(k_len >= 1 && k_len <= r, "ScatterND: last indices dim out of range");
  std::vector<int64_t> expect(ind.dims().begin(), ind.dims().end() - 1);
  expect.insert(expect.end(), x.dims().begin() + k_len, x.dims().end());
  KILN_CHECK(upd.dims() == expect, "ScatterND: updates shape " + dims_to_string(upd.dims()) + ", expected " + dims_to_string(expect));
  auto idx = ind.to_i64();
  auto strides = row_major_strides(x.dims());
  int64_t n = dims_product(ind.dims(), 0, q - 1), slice = dims_product(x.dims(), k_len, r);
  std::vector<int64_t> dst(n, 0);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t t = 0; t < k_len; ++t) dst[j] += checked_index(idx[j * k_len + t], x.dim(t), "ScatterND") * strides[t];
  Tensor out = x.clone();
  ScatterWriter w(upd, out, red);
  for (int64_t j = 0; j < n; ++j) w.write(j * slice, dst[j], slice);
  ctx.set_output(0, out);
}

// --- TensorScatter ---

void tensor_scatter_cpu(KernelContext& ctx) {
  const Tensor& cache = ctx.input(0);
  const Tensor& upd = ctx.input(1);
  int64_t r = static_cast<int64_t>(cache.rank());
  KILN_CHECK(upd.dtype() == cache.dtype() && upd.rank() == cache.rank() && r >= 2,
             "TensorScatter: update " + upd.describe() + " does not match cache " + cache.describe());
  int64_t axis = normalize_axis(ctx.attrs().get_int("axis", -2), r, "TensorScatter axis");
  KILN_CHECK(axis >= 1, "TensorScatter: axis must not be the batch axis");
  std::string mode = ctx.attrs().get_string("mode", "linear");
  KILN_CHECK(mode == "linear" || mode == "circular", "TensorScatter: unknown mode '" + mode + "'");
  for (int64_t k = 0; k < r; ++k)
    KILN_CHECK(k == axis ? upd.dim(k) <= cache.dim(k) : upd.dim(k) == cache.dim(k),
               "TensorScatter: update " + upd.describe() + " does not match cache " + cache.describe());
  int64_t batch = cache.dim(0);
  std::vector<int64_t> wi(batch, 0);
  if (ctx.has_input(2)) {
    wi = ctx.input(2).to_i64();
    KILN_CHECK(static_cast<int64_t>(wi.size()) == batch, "TensorScatter: write_indices must have one entry per batch");
  }
  Tensor out = cache.clone();
  int64_t max_len = cache.dim(axis), seq = upd.dim(axis);
  int64_t prefix = dims_product(cache.dims(), 0, axis), inner = dims_product(cache.dims(), axis + 1, r);
  int64_t per_batch = prefix / std::max<int64_t>(batch, 1);
  ElementCopier copier(upd, out);
  for (int64_t p = 0; p < prefix; ++p) {
    int64_t b = p / per_batch;
    for (int64_t s = 0; s < seq; ++s) {
      int64_t c = wi[b] + s;
      if (mode == "circular") c = ((c % max_len) + max_len) % max_len;
      KILN_CHECK(c >= 0 && c < max_len, "TensorScatter: write index " + std::to_string(c) + " is out of range");
      copier.copy_run((p * seq + s) * inner, (p * max_len + c) * inner, inner);
    }
  }
  ctx.set_output(0, out);
}

void infer_tensor_scatter(InferenceContext& ctx) {
  if (ctx.input_dtype(1) != ctx.input_dtype(0)) ctx.fail("update dtype differs from the cache");
  ctx.set_output(0, ctx.input_type(0));
}

}  // namespace

KILN_REGISTER_OP(Scatter, {"", "Scatter", {9, 11}, infer_scatter, scatter_cpu});
KILN_REGISTER_OP(ScatterElements, {"", "ScatterElements", {11, 13, 16, 18}, infer_scatter, scatter_elements_cpu});
KILN_REGISTER_OP(ScatterND, {"", "ScatterND", {11, 13, 16, 18}, infer_scatter, scatter_nd_cpu});
KILN_REGISTER_OP(TensorScatter, {"", "TensorScatter", {24}, infer_tensor_scatter, tensor_scatter_cpu});

}  // namespace kiln::ops
