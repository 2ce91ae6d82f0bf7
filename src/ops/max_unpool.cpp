// MaxUnpool: scatters X to the positions MaxPool's indices name (the partial inverse of
// MaxPool), zeros elsewhere.
#include <cstring>

#include "ops/registry.h"

namespace kiln::ops {
namespace {

// The unpooled size of each dim: (in - 1) * stride - pads + kernel.
std::vector<int64_t> unpooled_dims(const ir::Attributes& a, const std::vector<int64_t>& x) {
  size_t nd = x.size() - 2;
  auto kernel = a.get_ints("kernel_shape");
  auto strides = a.get_ints("strides", std::vector<int64_t>(nd, 1));
  auto pads = a.get_ints("pads", std::vector<int64_t>(2 * nd, 0));
  if (kernel.size() != nd || strides.size() != nd || pads.size() != 2 * nd)
    throw_error(StatusCode::kInvalidArgument, "kernel_shape, strides and pads must match the spatial rank");
  std::vector<int64_t> out{x[0], x[1]};
  for (size_t d = 0; d < nd; ++d) {
    int64_t v = (x[d + 2] - 1) * strides[d] - (pads[d] + pads[d + nd]) + kernel[d];
    if (v < 0) throw_error(StatusCode::kInvalidArgument, "MaxUnpool output size is negative");
    out.push_back(v);
  }
  return out;
}

void max_unpool_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& idx = ctx.input(1);
  if (x.rank() < 3) ctx.fail("X must have rank >= 3");
  if (idx.dims() != x.dims() || idx.dtype() != DataType::kInt64) ctx.fail("I must be int64 with the shape of X");
  auto inferred = unpooled_dims(ctx.attrs(), x.dims());
  std::vector<int64_t> shape = inferred;
  if (ctx.has_input(2)) {
    shape = ctx.input(2).to_i64();
    if (shape.size() != inferred.size()) ctx.fail("output_shape must have X's rank");
    for (size_t d = 0; d < shape.size(); ++d)
      if (shape[d] < inferred[d]) ctx.fail("output_shape " + dims_to_string(shape) + " is smaller than " + dims_to_string(inferred));
  }
  // Indices address the unpooled tensor of the inferred size; it sits at the start of the output.
  Tensor& y = ctx.allocate_output(0, x.dtype(), shape);
  int64_t inferred_total = 1;
  for (int64_t d : inferred) inferred_total *= d;
  size_t es = dtype_size(x.dtype());
  const auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(y.raw());
  const int64_t* pi = idx.data<int64_t>();
  std::vector<int64_t> coord(inferred.size());
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t flat = pi[i];
    if (flat < 0 || flat >= inferred_total) ctx.fail("index " + std::to_string(flat) + " is out of range");
    int64_t off = 0, rem = flat;
    for (size_t d = inferred.size(); d-- > 0;) coord[d] = rem % inferred[d], rem /= inferred[d];
    for (size_t d = 0; d < inferred.size(); ++d) off = off * shape[d] + coord[d];
    std::memcpy(dst + off * es, src + i * es, es);
  }
}

void infer_max_unpool(InferenceContext& ctx) {
  const Shape* xs = ctx.input_shape(0);
  std::optional<Shape> out;
  if (ctx.has_input(2)) {
    if (auto c = ctx.input_constant(2)) out = Shape::from_dims(c->to_i64());
    else if (xs) out = Shape(std::vector<Dim>(xs->rank(), Dim::unknown()));
  } else if (xs) {
    if (xs->rank() < 3) ctx.fail("X must have rank >= 3");
    if (xs->is_static()) {
      try {
        out = Shape::from_dims(unpooled_dims(ctx.attrs(), xs->static_dims()));
      } catch (const Error& e) {
        ctx.fail(e.what());
      }
    } else {
      out = Shape(std::vector<Dim>(xs->rank(), Dim::unknown()));
      (*out)[0] = (*xs)[0];
      (*out)[1] = (*xs)[1];
    }
  }
  ctx.set_output(0, ctx.input_dtype(0), out);
}

}  // namespace

KILN_REGISTER_OP(MaxUnpool, {"", "MaxUnpool", {9, 11, 22}, infer_max_unpool, max_unpool_cpu});

}  // namespace kiln::ops
