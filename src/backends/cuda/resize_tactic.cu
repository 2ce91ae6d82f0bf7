// cuda.resize: Resize (opset 10-19) and Upsample (7, 9) in modes nearest and linear over the last
// two dims (NCHW; every leading dim keeps its size), with the coordinate transformation modes
// half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners and asymmetric, every
// nearest_mode, exclude_outside, keep_aspect_ratio_policy, and scales or sizes as constants or
// runtime inputs (then the kernel reads them; the declared output shape is the engine's).
// Each output element recomputes its two taps per axis in double with the same formulas as the
// CPU reference (src/ops/resize.cpp), so the chosen neighbours match it exactly. Not taken:
// cubic, antialias, tf_crop_and_resize, resizing N or C.
#include <cmath>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

enum class Ctm : int { kHalfPixel, kHalfPixelSymmetric, kPytorchHalfPixel, kAlignCorners, kAsymmetric };
enum class Nearest : int { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kSimple };

struct AxisPlan {
  int64_t in = 1, out = 1;
  double scale = 1.0;
  bool identity = true;
};

struct ResizePlan {
  int64_t outer = 1;  // product of the leading dims
  AxisPlan h, w;
  bool linear = false;
  Ctm ctm = Ctm::kHalfPixel;
  Nearest nearest = Nearest::kRoundPreferFloor;
  bool exclude_outside = false;
  DataType dt = DataType::kFloat32;
  // Scales or sizes from a runtime input (as in the ONNX node tests): 1 = float32 scales,
  // 2 = int64 sizes with keep_aspect_ratio_policy not_larger (policy 1) / not_smaller (2).
  // pos_h / pos_w: where the last two dims are in that input (-1: not resized).
  int runtime = 0, policy = 0, n_axes = 0, pos_h = -1, pos_w = -1;
  int64_t axis_in[kMaxRank];  // input dim of each listed axis (sizes with a policy)
};

// Reads constant input i; `runtime` is set when it is a non-empty runtime tensor instead.
bool const_values(const ir::Node& n, size_t i, std::vector<double>& out, bool& given, bool& runtime) {
  given = runtime = false;
  if (n.num_inputs() <= i || !n.input(i)) return true;
  const ir::Value* v = n.input(i);
  if (!v->is_constant()) {
    if (!is_static_tensor(v)) return false;
    int64_t count = 1;
    for (int64_t d : dims_of(v)) count *= d;
    runtime = given = count > 0;  // an empty runtime tensor is "not given"
    if (runtime) out.assign(static_cast<size_t>(count), 0.0);  // placeholders: only the count is known
    return true;
  }
  if (v->constant().numel() == 0) return true;
  out = v->constant().to_f64();
  given = true;
  return true;
}

bool plan_of(const ir::Node& n, ResizePlan& p) {
  const bool upsample = n.op_type() == "Upsample";
  if ((!upsample && n.op_type() != "Resize") || !n.domain().empty() || n.num_outputs() != 1 || !all_static(n)) return false;
  if (!n.input(0) || !n.output(0)) return false;
  DataType dt = dtype_of(n.input(0));
  if (!is_kernel_float(dt) || dtype_of(n.output(0)) != dt) return false;
  auto x = dims_of(n.input(0)), y = dims_of(n.output(0));
  const int64_t rank = static_cast<int64_t>(x.size());
  if (rank < 2 || y.size() != x.size()) return false;
  const auto& a = n.attrs();
  std::string mode = a.get_string("mode", "nearest");
  if (mode == "bilinear" && upsample) mode = "linear";
  if (mode != "nearest" && mode != "linear") return false;
  p.linear = mode == "linear";
  // Old forms (Upsample, Resize-10 with inputs X, scales): asymmetric, nearest "simple".
  const bool old_form = upsample || n.num_inputs() == 2;
  std::string ctm = old_form ? "asymmetric" : a.get_string("coordinate_transformation_mode", "half_pixel");
  std::string nm = old_form ? "simple" : a.get_string("nearest_mode", "round_prefer_floor");
  if (ctm == "half_pixel") p.ctm = Ctm::kHalfPixel;
  else if (ctm == "half_pixel_symmetric") p.ctm = Ctm::kHalfPixelSymmetric;
  else if (ctm == "pytorch_half_pixel") p.ctm = Ctm::kPytorchHalfPixel;
  else if (ctm == "align_corners") p.ctm = Ctm::kAlignCorners;
  else if (ctm == "asymmetric") p.ctm = Ctm::kAsymmetric;
  else return false;  // tf_crop_and_resize
  if (nm == "round_prefer_floor") p.nearest = Nearest::kRoundPreferFloor;
  else if (nm == "round_prefer_ceil") p.nearest = Nearest::kRoundPreferCeil;
  else if (nm == "floor") p.nearest = Nearest::kFloor;
  else if (nm == "ceil") p.nearest = Nearest::kCeil;
  else if (nm == "simple") p.nearest = Nearest::kSimple;
  else return false;
  if (!old_form && (a.get_int("antialias", 0) != 0)) return false;
  p.exclude_outside = !old_form && a.get_int("exclude_outside", 0) != 0;

  // Scales or sizes (constants), over `axes` (opset 18) or every dim.
  std::vector<double> scales, sizes_d;
  bool has_scales = false, has_sizes = false, rt_scales = false, rt_sizes = false;
  size_t scales_input = old_form ? 1 : 2;
  if (upsample && n.num_inputs() < 2) {
    for (float f : a.get_floats("scales", {})) scales.push_back(f);
    has_scales = true;
  } else if (old_form) {
    if (!const_values(n, 1, scales, has_scales, rt_scales) || !has_scales) return false;
  } else {
    if (!const_values(n, 2, scales, has_scales, rt_scales) || !const_values(n, 3, sizes_d, has_sizes, rt_sizes)) return false;
    if (has_scales == has_sizes) return false;
  }
  if (rt_scales && dtype_of(n.input(scales_input)) != DataType::kFloat32) return false;
  if (rt_sizes && dtype_of(n.input(3)) != DataType::kInt64) return false;
  std::vector<int64_t> axes;
  for (int64_t ax : old_form ? std::vector<int64_t>{} : a.get_ints("axes", {})) {
    if (ax < -rank || ax >= rank) return false;
    axes.push_back(ax < 0 ? ax + rank : ax);
  }
  if (axes.empty())
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  std::vector<double> full_scale(static_cast<size_t>(rank), 1.0);
  std::vector<int64_t> full_size = x;
  std::string policy = old_form ? "stretch" : a.get_string("keep_aspect_ratio_policy", "stretch");
  p.runtime = 0;
  p.pos_h = p.pos_w = -1;
  if ((rt_scales && scales.size() != axes.size()) || (rt_sizes && sizes_d.size() != axes.size())) return false;
  if (rt_scales || (rt_sizes && policy != "stretch")) {
    // The scales come from the device at run time; the declared output shape is the engine's.
    if (policy != "stretch" && policy != "not_larger" && policy != "not_smaller") return false;
    p.runtime = rt_scales ? 1 : 2;
    p.policy = policy == "not_larger" ? 1 : policy == "not_smaller" ? 2 : 0;
    p.n_axes = static_cast<int>(axes.size());
    if (p.n_axes > kMaxRank) return false;
    for (size_t i = 0; i < axes.size(); ++i) {
      p.axis_in[i] = x[static_cast<size_t>(axes[i])];
      if (axes[i] == rank - 2) p.pos_h = static_cast<int>(i);
      if (axes[i] == rank - 1) p.pos_w = static_cast<int>(i);
    }
    full_size = y;  // checked below only for the leading dims
  } else if (rt_sizes) {  // stretch: the sizes are the declared output dims
    for (size_t i = 0; i < axes.size(); ++i) {
      size_t ax = static_cast<size_t>(axes[i]);
      if (x[ax] <= 0) return false;
      full_size[ax] = y[ax];
      full_scale[ax] = static_cast<double>(y[ax]) / static_cast<double>(x[ax]);
    }
  } else if (has_scales) {
    if (scales.size() != axes.size()) return false;
    for (size_t i = 0; i < axes.size(); ++i) {
      double s = scales[i];
      if (!(s > 0) || !std::isfinite(s)) return false;
      full_scale[static_cast<size_t>(axes[i])] = s;
      full_size[static_cast<size_t>(axes[i])] = static_cast<int64_t>(std::floor(s * static_cast<double>(x[static_cast<size_t>(axes[i])])));
    }
  } else {
    if (sizes_d.size() != axes.size()) return false;
    for (size_t i = 0; i < axes.size(); ++i) {
      size_t ax = static_cast<size_t>(axes[i]);
      if (x[ax] <= 0 || sizes_d[i] < 0) return false;
      full_size[ax] = static_cast<int64_t>(sizes_d[i]);
      full_scale[ax] = sizes_d[i] / static_cast<double>(x[ax]);
    }
    if (policy != "stretch") {
      if (policy != "not_larger" && policy != "not_smaller") return false;
      double s = full_scale[static_cast<size_t>(axes[0])];
      for (int64_t ax : axes)
        s = policy == "not_larger" ? std::min(s, full_scale[static_cast<size_t>(ax)]) : std::max(s, full_scale[static_cast<size_t>(ax)]);
      for (int64_t ax : axes) {
        full_scale[static_cast<size_t>(ax)] = s;
        full_size[static_cast<size_t>(ax)] = static_cast<int64_t>(s * static_cast<double>(x[static_cast<size_t>(ax)]) + 0.5);
      }
    }
  }
  if (full_size != y) return false;
  // Only the last two dims may change.
  p.outer = 1;
  for (int64_t d = 0; d + 2 < rank; ++d) {
    size_t k = static_cast<size_t>(d);
    if (full_size[k] != x[k] || std::fabs(full_scale[k] - 1.0) > 1e-9) return false;
    p.outer *= x[k];
  }
  auto axis = [&](int64_t d, AxisPlan& ap) {
    size_t k = static_cast<size_t>(d);
    ap.in = x[k];
    ap.out = y[k];
    ap.scale = full_scale[k];
    ap.identity = std::fabs(ap.scale - 1.0) <= 1e-9 && ap.out == ap.in;
    return ap.in > 0 || ap.out == 0;
  };
  if (!axis(rank - 2, p.h) || !axis(rank - 1, p.w)) return false;
  if (p.runtime && (p.h.in == 0 || p.w.in == 0)) return false;
  p.dt = dt;
  return true;
}

// The two taps (input indices and weights) of output index o on one axis.
__host__ __device__ void taps(const ResizePlan& p, const AxisPlan& ax, int64_t o, int64_t idx[2], double w[2]) {
  if (ax.identity) {
    idx[0] = idx[1] = o;
    w[0] = 1;
    w[1] = 0;
    return;
  }
  const double yd = static_cast<double>(o), in_w = static_cast<double>(ax.in), scale = ax.scale;
  const double out_w = scale * in_w;
  double x;
  switch (p.ctm) {
    case Ctm::kAlignCorners: x = out_w == 1 ? 0.0 : yd * (in_w - 1) / (out_w - 1); break;
    case Ctm::kAsymmetric: x = yd / scale; break;
    case Ctm::kPytorchHalfPixel: x = out_w == 1 ? -0.5 : (yd + 0.5) / scale - 0.5; break;
    case Ctm::kHalfPixelSymmetric: {
      double adjustment = static_cast<double>(ax.out) / out_w, center = in_w / 2;
      x = center * (1 - adjustment) + (yd + 0.5) / scale - 0.5;
      break;
    }
    default: x = (yd + 0.5) / scale - 0.5;
  }
  const double xf = floor(x);
  const double ratio = x == xf ? 1.0 : x - xf;
  if (p.linear) {
    w[0] = 1 - ratio;
    w[1] = ratio;
  } else if (ratio == floor(ratio)) {
    w[0] = 0;
    w[1] = 1;
  } else {
    bool second;
    switch (p.nearest) {
      case Nearest::kRoundPreferFloor: second = ratio > 0.5; break;
      case Nearest::kRoundPreferCeil: second = ratio >= 0.5; break;
      case Nearest::kFloor: second = false; break;
      case Nearest::kCeil: second = true; break;
      default: second = scale < 1;
    }
    w[0] = second ? 0 : 1;
    w[1] = second ? 1 : 0;
  }
  // Two taps: pad 1, start = floor(x + 1) + (frac == 0 ? -1 : 0) - 1 (the reference's rule).
  const double xp = x + 1, pf = floor(xp), frac = xp - pf;
  const int64_t start = static_cast<int64_t>(pf) + (frac == 0 ? -1 : 0) - 1;
  idx[0] = start;
  idx[1] = start + 1;
  if (p.exclude_outside) {
    double sum = 0;
    for (int j = 0; j < 2; ++j) {
      if (idx[j] < 0 || idx[j] >= ax.in) w[j] = 0;
      sum += w[j];
    }
    if (sum == 0) sum = 1;
    w[0] /= sum;
    w[1] /= sum;
  }
  for (int j = 0; j < 2; ++j) idx[j] = idx[j] < 0 ? 0 : (idx[j] > ax.in - 1 ? ax.in - 1 : idx[j]);
}

// Scales read from the device (runtime scales or sizes input), as the reference computes them.
__host__ __device__ void apply_runtime_scales(ResizePlan& p, const void* values) {
  double s = 1.0;
  if (p.runtime == 2) {  // sizes with not_larger / not_smaller: one scale for every listed axis
    const int64_t* sizes = static_cast<const int64_t*>(values);
    for (int i = 0; i < p.n_axes; ++i) {
      double si = static_cast<double>(sizes[i]) / static_cast<double>(p.axis_in[i]);
      s = i == 0 ? si : (p.policy == 1 ? fmin(s, si) : fmax(s, si));
    }
  }
  const float* scales = static_cast<const float*>(values);
  AxisPlan* axes[2] = {&p.h, &p.w};
  int pos[2] = {p.pos_h, p.pos_w};
  for (int k = 0; k < 2; ++k) {
    AxisPlan& ax = *axes[k];
    ax.scale = pos[k] < 0 ? 1.0 : (p.runtime == 1 ? static_cast<double>(scales[pos[k]]) : s);
    ax.identity = fabs(ax.scale - 1.0) <= 1e-9 && ax.out == ax.in;
  }
}

template <typename T>
__global__ void resize_kernel(const T* x, T* y, ResizePlan p, const void* runtime_values) {
  if (p.runtime) apply_runtime_scales(p, runtime_values);
  const int64_t n = p.outer * p.h.out * p.w.out;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t ox = i % p.w.out, oy = (i / p.w.out) % p.h.out, c = i / (p.w.out * p.h.out);
    int64_t iy[2], ix[2];
    double wy[2], wx[2];
    taps(p, p.h, oy, iy, wy);
    taps(p, p.w, ox, ix, wx);
    const T* plane = x + c * p.h.in * p.w.in;
    double acc = 0;
    for (int j = 0; j < 2; ++j) {
      if (wy[j] == 0) continue;
      double row = 0;
      for (int k = 0; k < 2; ++k)
        if (wx[k] != 0) row += wx[k] * static_cast<double>(to_float(plane[iy[j] * p.w.in + ix[k]]));
      acc += wy[j] * row;
    }
    y[i] = from_float<T>(static_cast<float>(acc));
  }
}

class ResizeKernel : public runtime::Kernel {
 public:
  explicit ResizeKernel(ResizePlan p) : p_(p) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    const int64_t n = p_.outer * p_.h.out * p_.w.out;
    if (n == 0) return Status::ok();
    const void* values = nullptr;
    if (p_.runtime) {
      size_t k = p_.runtime == 2 ? 3 : (in.size() == 2 ? 1 : 2);
      if (in.size() <= k || !in[k].data) return invalid_argument("Resize: the scales/sizes input is missing");
      values = in[k].data;
    }
    int grid = static_cast<int>(std::min<int64_t>((n + 255) / 256, 132 * 32));
    auto s = static_cast<cudaStream_t>(launch.stream);
    switch (p_.dt) {
      case DataType::kFloat32:
        resize_kernel<float><<<grid, 256, 0, s>>>(static_cast<const float*>(in[0].data), static_cast<float*>(out[0].data), p_, values);
        break;
      case DataType::kFloat16:
        resize_kernel<__half><<<grid, 256, 0, s>>>(static_cast<const __half*>(in[0].data), static_cast<__half*>(out[0].data), p_, values);
        break;
      default:
        resize_kernel<__nv_bfloat16><<<grid, 256, 0, s>>>(static_cast<const __nv_bfloat16*>(in[0].data),
                                                           static_cast<__nv_bfloat16*>(out[0].data), p_, values);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  ResizePlan p_;
};

class ResizeTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.resize"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    ResizePlan p;
    return plan_of(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    ResizePlan p;
    if (!plan_of(*spec.node, p))
      return unsupported(spec.node->describe() + ": not supported by cuda.resize (nearest/linear over the last two dims, "
                                                 "constant or runtime scales/sizes, no antialias or tf_crop_and_resize)");
    return std::unique_ptr<runtime::Kernel>(new ResizeKernel(p));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaResize, std::make_unique<ResizeTactic>());

}  // namespace kiln::cuda
