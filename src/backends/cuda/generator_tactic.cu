// cuda.generator: Range (the length is the static output dim; start and delta are read on the
// device, constant or not) for float32/float64/int16/int32/int64, and OneHot (depth from the
// static output shape; indices int32/int64/float32, negative ones counted from the end; the
// [off, on] values of any 1/2/4/8-byte dtype read on the device).
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

enum class GenKind : int { kF32, kF64, kI16, kI32, kI64 };

struct GenPlan {
  bool one_hot = false;
  int64_t n = 0;  // output elements
  GenKind kind = GenKind::kF32;
  // OneHot: output viewed as [outer, depth, inner].
  int64_t outer = 1, depth = 1, inner = 1;
  DataType index_dt = DataType::kInt64;
  size_t elem = 0;
};

bool plan_of(const ir::Node& n, GenPlan& p) {
  const std::string& t = n.op_type();
  if (!n.domain().empty() || n.num_inputs() != 3 || n.num_outputs() != 1 || !n.output(0) || !all_static(n)) return false;
  for (int i = 0; i < 3; ++i)
    if (!n.input(i)) return false;
  auto y = dims_of(n.output(0));
  p.n = 1;
  for (int64_t d : y) p.n *= d;
  if (t == "Range") {
    p.one_hot = false;
    DataType dt = dtype_of(n.output(0));
    switch (dt) {
      case DataType::kFloat32: p.kind = GenKind::kF32; break;
      case DataType::kFloat64: p.kind = GenKind::kF64; break;
      case DataType::kInt16: p.kind = GenKind::kI16; break;
      case DataType::kInt32: p.kind = GenKind::kI32; break;
      case DataType::kInt64: p.kind = GenKind::kI64; break;
      default: return false;
    }
    for (int i = 0; i < 3; ++i) {
      if (dtype_of(n.input(i)) != dt) return false;
      int64_t count = 1;
      for (int64_t d : dims_of(n.input(i))) count *= d;
      if (count != 1) return false;
    }
    return y.size() == 1;
  }
  if (t != "OneHot") return false;
  p.one_hot = true;
  p.index_dt = dtype_of(n.input(0));
  if (p.index_dt != DataType::kInt64 && p.index_dt != DataType::kInt32 && p.index_dt != DataType::kFloat32) return false;
  DataType vt = dtype_of(n.input(2));
  if (dtype_of(n.output(0)) != vt || is_sub_byte(vt) || vt == DataType::kString) return false;
  p.elem = dtype_size(vt);
  if (p.elem != 1 && p.elem != 2 && p.elem != 4 && p.elem != 8) return false;
  int64_t vcount = 1;
  for (int64_t d : dims_of(n.input(2))) vcount *= d;
  if (vcount != 2) return false;
  auto ind = dims_of(n.input(0));
  const int64_t r = static_cast<int64_t>(ind.size());
  if (static_cast<int64_t>(y.size()) != r + 1) return false;
  int64_t axis = n.attrs().get_int("axis", -1);
  if (axis < -r - 1 || axis > r) return false;
  if (axis < 0) axis += r + 1;
  p.outer = 1;
  p.inner = 1;
  for (int64_t d = 0; d < axis; ++d) p.outer *= ind[static_cast<size_t>(d)];
  for (int64_t d = axis; d < r; ++d) p.inner *= ind[static_cast<size_t>(d)];
  p.depth = y[static_cast<size_t>(axis)];
  for (int64_t d = 0; d < r; ++d)
    if (y[static_cast<size_t>(d < axis ? d : d + 1)] != ind[static_cast<size_t>(d)]) return false;
  return p.depth > 0;
}

// Index value i of OneHot's indices as the slot it selects, or -1.
__host__ __device__ inline int64_t one_hot_slot(const GenPlan& p, const void* indices, int64_t i) {
  double v;
  if (p.index_dt == DataType::kInt64) v = static_cast<double>(static_cast<const int64_t*>(indices)[i]);
  else if (p.index_dt == DataType::kInt32) v = static_cast<const int32_t*>(indices)[i];
  else v = static_cast<const float*>(indices)[i];
  if (v < 0) v += static_cast<double>(p.depth);
  return isfinite(v) && v >= 0 && v < static_cast<double>(p.depth) ? static_cast<int64_t>(v) : -1;
}

template <typename T>
__global__ void one_hot_kernel(const void* indices, const T* values, T* y, GenPlan p) {
  const T off = values[0], on = values[1];
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < p.n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = e % p.inner, d = (e / p.inner) % p.depth, o = e / (p.inner * p.depth);
    y[e] = one_hot_slot(p, indices, o * p.inner + i) == d ? on : off;
  }
}

template <typename T, typename C>
__global__ void range_kernel(const T* start, const T* delta, T* y, int64_t n) {
  const C s = static_cast<C>(*start), d = static_cast<C>(*delta);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[i] = static_cast<T>(s + static_cast<C>(i) * d);
}

class GenKernel : public runtime::Kernel {
 public:
  explicit GenKernel(GenPlan p) : p_(p) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (p_.n == 0) return Status::ok();
    int grid = static_cast<int>(std::min<int64_t>((p_.n + 255) / 256, 132 * 32));
    auto s = static_cast<cudaStream_t>(launch.stream);
    if (!p_.one_hot) {
      const void *st = in[0].data, *de = in[2].data;
      void* y = out[0].data;
      switch (p_.kind) {
        case GenKind::kF32: range_kernel<float, double><<<grid, 256, 0, s>>>(static_cast<const float*>(st), static_cast<const float*>(de), static_cast<float*>(y), p_.n); break;
        case GenKind::kF64: range_kernel<double, double><<<grid, 256, 0, s>>>(static_cast<const double*>(st), static_cast<const double*>(de), static_cast<double*>(y), p_.n); break;
        case GenKind::kI16: range_kernel<int16_t, int64_t><<<grid, 256, 0, s>>>(static_cast<const int16_t*>(st), static_cast<const int16_t*>(de), static_cast<int16_t*>(y), p_.n); break;
        case GenKind::kI32: range_kernel<int32_t, int64_t><<<grid, 256, 0, s>>>(static_cast<const int32_t*>(st), static_cast<const int32_t*>(de), static_cast<int32_t*>(y), p_.n); break;
        default: range_kernel<int64_t, int64_t><<<grid, 256, 0, s>>>(static_cast<const int64_t*>(st), static_cast<const int64_t*>(de), static_cast<int64_t*>(y), p_.n);
      }
    } else {
      const void* idx = in[0].data;
      switch (p_.elem) {
        case 1: one_hot_kernel<uint8_t><<<grid, 256, 0, s>>>(idx, static_cast<const uint8_t*>(in[2].data), static_cast<uint8_t*>(out[0].data), p_); break;
        case 2: one_hot_kernel<uint16_t><<<grid, 256, 0, s>>>(idx, static_cast<const uint16_t*>(in[2].data), static_cast<uint16_t*>(out[0].data), p_); break;
        case 4: one_hot_kernel<uint32_t><<<grid, 256, 0, s>>>(idx, static_cast<const uint32_t*>(in[2].data), static_cast<uint32_t*>(out[0].data), p_); break;
        default: one_hot_kernel<uint64_t><<<grid, 256, 0, s>>>(idx, static_cast<const uint64_t*>(in[2].data), static_cast<uint64_t*>(out[0].data), p_);
      }
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  GenPlan p_;
};

class GenTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.generator"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    GenPlan p;
    return plan_of(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    GenPlan p;
    if (!plan_of(*spec.node, p)) return unsupported(spec.node->describe() + ": not supported by cuda.generator (static output shape)");
    return std::unique_ptr<runtime::Kernel>(new GenKernel(p));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaGenerator, std::make_unique<GenTactic>());

}  // namespace kiln::cuda
