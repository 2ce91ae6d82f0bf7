// cuda.quantize: QuantizeLinear to int8/uint8/int16/uint16 (x / scale rounded half to even,
// plus the zero point, saturated) and DequantizeLinear from int8/uint8/int16/uint16/int32 to
// float32/float16/bfloat16 ((x - zero_point) * scale in float), with per-tensor, per-axis and
// blocked scales; scale and zero point constant or runtime. Float8/int4/int2 forms and the
// `precision` attribute are left to other tactics.
#include <cmath>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

struct QuantPlan {
  bool quantize = true;
  int mode = 0;  // 0 per tensor, 1 per axis, 2 blocked
  int64_t inner = 1, dim = 1, block = 1, blocks = 1;
  int64_t n = 0;
  DataType x_dt = DataType::kFloat32, y_dt = DataType::kUInt8, scale_dt = DataType::kFloat32;
  bool zero_point = false;
};

bool is_quant_int(DataType dt) {
  return dt == DataType::kInt8 || dt == DataType::kUInt8 || dt == DataType::kInt16 || dt == DataType::kUInt16;
}

bool plan_of(const ir::Node& n, QuantPlan& p) {
  const std::string& t = n.op_type();
  if ((t != "QuantizeLinear" && t != "DequantizeLinear") || !n.domain().empty() || n.num_inputs() < 2 || n.num_inputs() > 3 ||
      n.num_outputs() != 1 || !n.input(0) || !n.input(1) || !n.output(0) || !all_static(n))
    return false;
  p.quantize = t == "QuantizeLinear";
  if (n.attrs().get_int("precision", 0) != 0) return false;
  p.x_dt = dtype_of(n.input(0));
  p.y_dt = dtype_of(n.output(0));
  p.scale_dt = dtype_of(n.input(1));
  p.zero_point = n.num_inputs() > 2 && n.input(2);
  if (p.quantize) {
    if (!is_quant_int(p.y_dt) || !is_kernel_float(p.x_dt) || p.scale_dt != p.x_dt) return false;
    if (p.x_dt == DataType::kBFloat16) return false;
    if (p.zero_point && dtype_of(n.input(2)) != p.y_dt) return false;
  } else {
    if ((!is_quant_int(p.x_dt) && p.x_dt != DataType::kInt32) || !is_kernel_float(p.y_dt) || !is_kernel_float(p.scale_dt)) return false;
    if (p.zero_point && dtype_of(n.input(2)) != p.x_dt) return false;
  }
  auto x = dims_of(n.input(0)), s = dims_of(n.input(1));
  if (dims_of(n.output(0)) != x) return false;
  int64_t s_count = 1;
  for (int64_t d : s) s_count *= d;
  if (p.zero_point) {
    int64_t z_count = 1;
    for (int64_t d : dims_of(n.input(2))) z_count *= d;
    if (z_count != s_count) return false;
  }
  p.n = 1;
  for (int64_t d : x) p.n *= d;
  p.mode = 0;
  if (s_count == 1) return true;
  const int64_t r = static_cast<int64_t>(x.size());
  int64_t axis = n.attrs().get_int("axis", 1);
  if (axis < -r || axis >= r) return false;
  if (axis < 0) axis += r;
  p.dim = x[static_cast<size_t>(axis)];
  p.inner = 1;
  for (int64_t d = axis + 1; d < r; ++d) p.inner *= x[static_cast<size_t>(d)];
  const int64_t block = n.attrs().get_int("block_size", 0);
  if (block <= 0) {
    if (s.size() != 1 || s[0] != p.dim) return false;
    p.mode = 1;
    return true;
  }
  if (s.size() != x.size()) return false;
  for (int64_t d = 0; d < r; ++d)
    if (s[static_cast<size_t>(d)] != (d == axis ? (p.dim + block - 1) / block : x[static_cast<size_t>(d)])) return false;
  p.block = block;
  p.blocks = s[static_cast<size_t>(axis)];
  p.mode = 2;
  return true;
}

// The scale / zero point element x's element i uses (the CPU reference's ScaleIndex).
__host__ __device__ inline int64_t scale_index(const QuantPlan& p, int64_t i) {
  if (p.mode == 0) return 0;
  const int64_t c = i / p.inner % p.dim;
  if (p.mode == 1) return c;
  const int64_t outer = i / (p.inner * p.dim), in = i % p.inner;
  return (outer * p.blocks + c / p.block) * p.inner + in;
}

template <typename T>
__device__ inline float load_f(const void* p, int64_t i) {
  return to_float(static_cast<const T*>(p)[i]);
}

__device__ inline float load_any_float(const void* p, int64_t i, DataType dt) {
  switch (dt) {
    case DataType::kFloat32: return static_cast<const float*>(p)[i];
    case DataType::kFloat16: return __half2float(static_cast<const __half*>(p)[i]);
    default: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
  }
}

__device__ inline double load_int(const void* p, int64_t i, DataType dt) {
  switch (dt) {
    case DataType::kInt8: return static_cast<const int8_t*>(p)[i];
    case DataType::kUInt8: return static_cast<const uint8_t*>(p)[i];
    case DataType::kInt16: return static_cast<const int16_t*>(p)[i];
    case DataType::kUInt16: return static_cast<const uint16_t*>(p)[i];
    default: return static_cast<const int32_t*>(p)[i];
  }
}

__device__ inline void store_int(void* p, int64_t i, DataType dt, double v) {
  switch (dt) {
    case DataType::kInt8: static_cast<int8_t*>(p)[i] = static_cast<int8_t>(v); break;
    case DataType::kUInt8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v); break;
    case DataType::kInt16: static_cast<int16_t*>(p)[i] = static_cast<int16_t>(v); break;
    default: static_cast<uint16_t*>(p)[i] = static_cast<uint16_t>(v); break;
  }
}

__global__ void quantize_kernel(const void* x, const void* scale, const void* zp, void* y, QuantPlan p) {
  double lo, hi;
  switch (p.y_dt) {
    case DataType::kInt8: lo = -128, hi = 127; break;
    case DataType::kUInt8: lo = 0, hi = 255; break;
    case DataType::kInt16: lo = -32768, hi = 32767; break;
    default: lo = 0, hi = 65535;
  }
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t s = scale_index(p, i);
    float q = load_any_float(x, i, p.x_dt) / load_any_float(scale, s, p.x_dt);  // computed in x's type
    if (p.x_dt == DataType::kFloat16) q = __half2float(__float2half_rn(q));
    const double z = zp ? load_int(zp, s, p.y_dt) : 0.0;
    double v = rint(static_cast<double>(q)) + z;
    v = v < lo ? lo : (v > hi ? hi : v);
    store_int(y, i, p.y_dt, v);
  }
}

__global__ void dequantize_kernel(const void* x, const void* scale, const void* zp, void* y, QuantPlan p) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t s = scale_index(p, i);
    const float dx = static_cast<float>(load_int(x, i, p.x_dt)) - (zp ? static_cast<float>(load_int(zp, s, p.x_dt)) : 0.f);
    const float v = dx * load_any_float(scale, s, p.scale_dt);
    switch (p.y_dt) {
      case DataType::kFloat32: static_cast<float*>(y)[i] = v; break;
      case DataType::kFloat16: static_cast<__half*>(y)[i] = __float2half_rn(v); break;
      default: static_cast<__nv_bfloat16*>(y)[i] = __float2bfloat16_rn(v);
    }
  }
}

class QuantKernel : public runtime::Kernel {
 public:
  explicit QuantKernel(QuantPlan p) : p_(p) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (p_.n == 0) return Status::ok();
    int grid = static_cast<int>(std::min<int64_t>((p_.n + 255) / 256, 132 * 32));
    auto s = static_cast<cudaStream_t>(launch.stream);
    const void* zp = p_.zero_point && in.size() > 2 ? in[2].data : nullptr;
    if (p_.quantize) quantize_kernel<<<grid, 256, 0, s>>>(in[0].data, in[1].data, zp, out[0].data, p_);
    else dequantize_kernel<<<grid, 256, 0, s>>>(in[0].data, in[1].data, zp, out[0].data, p_);
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  QuantPlan p_;
};

class QuantTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.quantize"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    QuantPlan p;
    return plan_of(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    QuantPlan p;
    if (!plan_of(*spec.node, p))
      return unsupported(spec.node->describe() + ": not supported by cuda.quantize (8/16-bit integers, float scales)");
    return std::unique_ptr<runtime::Kernel>(new QuantKernel(p));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaQuantize, std::make_unique<QuantTactic>());

}  // namespace kiln::cuda
