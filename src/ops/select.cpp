// Data-dependent selections: NonZero, Compress, ReverseSequence, Dropout.
#include <random>
#include <type_traits>

#include "ops/common/element_copy.h"
#include "ops/common/infer.h"
#include "ops/common/shape_util.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

// Whether element i of t is non-zero (-0.0 counts as zero; strings: non-empty).
std::vector<bool> nonzero_mask(const Tensor& t) {
  std::vector<bool> m(t.numel());
  if (t.dtype() == DataType::kString) {
    for (int64_t i = 0; i < t.numel(); ++i) m[i] = !t.strings()[i].empty();
  } else if (t.dtype() == DataType::kBool) {
    for (int64_t i = 0; i < t.numel(); ++i) m[i] = t.data<bool>()[i];
  } else {
    dispatch_numeric(t.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* p = t.data<T>();
      for (int64_t i = 0; i < t.numel(); ++i) {
        if constexpr (std::is_integral_v<T>) m[i] = p[i] != 0;
        else m[i] = static_cast<double>(p[i]) != 0.0;
      }
    });
  }
  return m;
}

void nonzero_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  auto mask = nonzero_mask(x);
  int64_t count = 0;
  for (bool b : mask) count += b;
  int64_t r = static_cast<int64_t>(x.rank());
  Tensor& out = ctx.allocate_output(0, DataType::kInt64, {r, count});
  int64_t* po = out.data<int64_t>();
  std::vector<int64_t> idx(r, 0);
  int64_t j = 0;
  for (int64_t i = 0; i < x.numel(); ++i, next_index(idx, x.dims())) {
    if (!mask[i]) continue;
    for (int64_t k = 0; k < r; ++k) po[k * count + j] = idx[k];
    ++j;
  }
}

void infer_nonzero(InferenceContext& ctx) {
  const Shape* s = ctx.input_shape(0);
  ctx.set_output(0, DataType::kInt64, Shape({s ? Dim(static_cast<int64_t>(s->rank())) : Dim::unknown(), ctx.new_symbol()}));
}

// --- Compress ---

void compress_cpu(KernelContext& ctx) {
  const Tensor& x0 = ctx.input(0);
  const Tensor& cond = ctx.input(1);
  KILN_CHECK(cond.dtype() == DataType::kBool && cond.rank() == 1, "Compress: condition must be 1-D bool");
  bool has_axis = ctx.attrs().has("axis");
  Tensor x = has_axis ? x0 : x0.reshaped({x0.numel()});
  int64_t r = static_cast<int64_t>(x.rank());
  int64_t axis = has_axis ? normalize_axis(ctx.attrs().get_int("axis", 0), r, "Compress axis") : 0;
  int64_t dim = x.dim(axis);
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < cond.numel(); ++i) {
    if (!cond.data<bool>()[i]) continue;
    KILN_CHECK(i < dim, "Compress: condition selects index " + std::to_string(i) + " beyond the axis of " + std::to_string(dim));
    keep.push_back(i);
  }
  std::vector<int64_t> dims = x.dims();
  dims[axis] = static_cast<int64_t>(keep.size());
  Tensor& out = ctx.allocate_output(0, x.dtype(), dims);
  int64_t outer = dims_product(x.dims(), 0, axis), inner = dims_product(x.dims(), axis + 1, r);
  ElementCopier copier(x, out);
  int64_t n = static_cast<int64_t>(keep.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < n; ++j) copier.copy_run((o * dim + keep[j]) * inner, (o * n + j) * inner, inner);
}

void infer_compress(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  if (ctx.input_dtype(1) != DataType::kBool) ctx.fail("condition must be bool");
  const Shape* s = ctx.input_shape(0);
  if (!ctx.attrs().has("axis")) return ctx.set_output(0, dt, Shape({ctx.new_symbol()}));
  if (!s) return ctx.set_output(0, dt, std::nullopt);
  int64_t r = static_cast<int64_t>(s->rank());
  int64_t axis = ctx.attrs().get_int("axis", 0);
  if (axis < -r || axis >= r) ctx.fail("axis out of range");
  std::vector<Dim> out = s->dims();
  out[axis < 0 ? axis + r : axis] = ctx.new_symbol();
  ctx.set_output(0, dt, Shape(out));
}

// --- ReverseSequence ---

void reverse_sequence_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& lens_t = ctx.input(1);
  KILN_CHECK(x.rank() >= 2, "ReverseSequence: input must have rank >= 2");
  KILN_CHECK(lens_t.dtype() == DataType::kInt64 && lens_t.rank() == 1, "ReverseSequence: sequence_lens must be 1-D int64");
  int64_t time_axis = ctx.attrs().get_int("time_axis", 0), batch_axis = ctx.attrs().get_int("batch_axis", 1);
  KILN_CHECK((time_axis == 0 && batch_axis == 1) || (time_axis == 1 && batch_axis == 0), "ReverseSequence: time_axis and batch_axis must be 0 and 1");
  auto lens = lens_t.to_i64();
  KILN_CHECK(static_cast<int64_t>(lens.size()) == x.dim(batch_axis), "ReverseSequence: sequence_lens must have one entry per batch");
  for (int64_t l : lens) KILN_CHECK(l >= 0 && l <= x.dim(time_axis), "ReverseSequence: sequence length out of range");
  Tensor out(x.dtype(), x.dims());
  ElementCopier copier(x, out);
  int64_t inner = dims_product(x.dims(), 2, x.rank());
  for (int64_t a = 0; a < x.dim(0); ++a)
    for (int64_t b = 0; b < x.dim(1); ++b) {
      int64_t batch = batch_axis == 0 ? a : b, t = time_axis == 0 ? a : b;
      int64_t src_t = t < lens[batch] ? lens[batch] - 1 - t : t;
      int64_t sa = time_axis == 0 ? src_t : a, sb = time_axis == 0 ? b : src_t;
      copier.copy_run((sa * x.dim(1) + sb) * inner, (a * x.dim(1) + b) * inner, inner);
    }
  ctx.set_output(0, out);
}

void infer_reverse_sequence(InferenceContext& ctx) {
  const Shape* s = ctx.input_shape(0);
  if (s && s->rank() < 2) ctx.fail("input must have rank >= 2");
  ctx.set_output(0, ctx.input_type(0));
}

// --- Dropout ---

void dropout_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int v = ctx.version();
  float ratio = ctx.attrs().get_float("ratio", 0.5f);
  bool training = false;
  if (v < 7) {
    training = ctx.attrs().get_int("is_test", 0) == 0;
  } else if (v >= 12) {
    if (ctx.has_input(1)) ratio = static_cast<float>(ctx.input(1).to_f64().at(0));
    if (ctx.has_input(2)) training = ctx.input(2).to_i64().at(0) != 0;
  }
  KILN_CHECK(ratio >= 0 && ratio < 1, "Dropout: ratio must be in [0, 1)");
  DataType mask_dt = v >= 10 ? DataType::kBool : x.dtype();
  bool want_mask = ctx.wants_output(1);
  if (!training || ratio == 0) {
    ctx.set_output(0, x);
    if (want_mask) {
      Tensor& m = ctx.allocate_output(1, mask_dt, x.dims());
      for (int64_t i = 0; i < m.numel(); ++i) {
        if (mask_dt == DataType::kBool) m.data<bool>()[i] = true;
        else dispatch_float(mask_dt, [&](auto tag) { using T = typename decltype(tag)::type; m.data<T>()[i] = T(1.0f); });
      }
    }
    return;
  }
  // With a seed, the same stream as numpy's RandomState(seed).uniform(0, 1), as the reference.
  std::mt19937 rng(ctx.attrs().has("seed") ? static_cast<uint32_t>(ctx.attrs().get_int("seed", 0)) : std::random_device{}());
  auto uniform = [&rng]() {
    uint32_t a = rng() >> 5, b = rng() >> 6;
    return (static_cast<double>(a) * 67108864.0 + static_cast<double>(b)) / 9007199254740992.0;
  };
  Tensor& out = ctx.allocate_output(0, x.dtype(), x.dims());
  Tensor mask(mask_dt, x.dims());
  double scale = 1.0 / (1.0 - ratio);
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
    for (int64_t i = 0; i < x.numel(); ++i) {
      bool keep = uniform() >= ratio;
      out.data<T>()[i] = keep ? T(static_cast<C>(x.data<T>()[i]) * static_cast<C>(scale)) : T(0.0f);
      if (mask_dt == DataType::kBool) mask.data<bool>()[i] = keep;
      else mask.data<T>()[i] = T(keep ? 1.0f : 0.0f);
    }
  });
  if (want_mask) ctx.set_output(1, mask);
}

void infer_dropout(InferenceContext& ctx) {
  ctx.set_output(0, ctx.input_type(0));
  if (ctx.num_outputs() > 1) {
    DataType mask_dt = ctx.version() >= 10 ? DataType::kBool : ctx.input_dtype(0);
    ctx.set_output(1, mask_dt, ctx.input_type(0).shape);
  }
}

}  // namespace

KILN_REGISTER_OP(NonZero, {"", "NonZero", {9, 13}, infer_nonzero, nonzero_cpu});
KILN_REGISTER_OP(Compress, {"", "Compress", {9, 11, 28}, infer_compress, compress_cpu});
KILN_REGISTER_OP(ReverseSequence, {"", "ReverseSequence", {10, 28}, infer_reverse_sequence, reverse_sequence_cpu});
KILN_REGISTER_OP(Dropout, {"", "Dropout", {1, 6, 7, 10, 12, 13, 22}, infer_dropout, dropout_cpu});

}  // namespace kiln::ops
