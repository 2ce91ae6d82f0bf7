// QuantizeLinear, DequantizeLinear (per-tensor, per-axis and blocked scales) and
// DynamicQuantizeLinear.
#include <algorithm>
#include <cmath>

#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

// Maps each element of x to the index of its scale / zero point.
class ScaleIndex {
 public:
  ScaleIndex(const KernelContext& ctx, const Tensor& x, const Tensor& scale) {
    int64_t block = ctx.attrs().get_int("block_size", 0);
    if (scale.numel() == 1) return;  // per tensor
    int64_t r = static_cast<int64_t>(x.rank());
    axis_ = normalize_axis(ctx.attrs().get_int("axis", 1), r);
    dim_ = x.dim(axis_);
    inner_ = 1;
    for (int64_t d = axis_ + 1; d < r; ++d) inner_ *= x.dim(d);
    if (block <= 0) {
      if (scale.rank() != 1 || scale.dim(0) != dim_)
        ctx.fail("scale " + scale.describe() + " must be a scalar or have " + std::to_string(dim_) + " values (axis " +
                 std::to_string(axis_) + ")");
      mode_ = 1;
      return;
    }
    if (scale.rank() != x.rank()) ctx.fail("blocked scale " + scale.describe() + " must have the rank of x " + x.describe());
    for (int64_t d = 0; d < r; ++d) {
      int64_t want = d == axis_ ? (dim_ + block - 1) / block : x.dim(d);
      if (scale.dim(d) != want)
        ctx.fail("blocked scale " + scale.describe() + " does not match x " + x.describe() + " with block_size " +
                 std::to_string(block));
    }
    block_ = block;
    blocks_ = scale.dim(axis_);
    mode_ = 2;
  }
  int64_t operator()(int64_t i) const {
    if (mode_ == 0) return 0;
    int64_t c = i / inner_ % dim_;
    if (mode_ == 1) return c;
    int64_t outer = i / (inner_ * dim_), in = i % inner_;
    return (outer * blocks_ + c / block_) * inner_ + in;
  }

 private:
  int mode_ = 0;  // 0 per tensor, 1 per axis, 2 blocked
  int64_t axis_ = 0, dim_ = 1, inner_ = 1, block_ = 1, blocks_ = 1;
};

bool integer_range(DataType dt, double* lo, double* hi) {
  switch (dt) {
    case DataType::kUInt8: *lo = 0, *hi = 255; return true;
    case DataType::kInt8: *lo = -128, *hi = 127; return true;
    case DataType::kUInt16: *lo = 0, *hi = 65535; return true;
    case DataType::kInt16: *lo = -32768, *hi = 32767; return true;
    case DataType::kUInt4: *lo = 0, *hi = 15; return true;
    case DataType::kInt4: *lo = -8, *hi = 7; return true;
    case DataType::kUInt2: *lo = 0, *hi = 3; return true;
    case DataType::kInt2: *lo = -2, *hi = 1; return true;
    default: return false;
  }
}

bool minifloat_kind(DataType dt, MiniFloat* kind) {
  switch (dt) {
    case DataType::kFloat8E4M3FN: *kind = MiniFloat::kE4M3FN; return true;
    case DataType::kFloat8E4M3FNUZ: *kind = MiniFloat::kE4M3FNUZ; return true;
    case DataType::kFloat8E5M2: *kind = MiniFloat::kE5M2; return true;
    case DataType::kFloat8E5M2FNUZ: *kind = MiniFloat::kE5M2FNUZ; return true;
    case DataType::kFloat4E2M1: *kind = MiniFloat::kE2M1; return true;
    default: return false;
  }
}

// Rounds v to the float type dt (the precision an operation is carried out in).
double round_to(double v, DataType dt) {
  switch (dt) {
    case DataType::kFloat32: return static_cast<float>(v);
    case DataType::kFloat16: return static_cast<float>(Float16(static_cast<float>(v)));
    case DataType::kBFloat16: return static_cast<float>(BFloat16(static_cast<float>(v)));
    default: return v;
  }
}

// Writes v (already in range for integers) as element i of t.
void store(Tensor& t, int64_t i, double v) {
  switch (t.dtype()) {
    case DataType::kUInt8: t.data<uint8_t>()[i] = static_cast<uint8_t>(v); return;
    case DataType::kInt8: t.data<int8_t>()[i] = static_cast<int8_t>(v); return;
    case DataType::kUInt16: t.data<uint16_t>()[i] = static_cast<uint16_t>(v); return;
    case DataType::kInt16: t.data<int16_t>()[i] = static_cast<int16_t>(v); return;
    case DataType::kUInt4: case DataType::kUInt2: t.data<uint8_t>()[i] = static_cast<uint8_t>(v); return;
    case DataType::kInt4: case DataType::kInt2: t.data<int8_t>()[i] = static_cast<int8_t>(v); return;
    case DataType::kFloat32: t.data<float>()[i] = static_cast<float>(v); return;
    case DataType::kFloat64: t.data<double>()[i] = v; return;
    case DataType::kFloat16: t.data<Float16>()[i] = Float16(static_cast<float>(v)); return;
    case DataType::kBFloat16: t.data<BFloat16>()[i] = BFloat16(static_cast<float>(v)); return;
    default: throw_error(StatusCode::kUnsupported, "cannot store into " + t.describe());
  }
}

DataType quantized_type(const ir::Attributes& a, DataType zero_point) {
  int64_t code = a.get_int("output_dtype", 0);
  if (zero_point != DataType::kUndefined) {
    if (code != 0 && code != static_cast<int64_t>(zero_point))
      throw_error(StatusCode::kInvalidArgument, "output_dtype does not match y_zero_point's dtype");
    return zero_point;
  }
  if (code == 0) return DataType::kUInt8;
  auto dt = dtype_from_code(static_cast<int32_t>(code));
  if (!dt) throw_error(StatusCode::kInvalidArgument, "unknown output_dtype " + std::to_string(code));
  return *dt;
}

// The float type x / y_scale is computed in: precision if given, else numpy's promotion.
DataType division_type(const ir::Attributes& a, DataType x, DataType scale) {
  if (int64_t p = a.get_int("precision", 0)) {
    auto dt = dtype_from_code(static_cast<int32_t>(p));
    if (!dt || !is_float(*dt)) throw_error(StatusCode::kInvalidArgument, "precision must be a float type");
    return *dt;
  }
  if (x == scale) return x;
  if (x == DataType::kInt32 || x == DataType::kFloat64 || scale == DataType::kFloat64) return DataType::kFloat64;
  return DataType::kFloat32;
}

void quantize_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  DataType out = quantized_type(ctx.attrs(), zp ? zp->dtype() : DataType::kUndefined);
  double lo = 0, hi = 0;
  MiniFloat kind{};
  bool is_int = integer_range(out, &lo, &hi), is_mini = minifloat_kind(out, &kind);
  if (!is_int && !is_mini) ctx.fail("unsupported quantized type " + std::string(dtype_name(out)));
  ScaleIndex index(ctx, x, scale);
  if (zp && zp->dims() != scale.dims() && zp->numel() != scale.numel())
    ctx.fail("y_zero_point " + zp->describe() + " must have the shape of y_scale " + scale.describe());
  DataType prec = division_type(ctx.attrs(), x.dtype(), scale.dtype());
  bool saturate = ctx.attrs().get_int("saturate", 1) != 0;
  auto xv = x.to_f64(), sv = scale.to_f64();
  std::vector<double> zv = zp ? zp->to_f64() : std::vector<double>{};
  Tensor& y = ctx.allocate_output(0, out, x.dims());
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t s = index(i);
    double q = round_to(round_to(xv[i], prec) / round_to(sv[s], prec), prec);
    double z = zp ? zv[s] : 0.0;
    if (is_int) {
      store(y, i, std::clamp(std::nearbyint(q) + z, lo, hi));
    } else {
      // float8: the zero point is 0 by convention; float4 adds it as the formula says.
      if (out == DataType::kFloat4E2M1) q = static_cast<float>(q + z);
      y.data<uint8_t>()[i] = float_to_minifloat(static_cast<float>(q), kind, saturate || out == DataType::kFloat4E2M1);
    }
  }
}

void dequantize_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  if (zp && zp->dtype() != x.dtype()) ctx.fail("x_zero_point must have x's dtype");
  DataType out = scale.dtype() == DataType::kFloat8E8M0 ? DataType::kFloat32 : scale.dtype();
  if (int64_t code = ctx.attrs().get_int("output_dtype", 0)) {
    auto dt = dtype_from_code(static_cast<int32_t>(code));
    if (!dt) ctx.fail("unknown output_dtype " + std::to_string(code));
    out = *dt;
  }
  if (!is_float(out)) ctx.fail("the output must be a float type");
  ScaleIndex index(ctx, x, scale);
  auto xv = x.to_f64(), sv = scale.to_f64();
  std::vector<double> zv = zp ? zp->to_f64() : std::vector<double>{};
  Tensor& y = ctx.allocate_output(0, out, x.dims());
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t s = index(i);
    float dx = static_cast<float>(xv[i]) - static_cast<float>(zp ? zv[s] : 0.0);
    store(y, i, static_cast<float>(dx * static_cast<float>(sv[s])));
  }
}

void dynamic_quantize_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DataType::kFloat32) ctx.fail("x must be float32, got " + x.describe());
  const float* px = x.data<float>();
  float mx = 0.0f, mn = 0.0f;
  for (int64_t i = 0; i < x.numel(); ++i) mx = std::max(mx, px[i]), mn = std::min(mn, px[i]);
  float scale = (mx == mn ? 1.0f : (mx - mn)) / 255.0f;
  float zp = std::nearbyint(std::clamp(0.0f - mn / scale, 0.0f, 255.0f));
  Tensor& y = ctx.allocate_output(0, DataType::kUInt8, x.dims());
  for (int64_t i = 0; i < x.numel(); ++i)
    y.data<uint8_t>()[i] = static_cast<uint8_t>(std::clamp(std::nearbyint(px[i] / scale) + zp, 0.0f, 255.0f));
  ctx.allocate_output(1, DataType::kFloat32, {}).data<float>()[0] = scale;
  ctx.allocate_output(2, DataType::kUInt8, {}).data<uint8_t>()[0] = static_cast<uint8_t>(zp);
}

void infer_quantize(InferenceContext& ctx) {
  DataType out;
  try {
    out = quantized_type(ctx.attrs(), ctx.has_input(2) ? ctx.input_dtype(2) : DataType::kUndefined);
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
  ctx.set_output(0, out, ctx.input_type(0).shape);
}

void infer_dequantize(InferenceContext& ctx) {
  DataType out = ctx.input_dtype(1);
  if (out == DataType::kFloat8E8M0) out = DataType::kFloat32;
  if (int64_t code = ctx.attrs().get_int("output_dtype", 0)) {
    auto dt = dtype_from_code(static_cast<int32_t>(code));
    if (!dt || !is_float(*dt)) ctx.fail("output_dtype must be a float type");
    out = *dt;
  }
  ctx.set_output(0, out, ctx.input_type(0).shape);
}

void infer_dynamic_quantize(InferenceContext& ctx) {
  ctx.set_output(0, DataType::kUInt8, ctx.input_type(0).shape);
  ctx.set_output(1, DataType::kFloat32, Shape());
  ctx.set_output(2, DataType::kUInt8, Shape());
}

}  // namespace

KILN_REGISTER_OP(QuantizeLinear, {"", "QuantizeLinear", {10, 13, 19, 21, 23, 24, 25, 28}, infer_quantize, quantize_cpu});
KILN_REGISTER_OP(DequantizeLinear, {"", "DequantizeLinear", {10, 13, 19, 21, 23, 24, 25, 28}, infer_dequantize, dequantize_cpu});
KILN_REGISTER_OP(DynamicQuantizeLinear, {"", "DynamicQuantizeLinear", {11}, infer_dynamic_quantize, dynamic_quantize_cpu});

}  // namespace kiln::ops
