// cuda.nary: the float forms cuda.pointwise does not take: Sum, Mean, Max, Min of one to three
// inputs (broadcasting; Max/Min propagate NaN) and Mod (fmod, or numpy's sign rule), for
// float32/float16/bfloat16 (computed in float) and float64 (in double).
#include <cmath>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

enum class NaryOp : int { kSum, kMean, kMax, kMin, kMod, kFmod };

struct NaryPlan {
  IndexMap map;
  int64_t n = 0;
  int inputs = 1;
  NaryOp op = NaryOp::kSum;
  DataType dt = DataType::kFloat32;
};

bool plan_of(const ir::Node& n, NaryPlan& p) {
  const std::string& t = n.op_type();
  if (!n.domain().empty() || n.num_outputs() != 1 || !n.output(0) || !all_static(n)) return false;
  if (t == "Sum") p.op = NaryOp::kSum;
  else if (t == "Mean") p.op = NaryOp::kMean;
  else if (t == "Max") p.op = NaryOp::kMax;
  else if (t == "Min") p.op = NaryOp::kMin;
  else if (t == "Mod") p.op = n.attrs().get_int("fmod", 0) != 0 ? NaryOp::kFmod : NaryOp::kMod;
  else return false;
  p.inputs = static_cast<int>(n.num_inputs());
  if (p.inputs < 1 || p.inputs > 3 || ((p.op == NaryOp::kMod || p.op == NaryOp::kFmod) && p.inputs != 2)) return false;
  const DataType dt = dtype_of(n.output(0));
  if (!is_kernel_float(dt) && dt != DataType::kFloat64) return false;
  for (int i = 0; i < p.inputs; ++i)
    if (!n.input(i) || dtype_of(n.input(i)) != dt) return false;
  p.dt = dt;
  if (const runtime::Tactic* pw = runtime::TacticRegistry::global().find("cuda.pointwise"); pw && pw->supports(n)) return false;
  auto out = dims_of(n.output(0));
  const int rank = static_cast<int>(out.size());
  if (rank > kMaxRank) return false;
  p.map.rank = rank;
  p.n = 1;
  for (int d = 0; d < rank; ++d) {
    p.map.dims[d] = out[static_cast<size_t>(d)];
    p.n *= out[static_cast<size_t>(d)];
  }
  for (int k = 0; k < 3; ++k)
    for (int d = 0; d < kMaxRank; ++d) p.map.strides[k][d] = 0;
  for (int k = 0; k < p.inputs; ++k) {
    auto in = dims_of(n.input(k));
    if (static_cast<int>(in.size()) > rank) return false;
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      int id = d - (rank - static_cast<int>(in.size()));
      int64_t dim = id >= 0 ? in[static_cast<size_t>(id)] : 1;
      if (dim != 1 && dim != out[static_cast<size_t>(d)]) return false;
      p.map.strides[k][d] = dim == 1 ? 0 : stride;
      stride *= dim;
    }
  }
  return true;
}

__device__ inline double to_c(double v) { return v; }
template <typename T>
__device__ inline float to_c(T v) { return to_float(v); }
template <typename T, typename C>
__device__ inline T from_c(C v) {
  if constexpr (std::is_same_v<T, double>) return v;
  else return from_float<T>(static_cast<float>(v));
}

// C is double for float64, float otherwise.
template <typename C>
__host__ __device__ inline C nary_fold(NaryOp op, const C* v, int count) {
  if (op == NaryOp::kMod || op == NaryOp::kFmod) {
    const C x = v[0], y = v[1];
    C r = fmod(x, y);
    if (op == NaryOp::kMod) {  // numpy.mod: the result takes the divisor's sign
      if (r != 0) {
        if ((r < 0) != (y < 0)) r += y;
      } else {
        r = copysign(C(0), y);
      }
    }
    return r;
  }
  C acc = v[0];
  for (int k = 1; k < count; ++k) {
    if (op == NaryOp::kMax || op == NaryOp::kMin) {
      if (isnan(v[k]) || isnan(acc)) {
        acc = NAN;
        continue;
      }
      if (op == NaryOp::kMax ? v[k] > acc : v[k] < acc) acc = v[k];
    } else {
      acc += v[k];
    }
  }
  if (op == NaryOp::kMean) acc /= static_cast<C>(count);
  return acc;
}

template <typename T>
__global__ void nary_kernel(const T* a, const T* b, const T* c, T* y, NaryPlan p) {
  using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
  const T* in[3] = {a, b, c};
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t off[3];
    broadcast_offsets<int64_t>(p.map, i, p.inputs, off);
    C v[3];
    for (int k = 0; k < p.inputs; ++k) v[k] = to_c(in[k][off[k]]);
    y[i] = from_c<T, C>(nary_fold<C>(p.op, v, p.inputs));
  }
}

class NaryKernel : public runtime::Kernel {
 public:
  explicit NaryKernel(NaryPlan p) : p_(p) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (p_.n == 0) return Status::ok();
    int grid = static_cast<int>(std::min<int64_t>((p_.n + 255) / 256, 132 * 32));
    auto s = static_cast<cudaStream_t>(launch.stream);
    auto ptr = [&](int k) { return k < p_.inputs ? in[static_cast<size_t>(k)].data : nullptr; };
    switch (p_.dt) {
      case DataType::kFloat32:
        nary_kernel<float><<<grid, 256, 0, s>>>(static_cast<const float*>(ptr(0)), static_cast<const float*>(ptr(1)),
                                                static_cast<const float*>(ptr(2)), static_cast<float*>(out[0].data), p_);
        break;
      case DataType::kFloat16:
        nary_kernel<__half><<<grid, 256, 0, s>>>(static_cast<const __half*>(ptr(0)), static_cast<const __half*>(ptr(1)),
                                                 static_cast<const __half*>(ptr(2)), static_cast<__half*>(out[0].data), p_);
        break;
      case DataType::kBFloat16:
        nary_kernel<__nv_bfloat16><<<grid, 256, 0, s>>>(
            static_cast<const __nv_bfloat16*>(ptr(0)), static_cast<const __nv_bfloat16*>(ptr(1)),
            static_cast<const __nv_bfloat16*>(ptr(2)), static_cast<__nv_bfloat16*>(out[0].data), p_);
        break;
      default:
        nary_kernel<double><<<grid, 256, 0, s>>>(static_cast<const double*>(ptr(0)), static_cast<const double*>(ptr(1)),
                                                 static_cast<const double*>(ptr(2)), static_cast<double*>(out[0].data), p_);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  NaryPlan p_;
};

class NaryTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.nary"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    NaryPlan p;
    return plan_of(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    NaryPlan p;
    if (!plan_of(*spec.node, p))
      return unsupported(spec.node->describe() + ": not supported by cuda.nary (1-3 float inputs, static shapes, rank <= 8)");
    return std::unique_ptr<runtime::Kernel>(new NaryKernel(p));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaNary, std::make_unique<NaryTactic>());

}  // namespace kiln::cuda
