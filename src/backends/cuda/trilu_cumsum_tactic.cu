// cuda.trilu: Trilu (upper/lower, k constant or runtime) over the last two dims, any dtype of
// 1/2/4/8 bytes. cuda.cumulative: CumSum (and CumProd) along a constant or runtime axis with
// exclusive / reverse, float32/float16/bfloat16 (float accumulation), float64 and int32/int64 (wrapping),
// one thread per line.
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

// ---- Trilu

struct TriluPlan {
  int64_t mats = 0, rows = 0, cols = 0;
  bool upper = true;
  bool runtime_k = false;
  int64_t k = 0;
  size_t elem = 0;
};

bool trilu_plan(const ir::Node& n, TriluPlan& p) {
  if (n.op_type() != "Trilu" || !n.domain().empty() || n.num_outputs() != 1 || !n.input(0) || !all_static(n)) return false;
  DataType dt = dtype_of(n.input(0));
  if (is_sub_byte(dt) || dt == DataType::kString || dtype_of(n.output(0)) != dt) return false;
  p.elem = dtype_size(dt);
  if (p.elem != 1 && p.elem != 2 && p.elem != 4 && p.elem != 8) return false;
  auto x = dims_of(n.input(0));
  if (x.size() < 2) return false;
  p.rows = x[x.size() - 2];
  p.cols = x[x.size() - 1];
  p.mats = 1;
  for (size_t d = 0; d + 2 < x.size(); ++d) p.mats *= x[d];
  p.upper = n.attrs().get_int("upper", 1) != 0;
  p.k = 0;
  p.runtime_k = false;
  if (n.num_inputs() > 1 && n.input(1)) {
    const ir::Value* k = n.input(1);
    if (dtype_of(k) != DataType::kInt64) return false;
    if (k->is_constant()) {
      if (k->constant().numel() != 1) return false;
      p.k = k->constant().to_i64()[0];
    } else {
      int64_t count = 1;
      for (int64_t d : dims_of(k)) count *= d;
      if (count != 1) return false;
      p.runtime_k = true;
    }
  }
  return true;
}

template <typename T>
__global__ void trilu_kernel(const T* x, T* y, TriluPlan p, const int64_t* k_ptr) {
  const int64_t k = k_ptr ? *k_ptr : p.k;
  const int64_t n = p.mats * p.rows * p.cols;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = i % p.cols, r = (i / p.cols) % p.rows;
    const bool keep = p.upper ? (c - r >= k) : (c - r <= k);
    y[i] = keep ? x[i] : T(0);
  }
}

class TriluKernel : public runtime::Kernel {
 public:
  explicit TriluKernel(TriluPlan p) : p_(p) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    const int64_t n = p_.mats * p_.rows * p_.cols;
    if (n == 0) return Status::ok();
    const int64_t* k = p_.runtime_k ? static_cast<const int64_t*>(in[1].data) : nullptr;
    if (p_.runtime_k && !k) return invalid_argument("Trilu: the k input is missing");
    int grid = static_cast<int>(std::min<int64_t>((n + 255) / 256, 132 * 32));
    auto s = static_cast<cudaStream_t>(launch.stream);
    switch (p_.elem) {
      case 1: trilu_kernel<uint8_t><<<grid, 256, 0, s>>>(static_cast<const uint8_t*>(in[0].data), static_cast<uint8_t*>(out[0].data), p_, k); break;
      case 2: trilu_kernel<uint16_t><<<grid, 256, 0, s>>>(static_cast<const uint16_t*>(in[0].data), static_cast<uint16_t*>(out[0].data), p_, k); break;
      case 4: trilu_kernel<uint32_t><<<grid, 256, 0, s>>>(static_cast<const uint32_t*>(in[0].data), static_cast<uint32_t*>(out[0].data), p_, k); break;
      default: trilu_kernel<uint64_t><<<grid, 256, 0, s>>>(static_cast<const uint64_t*>(in[0].data), static_cast<uint64_t*>(out[0].data), p_, k);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  TriluPlan p_;
};

class TriluTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.trilu"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    TriluPlan p;
    return trilu_plan(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    TriluPlan p;
    if (!trilu_plan(*spec.node, p)) return unsupported(spec.node->describe() + ": not supported by cuda.trilu");
    return std::unique_ptr<runtime::Kernel>(new TriluKernel(p));
  }
};

// ---- CumSum / CumProd

enum class CumKind : int { kF32, kF16, kBF16, kF64, kI32, kI64 };

struct CumPlan {
  int rank = 0;
  int64_t dims[kMaxRank];
  int64_t axis = 0;  // build-time axis (normalized), or -1 when read at run time
  bool prod = false, exclusive = false, reverse = false;
  CumKind kind = CumKind::kF32;
  bool axis_i32 = false;  // the runtime axis input is int32
  int64_t numel = 0;
};

bool cum_plan(const ir::Node& n, CumPlan& p) {
  const bool prod = n.op_type() == "CumProd";
  if ((!prod && n.op_type() != "CumSum") || !n.domain().empty() || n.num_inputs() != 2 || !n.input(0) || !n.input(1) ||
      n.num_outputs() != 1 || !all_static(n))
    return false;
  switch (dtype_of(n.input(0))) {
    case DataType::kFloat32: p.kind = CumKind::kF32; break;
    case DataType::kFloat16: p.kind = CumKind::kF16; break;
    case DataType::kBFloat16: p.kind = CumKind::kBF16; break;
    case DataType::kFloat64: p.kind = CumKind::kF64; break;
    case DataType::kInt32: p.kind = CumKind::kI32; break;
    case DataType::kInt64: p.kind = CumKind::kI64; break;
    default: return false;
  }
  if (dtype_of(n.output(0)) != dtype_of(n.input(0))) return false;
  auto x = dims_of(n.input(0));
  p.rank = static_cast<int>(x.size());
  if (p.rank < 1 || p.rank > kMaxRank) return false;
  p.numel = 1;
  for (int d = 0; d < p.rank; ++d) {
    p.dims[d] = x[static_cast<size_t>(d)];
    p.numel *= p.dims[d];
  }
  const ir::Value* a = n.input(1);
  DataType adt = dtype_of(a);
  if (adt != DataType::kInt64 && adt != DataType::kInt32) return false;
  if (a->is_constant()) {
    if (a->constant().numel() != 1) return false;
    int64_t ax = a->constant().to_i64()[0];
    if (ax < -p.rank || ax >= p.rank) return false;
    p.axis = ax < 0 ? ax + p.rank : ax;
  } else {
    int64_t count = 1;
    for (int64_t d : dims_of(a)) count *= d;
    if (count != 1) return false;
    p.axis = -1;
    p.axis_i32 = adt == DataType::kInt32;
  }
  p.prod = prod;
  p.exclusive = n.attrs().get_int("exclusive", 0) != 0;
  p.reverse = n.attrs().get_int("reverse", 0) != 0;
  return true;
}

template <typename T, typename Acc>
__host__ __device__ Acc load_acc(const T* x, int64_t i) {
  if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>) return to_float(x[i]);
  else return static_cast<Acc>(x[i]);
}
template <typename T, typename Acc>
__host__ __device__ T store_acc(Acc v) {
  if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>) return from_float<T>(v);
  else return static_cast<T>(v);
}

// The axis to scan (normalized), or -1 when the runtime one is out of range.
__host__ __device__ inline int64_t cum_axis(const CumPlan& p, const void* axis_ptr) {
  int64_t axis = p.axis;
  if (axis < 0) {
    axis = p.axis_i32 ? *static_cast<const int32_t*>(axis_ptr) : *static_cast<const int64_t*>(axis_ptr);
    if (axis < -p.rank || axis >= p.rank) return -1;
    if (axis < 0) axis += p.rank;
  }
  return axis;
}

// Scans line l along `axis`. Integers accumulate in uint64 (wrapping), floats in float.
template <typename T, typename Acc>
__host__ __device__ void cum_line(const T* x, T* y, const CumPlan& p, int64_t axis, int64_t l) {
  int64_t n = p.dims[axis], inner = 1;
  for (int d = static_cast<int>(axis) + 1; d < p.rank; ++d) inner *= p.dims[d];
  const int64_t o = l / inner, i = l % inner;
  Acc acc = p.prod ? Acc(1) : Acc(0);
  for (int64_t s = 0; s < n; ++s) {
    const int64_t k = p.reverse ? n - 1 - s : s;
    const int64_t at = (o * n + k) * inner + i;
    Acc v = load_acc<T, Acc>(x, at);
    if (!p.exclusive) acc = p.prod ? acc * v : acc + v;
    y[at] = store_acc<T, Acc>(acc);
    if (p.exclusive) acc = p.prod ? acc * v : acc + v;
  }
}

// One thread per line along the axis.
template <typename T, typename Acc>
__global__ void cum_kernel(const T* x, T* y, CumPlan p, const void* axis_ptr) {
  const int64_t axis = cum_axis(p, axis_ptr);
  if (axis < 0) return;  // invalid runtime axis: nothing written
  const int64_t n = p.dims[axis];
  const int64_t lines = n ? p.numel / n : 0;
  for (int64_t l = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; l < lines;
       l += static_cast<int64_t>(gridDim.x) * blockDim.x)
    cum_line<T, Acc>(x, y, p, axis, l);
}

class CumKernel : public runtime::Kernel {
 public:
  explicit CumKernel(CumPlan p) : p_(p) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (p_.numel == 0) return Status::ok();
    const void* axis = in.size() > 1 ? in[1].data : nullptr;
    if (p_.axis < 0 && !axis) return invalid_argument("CumSum: the axis input is missing");
    int grid = static_cast<int>(std::min<int64_t>((p_.numel + 255) / 256, 132 * 32));
    auto s = static_cast<cudaStream_t>(launch.stream);
    const void* x = in[0].data;
    void* y = out[0].data;
    switch (p_.kind) {
      case CumKind::kF32: cum_kernel<float, float><<<grid, 256, 0, s>>>(static_cast<const float*>(x), static_cast<float*>(y), p_, axis); break;
      case CumKind::kF16: cum_kernel<__half, float><<<grid, 256, 0, s>>>(static_cast<const __half*>(x), static_cast<__half*>(y), p_, axis); break;
      case CumKind::kBF16:
        cum_kernel<__nv_bfloat16, float><<<grid, 256, 0, s>>>(static_cast<const __nv_bfloat16*>(x), static_cast<__nv_bfloat16*>(y), p_, axis);
        break;
      case CumKind::kF64: cum_kernel<double, double><<<grid, 256, 0, s>>>(static_cast<const double*>(x), static_cast<double*>(y), p_, axis); break;
      case CumKind::kI32: cum_kernel<int32_t, uint64_t><<<grid, 256, 0, s>>>(static_cast<const int32_t*>(x), static_cast<int32_t*>(y), p_, axis); break;
      default: cum_kernel<int64_t, uint64_t><<<grid, 256, 0, s>>>(static_cast<const int64_t*>(x), static_cast<int64_t*>(y), p_, axis);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  CumPlan p_;
};

class CumTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.cumulative"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    CumPlan p;
    return cum_plan(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    CumPlan p;
    if (!cum_plan(*spec.node, p)) return unsupported(spec.node->describe() + ": not supported by cuda.cumulative");
    return std::unique_ptr<runtime::Kernel>(new CumKernel(p));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaTrilu, std::make_unique<TriluTactic>());
KILN_REGISTER_TACTIC(CudaCumulative, std::make_unique<CumTactic>());

}  // namespace kiln::cuda
