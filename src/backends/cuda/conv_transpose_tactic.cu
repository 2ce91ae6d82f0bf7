// cuda.conv_transpose: ConvTranspose with 1 to 3 spatial dims (strides, dilations, pads or
// auto_pad / output_shape, output_padding, group, bias) as a direct gather kernel: each output
// element sums x[c, i] * w[c, m, k] over the input positions i with i * stride + k * dilation -
// pad = o. Float accumulation. Simple rather than fast (no cuDNN dgrad plan yet): decoders and
// U-Nets have few such layers.
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

constexpr int kMaxSpatial = 3;

struct ConvTGeometry {
  int nd = 0;
  int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1, cg = 0, mg = 0;
  int64_t in[kMaxSpatial], out[kMaxSpatial], kernel[kMaxSpatial], stride[kMaxSpatial], dilation[kMaxSpatial],
      pad[kMaxSpatial];
  bool bias = false;
  DataType dt = DataType::kFloat32;
};

int64_t floor_div2(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

bool geometry(const ir::Node& n, ConvTGeometry& g) {
  if (n.op_type() != "ConvTranspose" || !n.domain().empty() || n.num_outputs() != 1 || !all_static(n)) return false;
  if (n.num_inputs() < 2 || !n.input(0) || !n.input(1) || !n.output(0)) return false;
  DataType dt = dtype_of(n.input(0));
  if (!is_kernel_float(dt) || dtype_of(n.input(1)) != dt || dtype_of(n.output(0)) != dt) return false;
  g.bias = n.num_inputs() > 2 && n.input(2);
  if (g.bias && dtype_of(n.input(2)) != dt) return false;
  auto x = dims_of(n.input(0)), w = dims_of(n.input(1)), y = dims_of(n.output(0));
  if (x.size() < 3 || x.size() > 2 + kMaxSpatial || w.size() != x.size() || y.size() != x.size()) return false;
  const size_t nd = x.size() - 2;
  const auto& a = n.attrs();
  g.nd = static_cast<int>(nd);
  g.batch = x[0];
  g.in_channels = x[1];
  g.group = a.get_int("group", 1);
  if (g.group < 1 || w[0] != g.in_channels || g.in_channels % g.group != 0) return false;
  g.out_channels = w[1] * g.group;
  g.cg = g.in_channels / g.group;
  g.mg = w[1];
  if (y[0] != g.batch || y[1] != g.out_channels) return false;
  if (g.bias) {
    auto b = dims_of(n.input(2));
    if (b.size() != 1 || b[0] != g.out_channels) return false;
  }
  auto ints = [&](const char* name, size_t count, int64_t def, std::vector<int64_t>& v) {
    v = a.get_ints(name, {});
    if (v.empty()) v.assign(count, def);
    return v.size() == count;
  };
  std::vector<int64_t> strides, dil, opad, pads, ks;
  if (!ints("strides", nd, 1, strides) || !ints("dilations", nd, 1, dil) || !ints("output_padding", nd, 0, opad) ||
      !ints("pads", 2 * nd, 0, pads))
    return false;
  ks = a.get_ints("kernel_shape", {});
  if (!ks.empty() && ks != std::vector<int64_t>(w.begin() + 2, w.end())) return false;
  auto output_shape = a.get_ints("output_shape", {});
  if (output_shape.size() == nd + 2) output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
  if (!output_shape.empty() && output_shape.size() != nd) return false;
  std::string auto_pad = a.get_string("auto_pad", "NOTSET");
  const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  if (!same && auto_pad != "NOTSET" && auto_pad != "VALID") return false;
  for (size_t d = 0; d < nd; ++d) {
    int64_t k = w[d + 2], in = x[d + 2];
    if (strides[d] < 1 || dil[d] < 1 || k < 1) return false;
    int64_t ek = (k - 1) * dil[d] + 1, out, pad_begin;
    if (same) {
      out = output_shape.empty() ? in * strides[d] : output_shape[d];
      int64_t total = strides[d] * (in - 1) + opad[d] + ek - out;
      pad_begin = auto_pad == "SAME_UPPER" ? floor_div2(total) : total - floor_div2(total);
    } else {
      pad_begin = pads[d];
      out = !output_shape.empty() ? output_shape[d] : strides[d] * (in - 1) + opad[d] + ek - pads[d] - pads[d + nd];
    }
    if (out != y[d + 2]) return false;
    g.in[d] = in;
    g.out[d] = out;
    g.kernel[d] = k;
    g.stride[d] = strides[d];
    g.dilation[d] = dil[d];
    g.pad[d] = pad_begin;
  }
  g.dt = dt;
  return true;
}

__host__ __device__ inline float load_f(float v) { return v; }
__device__ inline float load_f(__half v) { return __half2float(v); }
__device__ inline float load_f(__nv_bfloat16 v) { return __bfloat162float(v); }

// Output element i (bias included); __host__ too so the index math can be checked on the CPU.
template <typename T>
__host__ __device__ float conv_transpose_value(const T* x, const T* w, const T* b, const ConvTGeometry& g, int64_t i) {
  int64_t out_size = 1, in_size = 1, ksize = 1;
  for (int d = 0; d < g.nd; ++d) {
    out_size *= g.out[d];
    in_size *= g.in[d];
    ksize *= g.kernel[d];
  }
  int64_t o[kMaxSpatial];
  int64_t rest = i % out_size;
  for (int d = g.nd - 1; d >= 0; --d) {
    o[d] = rest % g.out[d];
    rest /= g.out[d];
  }
  const int64_t oc = (i / out_size) % g.out_channels, n = i / (out_size * g.out_channels);
  const int64_t grp = oc / g.mg, m = oc % g.mg;
  float acc = g.bias ? load_f(b[oc]) : 0.f;
  for (int64_t kk = 0; kk < ksize; ++kk) {
    // Kernel position kk -> k[d]; the input position it reads, if any.
    int64_t krest = kk, in_off = 0;
    bool valid = true;
    int64_t k[kMaxSpatial];
    for (int d = g.nd - 1; d >= 0; --d) {
      k[d] = krest % g.kernel[d];
      krest /= g.kernel[d];
    }
    for (int d = 0; d < g.nd && valid; ++d) {
      int64_t t = o[d] + g.pad[d] - k[d] * g.dilation[d];
      if (t < 0 || t % g.stride[d] != 0 || t / g.stride[d] >= g.in[d]) valid = false;
      else in_off = in_off * g.in[d] + t / g.stride[d];
    }
    if (!valid) continue;
    for (int64_t c = grp * g.cg; c < (grp + 1) * g.cg; ++c)
      acc += load_f(x[(n * g.in_channels + c) * in_size + in_off]) * load_f(w[(c * g.mg + m) * ksize + kk]);
  }
  return acc;
}

template <typename T>
__global__ void conv_transpose_kernel(const T* x, const T* w, const T* b, T* y, ConvTGeometry g) {
  int64_t total = g.batch * g.out_channels;
  for (int d = 0; d < g.nd; ++d) total *= g.out[d];
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[i] = from_float<T>(conv_transpose_value(x, w, b, g, i));
}

class ConvTransposeKernel : public runtime::Kernel {
 public:
  explicit ConvTransposeKernel(ConvTGeometry g) : g_(g) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    int64_t total = g_.batch * g_.out_channels;
    for (int d = 0; d < g_.nd; ++d) total *= g_.out[d];
    if (total == 0) return Status::ok();
    int grid = static_cast<int>(std::min<int64_t>((total + 255) / 256, 132 * 32));
    auto s = static_cast<cudaStream_t>(launch.stream);
    const void* b = g_.bias && in.size() > 2 ? in[2].data : nullptr;
    if (g_.bias && !b) return invalid_argument("ConvTranspose: the bias input is missing");
    switch (g_.dt) {
      case DataType::kFloat32:
        conv_transpose_kernel<float><<<grid, 256, 0, s>>>(static_cast<const float*>(in[0].data), static_cast<const float*>(in[1].data),
                                                          static_cast<const float*>(b), static_cast<float*>(out[0].data), g_);
        break;
      case DataType::kFloat16:
        conv_transpose_kernel<__half><<<grid, 256, 0, s>>>(static_cast<const __half*>(in[0].data), static_cast<const __half*>(in[1].data),
                                                           static_cast<const __half*>(b), static_cast<__half*>(out[0].data), g_);
        break;
      default:
        conv_transpose_kernel<__nv_bfloat16><<<grid, 256, 0, s>>>(
            static_cast<const __nv_bfloat16*>(in[0].data), static_cast<const __nv_bfloat16*>(in[1].data),
            static_cast<const __nv_bfloat16*>(b), static_cast<__nv_bfloat16*>(out[0].data), g_);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  ConvTGeometry g_;
};

class ConvTransposeTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.conv_transpose"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    ConvTGeometry g;
    return geometry(n, g);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    ConvTGeometry g;
    if (!geometry(*spec.node, g))
      return unsupported(spec.node->describe() + ": not supported by cuda.conv_transpose (1-3 spatial dims, float, "
                                                 "static shapes)");
    return std::unique_ptr<runtime::Kernel>(new ConvTransposeKernel(g));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaConvTranspose, std::make_unique<ConvTransposeTactic>());

}  // namespace kiln::cuda
