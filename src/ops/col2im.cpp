// Col2Im: sums sliding blocks (columns) back into an N-D image; the inverse layout of im2col.
#include <type_traits>

#include "ops/common/element_copy.h"
#include "ops/common/infer.h"
#include "ops/common/shape_util.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

struct Col2ImGeometry {
  std::vector<int64_t> image, block, dil, stride, pad_begin, n_blocks;
};

Col2ImGeometry col2im_geometry(const ir::Attributes& a, std::vector<int64_t> image, std::vector<int64_t> block) {
  size_t nd = image.size();
  KILN_CHECK(nd >= 1 && block.size() == nd, "Col2Im: image_shape and block_shape must have the same length >= 1");
  Col2ImGeometry g;
  g.image = std::move(image);
  g.block = std::move(block);
  g.dil = a.get_ints("dilations", std::vector<int64_t>(nd, 1));
  g.stride = a.get_ints("strides", std::vector<int64_t>(nd, 1));
  auto pads = a.get_ints("pads", std::vector<int64_t>(2 * nd, 0));
  KILN_CHECK(g.dil.size() == nd && g.stride.size() == nd && pads.size() == 2 * nd, "Col2Im: dilations/strides/pads have the wrong length");
  for (size_t d = 0; d < nd; ++d) {
    KILN_CHECK(g.block[d] > 0 && g.dil[d] > 0 && g.stride[d] > 0 && g.image[d] >= 0 && pads[d] >= 0 && pads[nd + d] >= 0,
               "Col2Im: invalid geometry");
    g.pad_begin.push_back(pads[d]);
    int64_t n = (g.image[d] + pads[d] + pads[nd + d] - g.dil[d] * (g.block[d] - 1) - 1) / g.stride[d] + 1;
    KILN_CHECK(n >= 1, "Col2Im: no sliding block fits");
    g.n_blocks.push_back(n);
  }
  return g;
}

void col2im_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_CHECK(x.rank() == 3, "Col2Im: input must be 3-D [N, C*prod(block_shape), L], got " + x.describe());
  Col2ImGeometry g = col2im_geometry(ctx.attrs(), ctx.input(1).to_i64(), ctx.input(2).to_i64());
  size_t nd = g.image.size();
  int64_t k = dims_product(g.block, 0, nd), l = dims_product(g.n_blocks, 0, nd);
  KILN_CHECK(x.dim(1) % k == 0, "Col2Im: input dim 1 is not divisible by the block size");
  KILN_CHECK(x.dim(2) == l, "Col2Im: input dim 2 is " + std::to_string(x.dim(2)) + ", expected " + std::to_string(l) + " blocks");
  int64_t c = x.dim(1) / k, n = x.dim(0), img = dims_product(g.image, 0, nd);
  std::vector<int64_t> out_dims = {n, c};
  out_dims.insert(out_dims.end(), g.image.begin(), g.image.end());
  Tensor& out = ctx.allocate_output(0, x.dtype(), out_dims);
  auto in = x.to_f64();
  std::vector<double> acc(static_cast<size_t>(out.numel()), 0.0);
  auto img_strides = row_major_strides(g.image);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch) {
      std::vector<int64_t> kidx(nd, 0);
      for (int64_t ki = 0; ki < k; ++ki, next_index(kidx, g.block)) {
        std::vector<int64_t> bidx(nd, 0);
        for (int64_t li = 0; li < l; ++li, next_index(bidx, g.n_blocks)) {
          int64_t off = 0;
          bool inside = true;
          for (size_t d = 0; d < nd && inside; ++d) {
            int64_t p = bidx[d] * g.stride[d] - g.pad_begin[d] + kidx[d] * g.dil[d];
            inside = p >= 0 && p < g.image[d];
            off += p * img_strides[d];
          }
          if (inside) acc[(b * c + ch) * img + off] += in[((b * c + ch) * k + ki) * l + li];
        }
      }
    }
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < out.numel(); ++i) out.data<T>()[i] = T(static_cast<std::conditional_t<std::is_same_v<T, double>, double, float>>(acc[i]));
  });
}

void infer_col2im(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  const Shape* s = ctx.input_shape(0);
  if (s && s->rank() != 3) ctx.fail("input must be 3-D");
  auto image = constant_ints(ctx, 1);
  auto block = constant_ints(ctx, 2);
  Dim n = s ? (*s)[0] : Dim::unknown();
  Dim c = Dim::unknown();
  if (image && block) {
    Col2ImGeometry g;
    try { g = col2im_geometry(ctx.attrs(), *image, *block); } catch (const Error& e) { ctx.fail(e.what()); }
    int64_t k = dims_product(g.block, 0, g.block.size());
    if (s && (*s)[1].is_constant()) c = Dim((*s)[1].value() / k);
    std::vector<Dim> out = {n, c};
    for (int64_t d : *image) out.push_back(Dim(d));
    return ctx.set_output(0, dt, Shape(out));
  }
  auto len = static_length_1d(ctx.input_shape(1));
  ctx.set_output(0, dt, len ? std::optional<Shape>(unknown_dims(*len + 2)) : std::nullopt);
}

}  // namespace

KILN_REGISTER_OP(Col2Im, {"", "Col2Im", {18}, infer_col2im, col2im_cpu});

}  // namespace kiln::ops
