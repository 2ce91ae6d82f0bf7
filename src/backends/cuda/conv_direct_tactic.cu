// cuda.conv_direct: Conv over 1 to 3 spatial dims as a direct gather kernel, for the nodes
// cuda.cudnn.conv does not take (weights or bias computed at run time, 1-D or 3-D shapes its
// plans refuse, float64...). Geometry (auto_pad, dilations, groups) from the CPU reference's
// window helpers; float accumulation (double for float64). Correct, not fast.
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "ops/common/window.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

constexpr int kMaxSpatial = 3;

struct ConvPlan {
  int nd = 0;
  int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1, cg = 0, mg = 0;
  int64_t in[kMaxSpatial], out[kMaxSpatial], kernel[kMaxSpatial], stride[kMaxSpatial], dilation[kMaxSpatial],
      pad[kMaxSpatial];
  bool bias = false;
  DataType dt = DataType::kFloat32;
};

bool plan_of(const ir::Node& n, ConvPlan& p) {
  if (n.op_type() != "Conv" || !n.domain().empty() || n.num_inputs() < 2 || n.num_inputs() > 3 || n.num_outputs() != 1 ||
      !n.input(0) || !n.input(1) || !n.output(0) || !all_static(n))
    return false;
  if (const runtime::Tactic* cudnn = runtime::TacticRegistry::global().find("cuda.cudnn.conv"); cudnn && cudnn->supports(n))
    return false;
  DataType dt = dtype_of(n.input(0));
  if ((!is_kernel_float(dt) && dt != DataType::kFloat64) || dtype_of(n.input(1)) != dt || dtype_of(n.output(0)) != dt) return false;
  p.bias = n.num_inputs() > 2 && n.input(2);
  if (p.bias && dtype_of(n.input(2)) != dt) return false;
  auto x = dims_of(n.input(0)), w = dims_of(n.input(1)), y = dims_of(n.output(0));
  if (x.size() < 3 || x.size() > 2 + kMaxSpatial || w.size() != x.size() || y.size() != x.size()) return false;
  p.nd = static_cast<int>(x.size() - 2);
  p.batch = x[0];
  p.in_channels = x[1];
  p.out_channels = w[0];
  p.group = n.attrs().get_int("group", 1);
  if (p.group < 1 || p.in_channels % p.group != 0 || p.out_channels % p.group != 0 || w[1] != p.in_channels / p.group) return false;
  p.cg = p.in_channels / p.group;
  p.mg = p.out_channels / p.group;
  if (y[0] != p.batch || y[1] != p.out_channels) return false;
  if (p.bias) {
    auto b = dims_of(n.input(2));
    if (b.size() != 1 || b[0] != p.out_channels) return false;
  }
  std::vector<int64_t> in(x.begin() + 2, x.end()), wk(w.begin() + 2, w.end()), out;
  ops::WindowParams win;
  try {
    win = ops::read_window_params(n.attrs(), in.size(), wk, false);
    if (win.kernel != wk) return false;
    out = ops::resolve_window(win, in);
  } catch (const std::exception&) {
    return false;
  }
  for (int d = 0; d < p.nd; ++d) {
    if (out[static_cast<size_t>(d)] != y[static_cast<size_t>(d) + 2]) return false;
    p.in[d] = in[static_cast<size_t>(d)];
    p.out[d] = out[static_cast<size_t>(d)];
    p.kernel[d] = wk[static_cast<size_t>(d)];
    p.stride[d] = win.strides[static_cast<size_t>(d)];
    p.dilation[d] = win.dilations[static_cast<size_t>(d)];
    p.pad[d] = win.pads[static_cast<size_t>(d)];
  }
  p.dt = dt;
  return true;
}

// Output element i; `load(tensor, index)` reads x (0), w (1) or b (2) as the accumulator type.
template <typename C, typename Load>
__host__ __device__ C conv_value(const ConvPlan& p, int64_t i, Load load) {
  int64_t out_size = 1, in_size = 1, ksize = 1;
  for (int d = 0; d < p.nd; ++d) {
    out_size *= p.out[d];
    in_size *= p.in[d];
    ksize *= p.kernel[d];
  }
  int64_t o[kMaxSpatial] = {0, 0, 0};
  int64_t rest = i % out_size;
  for (int d = p.nd - 1; d >= 0; --d) {
    o[d] = rest % p.out[d];
    rest /= p.out[d];
  }
  const int64_t oc = (i / out_size) % p.out_channels, n = i / (out_size * p.out_channels);
  const int64_t grp = oc / p.mg;
  C acc = p.bias ? load(2, oc) : C(0);
  for (int64_t kk = 0; kk < ksize; ++kk) {
    int64_t krest = kk, in_off = 0;
    int64_t k[kMaxSpatial] = {0, 0, 0};
    for (int d = p.nd - 1; d >= 0; --d) {
      k[d] = krest % p.kernel[d];
      krest /= p.kernel[d];
    }
    bool valid = true;
    for (int d = 0; d < p.nd && valid; ++d) {
      const int64_t pos = o[d] * p.stride[d] - p.pad[d] + k[d] * p.dilation[d];
      if (pos < 0 || pos >= p.in[d]) valid = false;
      else in_off = in_off * p.in[d] + pos;
    }
    if (!valid) continue;
    for (int64_t c = 0; c < p.cg; ++c)
      acc += load(0, (n * p.in_channels + grp * p.cg + c) * in_size + in_off) * load(1, (oc * p.cg + c) * ksize + kk);
  }
  return acc;
}

__device__ inline double to_c(double v) { return v; }
template <typename T>
__device__ inline float to_c(T v) { return to_float(v); }

template <typename T>
__global__ void conv_direct_kernel(const T* x, const T* w, const T* b, T* y, ConvPlan p, int64_t total) {
  using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
  const T* src[3] = {x, w, b};
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    C v = conv_value<C>(p, i, [&src](int t, int64_t j) -> C { return to_c(src[t][j]); });
    if constexpr (std::is_same_v<T, double>) y[i] = v;
    else y[i] = from_float<T>(v);
  }
}

class ConvDirectKernel : public runtime::Kernel {
 public:
  explicit ConvDirectKernel(ConvPlan p) : p_(p) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    int64_t total = p_.batch * p_.out_channels;
    for (int d = 0; d < p_.nd; ++d) total *= p_.out[d];
    if (total == 0) return Status::ok();
    int grid = static_cast<int>(std::min<int64_t>((total + 255) / 256, 132 * 32));
    auto s = static_cast<cudaStream_t>(launch.stream);
    const void* b = p_.bias && in.size() > 2 ? in[2].data : nullptr;
    if (p_.bias && !b) return invalid_argument("Conv: the bias input is missing");
    switch (p_.dt) {
      case DataType::kFloat32:
        conv_direct_kernel<float><<<grid, 256, 0, s>>>(static_cast<const float*>(in[0].data), static_cast<const float*>(in[1].data),
                                                       static_cast<const float*>(b), static_cast<float*>(out[0].data), p_, total);
        break;
      case DataType::kFloat16:
        conv_direct_kernel<__half><<<grid, 256, 0, s>>>(static_cast<const __half*>(in[0].data), static_cast<const __half*>(in[1].data),
                                                        static_cast<const __half*>(b), static_cast<__half*>(out[0].data), p_, total);
        break;
      case DataType::kBFloat16:
        conv_direct_kernel<__nv_bfloat16><<<grid, 256, 0, s>>>(
            static_cast<const __nv_bfloat16*>(in[0].data), static_cast<const __nv_bfloat16*>(in[1].data),
            static_cast<const __nv_bfloat16*>(b), static_cast<__nv_bfloat16*>(out[0].data), p_, total);
        break;
      default:
        conv_direct_kernel<double><<<grid, 256, 0, s>>>(static_cast<const double*>(in[0].data), static_cast<const double*>(in[1].data),
                                                        static_cast<const double*>(b), static_cast<double*>(out[0].data), p_, total);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  ConvPlan p_;
};

class ConvDirectTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.conv_direct"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    ConvPlan p;
    return plan_of(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    ConvPlan p;
    if (!plan_of(*spec.node, p))
      return unsupported(spec.node->describe() + ": not supported by cuda.conv_direct (1-3 spatial dims, float, static shapes)");
    return std::unique_ptr<runtime::Kernel>(new ConvDirectKernel(p));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaConvDirect, std::make_unique<ConvDirectTactic>());

}  // namespace kiln::cuda
