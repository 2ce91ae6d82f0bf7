// cuda.cast: Cast between float32/float64/float16/bfloat16, the integer types and bool, one
// kernel that loads and stores by a run-time dtype switch (memory-bound, so the switch is free).
// Float -> integer truncates toward zero like C (out-of-range values are undefined in ONNX).
#include <type_traits>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

enum class Kind : int { kF32, kF64, kF16, kBF16, kI8, kI16, kI32, kI64, kU8, kU16, kU32, kU64, kBool };

bool kind_of(DataType dt, Kind& k) {
  switch (dt) {
    case DataType::kFloat32: k = Kind::kF32; return true;
    case DataType::kFloat64: k = Kind::kF64; return true;
    case DataType::kFloat16: k = Kind::kF16; return true;
    case DataType::kBFloat16: k = Kind::kBF16; return true;
    case DataType::kInt8: k = Kind::kI8; return true;
    case DataType::kInt16: k = Kind::kI16; return true;
    case DataType::kInt32: k = Kind::kI32; return true;
    case DataType::kInt64: k = Kind::kI64; return true;
    case DataType::kUInt8: k = Kind::kU8; return true;
    case DataType::kUInt16: k = Kind::kU16; return true;
    case DataType::kUInt32: k = Kind::kU32; return true;
    case DataType::kUInt64: k = Kind::kU64; return true;
    case DataType::kBool: k = Kind::kBool; return true;
    default: return false;
  }
}

__device__ double load(const void* p, int64_t i, Kind k) {
  switch (k) {
    case Kind::kF32: return static_cast<const float*>(p)[i];
    case Kind::kF64: return static_cast<const double*>(p)[i];
    case Kind::kF16: return __half2float(static_cast<const __half*>(p)[i]);
    case Kind::kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case Kind::kI8: return static_cast<const int8_t*>(p)[i];
    case Kind::kI16: return static_cast<const int16_t*>(p)[i];
    case Kind::kI32: return static_cast<const int32_t*>(p)[i];
    case Kind::kI64: return static_cast<double>(static_cast<const int64_t*>(p)[i]);
    case Kind::kU8: return static_cast<const uint8_t*>(p)[i];
    case Kind::kU16: return static_cast<const uint16_t*>(p)[i];
    case Kind::kU32: return static_cast<const uint32_t*>(p)[i];
    case Kind::kU64: return static_cast<double>(static_cast<const uint64_t*>(p)[i]);
    case Kind::kBool: return static_cast<const uint8_t*>(p)[i] != 0 ? 1.0 : 0.0;
  }
  return 0;
}

__device__ void store(void* p, int64_t i, Kind k, double v) {
  switch (k) {
    case Kind::kF32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
    case Kind::kF64: static_cast<double*>(p)[i] = v; break;
    case Kind::kF16: static_cast<__half*>(p)[i] = __double2half(v); break;
    case Kind::kBF16: static_cast<__nv_bfloat16*>(p)[i] = __double2bfloat16(v); break;
    case Kind::kI8: static_cast<int8_t*>(p)[i] = static_cast<int8_t>(static_cast<int64_t>(v)); break;
    case Kind::kI16: static_cast<int16_t*>(p)[i] = static_cast<int16_t>(static_cast<int64_t>(v)); break;
    case Kind::kI32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(static_cast<int64_t>(v)); break;
    case Kind::kI64: static_cast<int64_t*>(p)[i] = static_cast<int64_t>(v); break;
    case Kind::kU8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(static_cast<int64_t>(v)); break;
    case Kind::kU16: static_cast<uint16_t*>(p)[i] = static_cast<uint16_t>(static_cast<int64_t>(v)); break;
    case Kind::kU32: static_cast<uint32_t*>(p)[i] = static_cast<uint32_t>(static_cast<int64_t>(v)); break;
    case Kind::kU64: static_cast<uint64_t*>(p)[i] = static_cast<uint64_t>(v); break;
    case Kind::kBool: static_cast<uint8_t*>(p)[i] = v != 0.0; break;
  }
}

__global__ void cast_kernel(const void* in, Kind from, void* out, Kind to, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    store(out, i, to, load(in, i, from));
}

// Cast of a row-major [N,C,H,W] input into a channels-last output (the engine input's precision
// cast fused with its reformat, docs/LAYOUT.md): output element i in NHWC order.
__global__ void cast_to_nhwc_kernel(const void* in, Kind from, void* out, Kind to, int64_t n, int64_t c, int64_t hw) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t image = i / (hw * c), rest = i - image * hw * c, pixel = rest / c, channel = rest - pixel * c;
    store(out, i, to, load(in, (image * c + channel) * hw + pixel, from));
  }
}

// The engine input's usual case: float32 [N,C,H,W] with few channels (an image) to float16 or
// bfloat16 NHWC. One thread per pixel: its c plane reads are coalesced across the warp, its c
// writes contiguous; 32-bit index math, no per-element kind switch or double.
template <typename Out>
__global__ void image_to_nhwc_kernel(const float* __restrict__ in, Out* __restrict__ out, int32_t pixels, int32_t c,
                                     int32_t hw) {
  for (int32_t p = blockIdx.x * blockDim.x + threadIdx.x; p < pixels; p += gridDim.x * blockDim.x) {
    const int32_t image = p / hw, px = p - image * hw;
    const float* src = in + static_cast<int64_t>(image) * c * hw + px;
    Out* dst = out + static_cast<int64_t>(p) * c;
    for (int32_t ch = 0; ch < c; ++ch) {
      float v = src[static_cast<int64_t>(ch) * hw];
      if constexpr (std::is_same_v<Out, __half>) dst[ch] = __float2half_rn(v);
      else dst[ch] = __float2bfloat16_rn(v);
    }
  }
}

class CastKernel : public runtime::Kernel {
 public:
  // to_nhwc: the input is row-major [N,C,H,W] with c channels of hw pixels, the output NHWC.
  CastKernel(Kind from, Kind to, int64_t n, bool to_nhwc = false, int64_t c = 0, int64_t hw = 0)
      : from_(from), to_(to), n_(n), to_nhwc_(to_nhwc), c_(c), hw_(hw) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (n_ == 0) return Status::ok();
    int grid = static_cast<int>(std::min<int64_t>((n_ + 255) / 256, 132 * 32));
    auto stream = static_cast<cudaStream_t>(launch.stream);
    const bool image = to_nhwc_ && from_ == Kind::kF32 && (to_ == Kind::kF16 || to_ == Kind::kBF16) && c_ > 0 &&
                       c_ <= 8 && n_ < (int64_t{1} << 31);
    if (image) {
      const int64_t pixels = n_ / c_;
      const int g = static_cast<int>(std::min<int64_t>((pixels + 255) / 256, 132 * 32));
      const float* x = static_cast<const float*>(in[0].data);
      if (to_ == Kind::kF16)
        image_to_nhwc_kernel<__half><<<g, 256, 0, stream>>>(x, static_cast<__half*>(out[0].data),
                                                              static_cast<int32_t>(pixels), static_cast<int32_t>(c_),
                                                              static_cast<int32_t>(hw_));
      else
        image_to_nhwc_kernel<__nv_bfloat16><<<g, 256, 0, stream>>>(x, static_cast<__nv_bfloat16*>(out[0].data),
                                                                     static_cast<int32_t>(pixels), static_cast<int32_t>(c_),
                                                                     static_cast<int32_t>(hw_));
    } else if (to_nhwc_) cast_to_nhwc_kernel<<<grid, 256, 0, stream>>>(in[0].data, from_, out[0].data, to_, n_, c_, hw_);
    else cast_kernel<<<grid, 256, 0, stream>>>(in[0].data, from_, out[0].data, to_, n_);
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  Kind from_, to_;
  int64_t n_;
  bool to_nhwc_;
  int64_t c_, hw_;
};

class CastTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.cast"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool handles_channels_last() const override { return true; }
  bool supports(const ir::Node& n) const override {
    if ((n.op_type() != "Cast" && n.op_type() != "CastLike") || !n.domain().empty() || !all_static(n)) return false;
    // Channels-last: both sides alike (elementwise), or row-major in and NHWC out.
    if (n.num_inputs() > 1 && is_nhwc(n.input(1))) return false;
    if (is_nhwc(n.input(0)) && !is_nhwc(n.output(0)) && !layout_neutral(dims_of(n.output(0)))) return false;
    if (is_nhwc(n.output(0)) && dims_of(n.output(0)).size() != 4) return false;
    if (n.attrs().get_int("saturate", 1) != 1 && is_float(dtype_of(n.output(0))) && dtype_size(dtype_of(n.output(0))) == 1)
      return false;
    Kind a, b;
    return kind_of(dtype_of(n.input(0)), a) && kind_of(dtype_of(n.output(0)), b);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    Kind a, b;
    if (!supports(*spec.node) || !kind_of(dtype_of(spec.node->input(0)), a) || !kind_of(dtype_of(spec.node->output(0)), b))
      return unsupported(spec.node->describe() + ": not supported by cuda.cast");
    int64_t n = 1;
    auto d = dims_of(spec.node->output(0));
    for (int64_t v : d) n *= v;
    if (is_nhwc(spec.node->output(0)) && !is_nhwc(spec.node->input(0)) && !layout_neutral(d))
      return std::unique_ptr<runtime::Kernel>(new CastKernel(a, b, n, true, d[1], d[2] * d[3]));
    return std::unique_ptr<runtime::Kernel>(new CastKernel(a, b, n));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaCast, std::make_unique<CastTactic>());

}  // namespace kiln::cuda
