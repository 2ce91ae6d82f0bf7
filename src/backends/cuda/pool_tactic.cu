// cuda.pool: MaxPool and AveragePool over 2-D windows (strides, pads, dilations for max,
// count_include_pad for average, ceil_mode via the output shape the graph already holds), on
// NCHW or channels-last (NHWC) tensors; and the global pools on channels-last inputs (row-major
// ones are cuda.rowwise's). NHWC: one thread per output element, consecutive threads on
// consecutive channels, so every window read is coalesced.
#include <cfloat>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

struct PoolGeometry {
  int64_t n, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
  bool is_max, count_pad, nhwc;
  DataType dt;
};

template <typename T>
__global__ void pool_kernel(const T* x, T* y, PoolGeometry g) {
  int64_t total = g.n * g.c * g.oh * g.ow;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t ox, oy, c, n;
    if (g.nhwc) {
      c = i % g.c, ox = (i / g.c) % g.ow, oy = (i / (g.c * g.ow)) % g.oh, n = i / (g.c * g.ow * g.oh);
    } else {
      ox = i % g.ow, oy = (i / g.ow) % g.oh, c = (i / (g.ow * g.oh)) % g.c, n = i / (g.ow * g.oh * g.c);
    }
    // Element (iy, ix) of this channel's plane is plane[(iy * w + ix) * step].
    const int64_t step = g.nhwc ? g.c : 1;
    const T* plane = g.nhwc ? x + n * g.h * g.w * g.c + c : x + (n * g.c + c) * g.h * g.w;
    float acc = g.is_max ? -FLT_MAX : 0.f;
    int count = 0;
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      int64_t iy = oy * g.sh - g.ph + ky * g.dh;
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        int64_t ix = ox * g.sw - g.pw + kx * g.dw;
        bool inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
        if (g.is_max) {
          if (inside) acc = fmaxf(acc, to_float(plane[(iy * g.w + ix) * step]));
        } else {
          // count_include_pad counts padding cells, but not cells past the padded input
          // (ceil_mode windows), as ONNX's reference does.
          bool in_padded = iy >= -g.ph && iy < g.h + g.ph && ix >= -g.pw && ix < g.w + g.pw;
          if (inside) acc += to_float(plane[(iy * g.w + ix) * step]);
          if (inside || (g.count_pad && in_padded)) ++count;
        }
      }
    }
    y[i] = from_float<T>(g.is_max ? acc : (count ? acc / count : 0.f));
  }
}

// Global pools on a channels-last input: one window covering the whole plane.
// Channels-last with C a multiple of V: one thread per output pixel and V channels, 16-byte
// loads, 32-bit index math (the caller checks the sizes fit).
template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <typename T, int V>
__global__ void pool_nhwc_vec_kernel(const T* __restrict__ x, T* __restrict__ y, PoolGeometry g) {
  const int cv = static_cast<int>(g.c / V), ow = static_cast<int>(g.ow), oh = static_cast<int>(g.oh);
  const int h = static_cast<int>(g.h), w = static_cast<int>(g.w), c = static_cast<int>(g.c);
  const int total = static_cast<int>(g.n) * oh * ow * cv;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    int p = i / cv;
    const int c0 = (i - p * cv) * V;
    const int ox = p % ow;
    p /= ow;
    const int oy = p % oh, n = p / oh;
    float acc[V];
    for (int k = 0; k < V; ++k) acc[k] = g.is_max ? -FLT_MAX : 0.f;
    int count = 0;
    for (int ky = 0; ky < g.kh; ++ky) {
      const int iy = oy * static_cast<int>(g.sh) - static_cast<int>(g.ph) + ky * static_cast<int>(g.dh);
      for (int kx = 0; kx < g.kw; ++kx) {
        const int ix = ox * static_cast<int>(g.sw) - static_cast<int>(g.pw) + kx * static_cast<int>(g.dw);
        const bool inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
        if (inside) {
          Pack<T, V> v = *reinterpret_cast<const Pack<T, V>*>(x + ((n * h + iy) * w + ix) * c + c0);
          for (int k = 0; k < V; ++k) acc[k] = g.is_max ? fmaxf(acc[k], to_float(v.v[k])) : acc[k] + to_float(v.v[k]);
        }
        if (!g.is_max) {
          const bool in_padded = iy >= -g.ph && iy < h + g.ph && ix >= -g.pw && ix < w + g.pw;
          if (inside || (g.count_pad && in_padded)) ++count;
        }
      }
    }
    Pack<T, V> out;
    for (int k = 0; k < V; ++k) out.v[k] = from_float<T>(g.is_max ? acc[k] : (count ? acc[k] / count : 0.f));
    *reinterpret_cast<Pack<T, V>*>(y + static_cast<int64_t>(i) * V) = out;
  }
}

// Global pooling over channels-last [N, H, W, C] into [N, C]: one thread per (n, 16 bytes of
// channels) walking the H*W pixels, unrolled so that several loads are in flight (the general
// kernel's runtime window loop kept one: ResNet-50's 7x7x2048 average took twice its copy time).
template <typename T, int V>
__global__ void global_pool_nhwc_kernel(const T* __restrict__ x, T* __restrict__ y, int n, int hw, int c,
                                        bool is_max) {
  const int cv = c / V, total = n * cv;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const int b = i / cv, c0 = (i - b * cv) * V;
    const T* base = x + static_cast<int64_t>(b) * hw * c + c0;
    float acc[V];
    for (int k = 0; k < V; ++k) acc[k] = is_max ? -FLT_MAX : 0.f;
#pragma unroll 8
    for (int p = 0; p < hw; ++p) {
      Pack<T, V> v = *reinterpret_cast<const Pack<T, V>*>(base + static_cast<int64_t>(p) * c);
      for (int k = 0; k < V; ++k) acc[k] = is_max ? fmaxf(acc[k], to_float(v.v[k])) : acc[k] + to_float(v.v[k]);
    }
    Pack<T, V> out;
    for (int k = 0; k < V; ++k) out.v[k] = from_float<T>(is_max ? acc[k] : acc[k] / hw);
    *reinterpret_cast<Pack<T, V>*>(y + static_cast<int64_t>(i) * V) = out;
  }
}

bool global_geometry(const ir::Node& n, PoolGeometry& g) {
  if (!is_nhwc(n.input(0)) || is_nhwc(n.output(0))) return false;  // the [N,C,1,1] output is layout-neutral
  auto x = dims_of(n.input(0));
  DataType dt = dtype_of(n.input(0));
  if (x.size() != 4 || !is_kernel_float(dt) || dtype_of(n.output(0)) != dt) return false;
  bool is_max = n.op_type() == "GlobalMaxPool";
  g = {x[0], x[1], x[2], x[3], 1, 1, x[2], x[3], 1, 1, 0, 0, 1, 1, is_max, false, true, dt};
  return true;
}

bool geometry(const ir::Node& n, PoolGeometry& g) {
  if (!n.domain().empty() || !all_static(n) || n.num_inputs() < 1 || !n.input(0)) return false;
  if (n.op_type() == "GlobalAveragePool" || n.op_type() == "GlobalMaxPool") return global_geometry(n, g);
  bool is_max = n.op_type() == "MaxPool";
  if (!is_max && n.op_type() != "AveragePool") return false;
  if (n.num_outputs() > 1 && n.output(1)) return false;  // MaxPool indices
  auto x = dims_of(n.input(0)), y = dims_of(n.output(0));
  if (x.size() != 4 || y.size() != 4) return false;
  DataType dt = dtype_of(n.input(0));
  if (!is_kernel_float(dt)) return false;
  // Channels-last in and out, or row-major in and out (layout-neutral tensors read either way).
  bool nhwc = is_nhwc(n.input(0)) || is_nhwc(n.output(0));
  if (nhwc && !((is_nhwc(n.input(0)) || layout_neutral(x)) && (is_nhwc(n.output(0)) || layout_neutral(y)))) return false;
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
  g = {x[0], x[1], x[2], x[3], y[2], y[3], k[0], k[1], s[0], s[1], ph, pw, d[0], d[1], is_max,
       n.attrs().get_int("count_include_pad", 0) != 0, nhwc, dt};
  return true;
}

class PoolKernel : public runtime::Kernel {
 public:
  explicit PoolKernel(PoolGeometry g) : g_(g) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    int64_t n = g_.n * g_.c * g_.oh * g_.ow;
    if (n == 0) return Status::ok();
    int grid = static_cast<int>(std::min<int64_t>((n + 255) / 256, 132 * 32));
    auto stream = static_cast<cudaStream_t>(launch.stream);
    if (launch_vectorized(in[0].data, out[0].data, stream)) {
      KILN_CUDA_CHECK_LAUNCH();
      return Status::ok();
    }
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
  // The 16-byte channels-last kernel where it applies; false to take the general one.
  bool launch_vectorized(const void* x, void* y, cudaStream_t stream) const {
    const int v = g_.dt == DataType::kFloat32 ? 4 : 8;
    const int64_t in_elems = g_.n * g_.h * g_.w * g_.c, out_elems = g_.n * g_.oh * g_.ow * g_.c;
    if (!g_.nhwc || g_.c % v != 0 || in_elems >= (int64_t{1} << 31) || out_elems >= (int64_t{1} << 31)) return false;
    if (reinterpret_cast<uintptr_t>(x) % 16 != 0 || reinterpret_cast<uintptr_t>(y) % 16 != 0) return false;
    const int64_t threads = out_elems / v;
    const int grid = static_cast<int>(std::min<int64_t>((threads + 255) / 256, 132 * 32));
    if (global()) {
      const int n = static_cast<int>(g_.n), hw = static_cast<int>(g_.h * g_.w), c = static_cast<int>(g_.c);
      switch (g_.dt) {
        case DataType::kFloat32:
          global_pool_nhwc_kernel<float, 4><<<grid, 256, 0, stream>>>(static_cast<const float*>(x), static_cast<float*>(y),
                                                                      n, hw, c, g_.is_max);
          break;
        case DataType::kFloat16:
          global_pool_nhwc_kernel<__half, 8><<<grid, 256, 0, stream>>>(static_cast<const __half*>(x),
                                                                       static_cast<__half*>(y), n, hw, c, g_.is_max);
          break;
        default:
          global_pool_nhwc_kernel<__nv_bfloat16, 8><<<grid, 256, 0, stream>>>(
              static_cast<const __nv_bfloat16*>(x), static_cast<__nv_bfloat16*>(y), n, hw, c, g_.is_max);
      }
      return true;
    }
    switch (g_.dt) {
      case DataType::kFloat32:
        pool_nhwc_vec_kernel<float, 4><<<grid, 256, 0, stream>>>(static_cast<const float*>(x), static_cast<float*>(y), g_);
        break;
      case DataType::kFloat16:
        pool_nhwc_vec_kernel<__half, 8><<<grid, 256, 0, stream>>>(static_cast<const __half*>(x), static_cast<__half*>(y), g_);
        break;
      default:
        pool_nhwc_vec_kernel<__nv_bfloat16, 8><<<grid, 256, 0, stream>>>(static_cast<const __nv_bfloat16*>(x),
                                                                          static_cast<__nv_bfloat16*>(y), g_);
    }
    return true;
  }

  // One window over the whole image, unpadded (the global pools; an AveragePool shaped so too).
  bool global() const {
    return g_.oh == 1 && g_.ow == 1 && g_.kh == g_.h && g_.kw == g_.w && g_.ph == 0 && g_.pw == 0 && g_.dh == 1 &&
           g_.dw == 1;
  }

  PoolGeometry g_;
};

class PoolTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.pool"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool handles_channels_last() const override { return true; }
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
