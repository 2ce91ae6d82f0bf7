// kiln::SampledConcat (domain "kiln", version 1): Concat of strided samples of its inputs, one
// copy where Slice + Concat would make two. Attributes: `axis` (as Concat's) and `steps`, rank
// values per input (all inputs share a rank): input i is read as X_i[::steps[i*r], ...,
// ::steps[i*r + r - 1]] (starts 0), a dim d becoming (d - 1) / step + 1. The sampled inputs
// must agree on every dim but `axis`. Made by conv-add-merge for strided projection blocks.
#include "ops/common/element_copy.h"
#include "ops/common/infer.h"
#include "ops/common/shape_util.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

int64_t sampled(int64_t d, int64_t step) { return d == 0 ? 0 : (d - 1) / step + 1; }

// The steps, validated against the input count and rank; throws (via fail) when malformed.
template <typename Fail>
std::vector<int64_t> steps_of(const ir::Attributes& a, size_t inputs, int64_t rank, Fail fail) {
  std::vector<int64_t> steps = a.get_ints("steps", {});
  if (steps.size() != inputs * static_cast<size_t>(rank))
    fail("steps has " + std::to_string(steps.size()) + " values, expected rank x inputs = " +
         std::to_string(inputs * static_cast<size_t>(rank)));
  for (int64_t s : steps)
    if (s < 1) fail("steps must be >= 1");
  return steps;
}

void sampled_concat_cpu(KernelContext& ctx) {
  KILN_CHECK(ctx.num_inputs() >= 1, "SampledConcat needs at least one input");
  const Tensor& first = ctx.input(0);
  const int64_t r = static_cast<int64_t>(first.rank());
  KILN_CHECK(r > 0, "SampledConcat: inputs must have rank >= 1");
  const int64_t axis = normalize_axis(ctx.attrs().get_int("axis", 1), r, "SampledConcat axis");
  auto steps = steps_of(ctx.attrs(), ctx.num_inputs(), r, [](const std::string& m) { KILN_CHECK(false, "SampledConcat: " + m); });
  std::vector<std::vector<int64_t>> dims(ctx.num_inputs());
  std::vector<int64_t> out_dims;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& t = ctx.input(i);
    KILN_CHECK(t.dtype() == first.dtype() && static_cast<int64_t>(t.rank()) == r,
               "SampledConcat: input " + std::to_string(i) + " " + t.describe() + " does not match " + first.describe());
    for (int64_t k = 0; k < r; ++k) dims[i].push_back(sampled(t.dim(k), steps[i * r + k]));
    if (i == 0) {
      out_dims = dims[0];
      continue;
    }
    for (int64_t k = 0; k < r; ++k)
      if (k != axis)
        KILN_CHECK(dims[i][k] == out_dims[k], "SampledConcat: sampled input " + std::to_string(i) +
                                                  " does not match input 0 on dim " + std::to_string(k));
    out_dims[axis] += dims[i][axis];
  }
  Tensor& out = ctx.allocate_output(0, first.dtype(), out_dims);
  const int64_t out_inner = dims_product(out_dims, axis, r);
  int64_t offset = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& t = ctx.input(i);
    ElementCopier copier(t, out);
    const int64_t piece_inner = dims_product(dims[i], axis, r), n = dims_product(dims[i], 0, r);
    std::vector<int64_t> in_strides(r, 1);
    for (int64_t k = r - 1; k > 0; --k) in_strides[k - 1] = in_strides[k] * t.dim(k);
    for (int64_t e = 0; e < n; ++e) {
      int64_t rem = e, src = 0;
      for (int64_t k = r - 1; k >= 0; --k) {
        src += (rem % dims[i][k]) * steps[i * r + k] * in_strides[k];
        rem /= dims[i][k];
      }
      copier.copy(src, (e / piece_inner) * out_inner + offset + e % piece_inner);
    }
    offset += piece_inner;
  }
}

void infer_sampled_concat(InferenceContext& ctx) {
  const DataType dt = ctx.input_dtype(0);
  const Shape* base = ctx.input_shape(0);
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (ctx.input_dtype(i) != dt) ctx.fail("inputs have different dtypes");
    if (!ctx.input_shape(i)) return ctx.set_output(0, dt, std::nullopt);
  }
  const int64_t r = static_cast<int64_t>(base->rank());
  if (r == 0) ctx.fail("inputs must have rank >= 1");
  int64_t axis = ctx.attrs().get_int("axis", 1);
  if (axis < -r || axis >= r) ctx.fail("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(r));
  if (axis < 0) axis += r;
  auto steps = steps_of(ctx.attrs(), ctx.num_inputs(), r, [&](const std::string& m) { ctx.fail(m); });
  std::vector<Dim> out;
  bool axis_known = true;
  int64_t total = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Shape& s = *ctx.input_shape(i);
    if (static_cast<int64_t>(s.rank()) != r) ctx.fail("inputs have different ranks");
    std::vector<Dim> d;
    for (int64_t k = 0; k < r; ++k) {
      const int64_t step = steps[i * static_cast<size_t>(r) + k];
      if (step == 1) d.push_back(s[k]);
      else d.push_back(s[k].is_constant() ? Dim(sampled(s[k].value(), step)) : Dim::unknown());
    }
    if (d[axis].is_constant()) total += d[axis].value();
    else axis_known = false;
    if (i == 0) {
      out = d;
      continue;
    }
    for (int64_t k = 0; k < r; ++k) {
      if (k == axis) continue;
      if (d[k].is_constant() && out[k].is_constant() && d[k].value() != out[k].value())
        ctx.fail("sampled input " + std::to_string(i) + " does not match input 0 on dim " + std::to_string(k));
      if (!out[k].is_constant() && d[k].is_constant()) out[k] = d[k];
    }
  }
  out[axis] = axis_known ? Dim(total) : Dim::unknown();
  ctx.set_output(0, dt, Shape(out));
}

}  // namespace

KILN_REGISTER_OP(KilnSampledConcat, {"kiln", "SampledConcat", {1}, infer_sampled_concat, sampled_concat_cpu});

}  // namespace kiln::ops
