#include "runtime/io_format.h"

#include <cstring>

namespace kiln::runtime {
namespace {

// out[n, j0, j1, j2] = in[n, ...] where output axis k+1 is input axis perm[k] + 1.
Tensor permute_inner(const Tensor& t, const std::vector<int64_t>& out_dims, const int perm[3]) {
  if (t.rank() != 4 || t.dtype() == DataType::kString || dtype_size(t.dtype()) == 0)
    throw_error(StatusCode::kInvalidArgument, "a channels-last conversion takes a rank-4 tensor, got " + t.describe());
  Tensor out(t.dtype(), out_dims);
  const size_t es = dtype_size(t.dtype());
  const int64_t in_d[3] = {t.dim(1), t.dim(2), t.dim(3)};
  const int64_t in_stride[3] = {in_d[1] * in_d[2], in_d[2], 1};
  const int64_t a = out_dims[1], b = out_dims[2], c = out_dims[3], image = a * b * c;
  const auto* src = static_cast<const unsigned char*>(t.raw());
  auto* dst = static_cast<unsigned char*>(out.raw());
  for (int64_t n = 0; n < t.dim(0); ++n)
    for (int64_t i = 0; i < a; ++i)
      for (int64_t j = 0; j < b; ++j)
        for (int64_t k = 0; k < c; ++k) {
          const int64_t idx[3] = {i, j, k};
          int64_t from = 0;
          for (int q = 0; q < 3; ++q) from += idx[q] * in_stride[perm[q]];
          std::memcpy(dst + (n * image + (i * b + j) * c + k) * es, src + (n * image + from) * es, es);
        }
  return out;
}

Tensor widen(const Tensor& t) {
  Tensor out(DataType::kFloat32, t.dims());
  for (int64_t i = 0; i < t.numel(); ++i)
    out.data<float>()[i] = t.dtype() == DataType::kFloat16 ? static_cast<float>(t.data<Float16>()[i])
                                                           : static_cast<float>(t.data<BFloat16>()[i]);
  return out;
}

Tensor narrow(const Tensor& t, DataType to) {
  Tensor out(to, t.dims());
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float v = t.data<float>()[i];
    if (to == DataType::kFloat16) out.data<Float16>()[i] = Float16(v);
    else out.data<BFloat16>()[i] = BFloat16(v);
  }
  return out;
}

bool is_half(DataType dt) { return dt == DataType::kFloat16 || dt == DataType::kBFloat16; }

}  // namespace

BindingInfo input_binding(const ir::Value& v, ir::Layout input_layout) {
  BindingInfo b;
  b.name = v.name();
  b.dtype = v.type().dtype;
  b.dims = v.type().shape->static_dims();
  if (v.type().layout == ir::Layout::kNHWC && b.dims.size() == 4) b.dims = nhwc_dims(b.dims);  // stored order
  // Channels-last relative to the model only where the build asked for it: a model whose own
  // input is [N,H,W,C] (then a Transpose) may have that Transpose absorbed too.
  if (input_layout == ir::Layout::kNHWC && b.dims.size() == 4) b.layout = ir::Layout::kNHWC;
  b.nbytes = static_cast<size_t>(checked_element_count(b.dims).value_or(0)) * dtype_size(b.dtype);
  return b;
}

std::string binding_type(const BindingInfo& b) {
  return std::string(dtype_name(b.dtype)) + dims_to_string(b.dims) +
         (b.layout == ir::Layout::kNHWC ? " (channels-last: NHWC)" : "");
}

std::vector<int64_t> nhwc_dims(const std::vector<int64_t>& d) {
  if (d.size() != 4) return d;
  return {d[0], d[2], d[3], d[1]};
}

Tensor nchw_to_nhwc(const Tensor& t) {
  static const int perm[3] = {1, 2, 0};  // out (h, w, c) reads in (c, h, w) axes 1, 2, 0
  return permute_inner(t, nhwc_dims(t.dims()), perm);
}

Tensor nhwc_to_nchw(const Tensor& t) {
  static const int perm[3] = {2, 0, 1};  // out (c, h, w) reads in (h, w, c) axes 2, 0, 1
  const auto& d = t.dims();
  return permute_inner(t, d.size() == 4 ? std::vector<int64_t>{d[0], d[3], d[1], d[2]} : d, perm);
}

Result<Tensor> to_model_form(const Tensor& t, const BindingInfo& b, DataType model_dtype) {
  if (t.dtype() != b.dtype || t.dims() != b.dims)
    return invalid_argument("'" + b.name + "' is " + t.describe() + ", the engine's binding is " + binding_type(b));
  try {
    Tensor out = b.layout == ir::Layout::kNHWC ? nhwc_to_nchw(t) : t;
    if (model_dtype == DataType::kFloat32 && is_half(out.dtype())) out = widen(out);
    return out;
  } catch (const Error& e) {
    return e.to_status();
  }
}

Result<Tensor> to_binding_form(const Tensor& t, const BindingInfo& b) {
  try {
    Tensor out = b.layout == ir::Layout::kNHWC ? nchw_to_nhwc(t) : t;
    if (out.dtype() == DataType::kFloat32 && is_half(b.dtype)) out = narrow(out, b.dtype);
    if (out.dtype() != b.dtype || out.dims() != b.dims)
      return invalid_argument("'" + b.name + "' is " + t.describe() + " in the model's form; the engine's binding is " +
                              binding_type(b));
    return out;
  } catch (const Error& e) {
    return e.to_status();
  }
}

}  // namespace kiln::runtime
