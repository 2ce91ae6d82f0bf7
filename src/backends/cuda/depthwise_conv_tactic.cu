// cuda.depthwise_conv: depthwise 2-D convolutions (group == C == K, MobileNet's 3x3 layers) on
// channels-last tensors, with kiln::FusedConv's epilogue act(conv + bias + Z) in the same pass.
// Such a layer does ~9 multiply-adds per loaded element: it is bound by memory traffic, where
// cuDNN's NHWC depthwise kernels ran at a small fraction of it (bench/NOTES.md). One thread per
// output pixel and 8 (float16/bfloat16) or 4 (float32) channels: 16-byte loads of input and of
// the weights, which the kernel keeps repacked [R][S][C] in its own device buffer.
#include <cfloat>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/epilogue.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

struct DwGeometry {
  int n, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
  bool bias, residual;
  PointwiseOp act;
  PointwiseParams params;
};

template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

// wt: [kh][kw][C]. Inputs, output and residual channels-last [N][H][W][C].
template <typename T, int V>
__global__ void depthwise_nhwc_kernel(const T* __restrict__ x, const T* __restrict__ wt, const T* __restrict__ bias,
                                      const T* __restrict__ z, T* __restrict__ y, DwGeometry g) {
  const int cv = g.c / V;
  const int total = g.n * g.oh * g.ow * cv;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    int p = i / cv;
    const int c0 = (i - p * cv) * V;
    const int ox = p % g.ow;
    p /= g.ow;
    const int oy = p % g.oh, n = p / g.oh;
    float acc[V];
    if (g.bias) {
      Pack<T, V> b = *reinterpret_cast<const Pack<T, V>*>(bias + c0);
      for (int k = 0; k < V; ++k) acc[k] = to_float(b.v[k]);
    } else {
      for (int k = 0; k < V; ++k) acc[k] = 0.f;
    }
    for (int ky = 0; ky < g.kh; ++ky) {
      const int iy = oy * g.sh - g.ph + ky * g.dh;
      if (iy < 0 || iy >= g.h) continue;
      for (int kx = 0; kx < g.kw; ++kx) {
        const int ix = ox * g.sw - g.pw + kx * g.dw;
        if (ix < 0 || ix >= g.w) continue;
        Pack<T, V> xv = *reinterpret_cast<const Pack<T, V>*>(x + ((n * g.h + iy) * g.w + ix) * g.c + c0);
        Pack<T, V> wv = *reinterpret_cast<const Pack<T, V>*>(wt + (ky * g.kw + kx) * g.c + c0);
        for (int k = 0; k < V; ++k) acc[k] = fmaf(to_float(xv.v[k]), to_float(wv.v[k]), acc[k]);
      }
    }
    Pack<T, V> zv;
    if (g.residual) zv = *reinterpret_cast<const Pack<T, V>*>(z + static_cast<int64_t>(i) * V);
    Pack<T, V> out;
    for (int k = 0; k < V; ++k) {
      float v = acc[k] + (g.residual ? to_float(zv.v[k]) : 0.f);
      out.v[k] = from_float<T>(apply_pointwise(g.act, v, 0.f, g.params));
    }
    *reinterpret_cast<Pack<T, V>*>(y + static_cast<int64_t>(i) * V) = out;
  }
}

int vector_width(DataType dt) { return dt == DataType::kFloat32 ? 4 : 8; }

// The node's geometry when this tactic runs it: depthwise, channels-last, constant weights.
bool geometry(const ir::Node& n, DwGeometry& g) {
  bool fused = n.domain() == "kiln" && n.op_type() == "FusedConv";
  if (!fused && (n.op_type() != "Conv" || !n.domain().empty())) return false;
  if (!all_static(n) || !n.input(0) || !n.input(1) || !n.input(1)->is_constant()) return false;
  auto x = dims_of(n.input(0)), wt = dims_of(n.input(1)), y = dims_of(n.output(0));
  if (x.size() != 4 || wt.size() != 4 || y.size() != 4) return false;
  DataType dt = dtype_of(n.output(0));
  if (!is_kernel_float(dt) || dtype_of(n.input(0)) != dt || dtype_of(n.input(1)) != dt) return false;
  const int64_t c = x[1];
  if (n.attrs().get_int("group", 1) != c || wt[0] != c || wt[1] != 1 || y[1] != c || c % vector_width(dt) != 0) return false;
  // Channels-last activations (a [N,C,1,1] output is layout-neutral).
  if (!is_nhwc(n.input(0)) || (!is_nhwc(n.output(0)) && !layout_neutral(y))) return false;
  for (int64_t v : {x[0] * x[1] * x[2] * x[3], y[0] * y[1] * y[2] * y[3]})
    if (v >= (int64_t{1} << 31)) return false;
  auto stride = n.attrs().get_ints("strides", {1, 1}), dil = n.attrs().get_ints("dilations", {1, 1});
  if (stride.size() != 2 || dil.size() != 2) return false;
  int64_t ph = 0, pw = 0;
  std::string auto_pad = n.attrs().get_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    auto pads = n.attrs().get_ints("pads", {0, 0, 0, 0});
    if (pads.size() != 4) return false;
    ph = pads[0];
    pw = pads[1];
  } else if (auto_pad != "VALID") {
    int64_t th = std::max<int64_t>(0, (y[2] - 1) * stride[0] + (wt[2] - 1) * dil[0] + 1 - x[2]);
    int64_t tw = std::max<int64_t>(0, (y[3] - 1) * stride[1] + (wt[3] - 1) * dil[1] + 1 - x[3]);
    ph = auto_pad == "SAME_UPPER" ? th / 2 : th - th / 2;
    pw = auto_pad == "SAME_UPPER" ? tw / 2 : tw - tw / 2;
  }
  Epilogue e;
  bool residual = false;
  if (fused) {
    if (!epilogue_from_node(n, e)) return false;
    if (const ir::Value* z = n.input(3)) {
      if (dims_of(z) != y || dtype_of(z) != dt || (!is_nhwc(z) && !layout_neutral(y))) return false;
      residual = true;
    }
  }
  bool bias = false;
  if (const ir::Value* b = n.input(2)) {
    if (dims_of(b) != std::vector<int64_t>{c} || dtype_of(b) != dt) return false;
    bias = true;
  }
  auto i32 = [](int64_t v) { return static_cast<int>(v); };
  g = {i32(x[0]), i32(c), i32(x[2]), i32(x[3]), i32(y[2]), i32(y[3]), i32(wt[2]), i32(wt[3]), i32(stride[0]),
       i32(stride[1]), i32(ph), i32(pw), i32(dil[0]), i32(dil[1]), bias, residual, e.act, e.params};
  return true;
}

class DepthwiseKernel : public runtime::Kernel {
 public:
  DepthwiseKernel(DwGeometry g, DataType dt) : g_(g), dt_(dt) {}
  ~DepthwiseKernel() override {
    if (weights_) cudaFree(weights_);
  }

  // Uploads the weights [C,1,R,S] repacked [R][S][C].
  Status upload(const Tensor& w) {
    const size_t es = dtype_size(dt_);
    const int64_t c = g_.c, taps = int64_t{g_.kh} * g_.kw;
    std::vector<unsigned char> packed(w.nbytes());
    const auto* src = static_cast<const unsigned char*>(w.raw());
    for (int64_t k = 0; k < c; ++k)
      for (int64_t t = 0; t < taps; ++t)
        std::memcpy(packed.data() + (t * c + k) * es, src + (k * taps + t) * es, es);
    KILN_CUDA_CHECK(cudaMalloc(&weights_, packed.size()));
    KILN_CUDA_CHECK(cudaMemcpy(weights_, packed.data(), packed.size(), cudaMemcpyHostToDevice));
    return Status::ok();
  }

  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    for (const void* p : {in[0].data, out[0].data, g_.bias ? in[2].data : nullptr, g_.residual ? in[3].data : nullptr})
      if (reinterpret_cast<uintptr_t>(p) % 16 != 0)
        return internal_error("cuda.depthwise_conv: a tensor is not 16-byte aligned");
    const int64_t threads = int64_t{g_.n} * g_.oh * g_.ow * g_.c / vector_width(dt_);
    if (threads == 0) return Status::ok();
    const int grid = static_cast<int>(std::min<int64_t>((threads + 255) / 256, 132 * 32));
    auto stream = static_cast<cudaStream_t>(launch.stream);
    auto run = [&](auto tag, auto width) {
      using T = decltype(tag);
      constexpr int V = decltype(width)::value;
      depthwise_nhwc_kernel<T, V><<<grid, 256, 0, stream>>>(
          static_cast<const T*>(in[0].data), static_cast<const T*>(weights_),
          g_.bias ? static_cast<const T*>(in[2].data) : nullptr, g_.residual ? static_cast<const T*>(in[3].data) : nullptr,
          static_cast<T*>(out[0].data), g_);
    };
    switch (dt_) {
      case DataType::kFloat32: run(float{}, std::integral_constant<int, 4>{}); break;
      case DataType::kFloat16: run(__half{}, std::integral_constant<int, 8>{}); break;
      default: run(__nv_bfloat16{}, std::integral_constant<int, 8>{}); break;
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  DwGeometry g_;
  DataType dt_;
  void* weights_ = nullptr;
};

class DepthwiseTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.depthwise_conv"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool handles_channels_last() const override { return true; }
  int preference() const override { return 1; }  // over cuda.cudnn.conv
  bool supports(const ir::Node& n) const override {
    DwGeometry g;
    return geometry(n, g);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    DwGeometry g;
    if (!geometry(*spec.node, g)) return unsupported(spec.node->describe() + ": not a channels-last depthwise convolution");
    auto kernel = std::make_unique<DepthwiseKernel>(g, dtype_of(spec.node->output(0)));
    KILN_RETURN_IF_ERROR(kernel->upload(spec.node->input(1)->constant()).with_context(spec.node->describe()));
    return std::unique_ptr<runtime::Kernel>(std::move(kernel));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaDepthwiseConv, std::make_unique<DepthwiseTactic>());

}  // namespace kiln::cuda
