// cuda.pool: MaxPool and AveragePool over 2-D NCHW windows (strides, pads, dilations for max,
// count_include_pad for average, ceil_mode via the output shape the graph already holds).
#include <cfloat>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

struct PoolGeometry {
  int64_t nc, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
  bool is_max, count_pad;
  DataType dt;
};

template <typename T>
__global__ void pool_kernel(const T* x, T* y, PoolGeometry g) {
  int64_t n = g.nc * g.oh * g.ow;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t ox = i % g.ow, oy = (i / g.ow) % g.oh, c = i / (g.ow * g.oh);
    const T* plane = x + c * g.h * g.w;
    float acc = g.is_max ? -FLT_MAX : 0.f;
    int count = 0;
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      int64_t iy = oy * g.sh - g.ph + ky * g.dh;
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        int64_t ix = ox * g.sw - g.pw + kx * g.dw;
        bool inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
        if (g.is_max) {
          if (inside) acc = fmaxf(acc, to_float(plane[iy * g.w + ix]));
        } else {
          // count_include_pad counts padding cells, but not cells past the padded input
          // (ceil_mode windows), as ONNX's reference does.
          bool in_padded = iy >= -g.ph && iy < g.h + g.ph && ix >= -g.pw && ix < g.w + g.pw;
          if (inside) acc += to_float(plane[iy * g.w + ix]);
          if (inside || (g.count_pad && in_padded)) ++count;
        }
      }
    }
    y[i] = from_float<T>(g.is_max ? acc : (count ? acc / count : 0.f));
  }
}

bool geometry(const ir::Node& n, PoolGeometry& g) {
  bool is_max = n.op_type() == "MaxPool";
  if ((!is_max && n.op_type() != "AveragePool") || !n.domain().empty() || !all_static(n)) return false;
  if (n.num_outputs() > 1 && n.output(1)) return false;  // MaxPool indices
  auto x = dims_of(n.input(0)), y = dims_of(n.output(0));
  if (x.size() != 4 || y.size() != 4) return false;
  DataType dt = dtype_of(n.input(0));
  if (!is_kernel_float(dt)) return false;
  auto k = n.attrs().get_ints("kernel_shape", {});
  auto s = n.attrs().get_ints("strides", {1, 1});
  auto d = n.attrs().get_ints("dilations", {1, 1});
  if (k.size() != 2 || s.size() != 2 || d.size() != 2) return false;
  if (!is_max && (d[0] != 1 || d[1] != 1)) return false;
  std::string auto_pad = n.attrs().get_string("auto_pad", "NOTSET");
  int64_t ph = 0, pw = 0;
  if (auto_pad == "NOTSET") {
    auto pads = n.attrs().get_ints("pads", {0, 0, 0, 0});
    if (pads.size() != 4) return false;
    ph = pads[0];
    pw = pads[1];
  } else if (auto_pad != "VALID") {
    int64_t th = std::max<int64_t>(0, (y[2] - 1) * s[0] + (k[0] - 1) * d[0] + 1 - x[2]);
    int64_t tw = std::max<int64_t>(0, (y[3] - 1) * s[1] + (k[1] - 1) * d[1] + 1 - x[3]);
    ph = auto_pad == "SAME_UPPER" ? th / 2 : th - th / 2;
    pw = auto_pad == "SAME_UPPER" ? tw / 2 : tw - tw / 2;
  }
  g = {x[0] * x[1], x[2], x[3], y[2], y[3], k[0], k[1], s[0], s[1], ph, pw, d[0], d[1], is_max,
       n.attrs().get_int("count_include_pad", 0) != 0, dt};
  return true;
}

class PoolKernel : public runtime::Kernel {
 public:
  explicit PoolKernel(PoolGeometry g) : g_(g) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    int64_t n = g_.nc * g_.oh * g_.ow;
    if (n == 0) return Status::ok();
    int grid = static_cast<int>(std::min<int64_t>((n + 255) / 256, 132 * 32));
    auto stream = static_cast<cudaStream_t>(launch.stream);
    switch (g_.dt) {
      case DataType::kFloat32:
        pool_kernel<float><<<grid, 256, 0, stream>>>(static_cast<const float*>(in[0].data), static_cast<float*>(out[0].data), g_);
        break;
      case DataType::kFloat16:
        pool_kernel<__half><<<grid, 256, 0, stream>>>(static_cast<const __half*>(in[0].data), static_cast<__half*>(out[0].data), g_);
        break;
      default:
        pool_kernel<__nv_bfloat16><<<grid, 256, 0, stream>>>(static_cast<const __nv_bfloat16*>(in[0].data),
                                                              static_cast<__nv_bfloat16*>(out[0].data), g_);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  PoolGeometry g_;
};

class PoolTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.pool"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    PoolGeometry g;
    return geometry(n, g);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    PoolGeometry g;
    if (!geometry(*spec.node, g)) return unsupported(spec.node->describe() + ": not supported by cuda.pool");
    return std::unique_ptr<runtime::Kernel>(new PoolKernel(g));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaPool, std::make_unique<PoolTactic>());

}  // namespace kiln::cuda
