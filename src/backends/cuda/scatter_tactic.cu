// cuda.scatter: ScatterElements / Scatter (axis) and ScatterND, reduction none / add / mul / max / min:
// the data is copied to the output, then one thread per updated element writes (none) or combines
// with an atomic compare-and-swap loop (4- and 8-byte dtypes). Indices int32/int64 at run time,
// negative ones from the end; an out-of-range index is skipped (the reference fails the call).
// With duplicate indices and reduction none the winner is unspecified, as in ONNX.
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

enum class Red : int { kNone, kAdd, kMul, kMax, kMin };
enum class Kind : int { kF32, kF64, kI32, kI64, kBytes1, kBytes2 };

struct ScatterPlan {
  bool nd = false;
  Red red = Red::kNone;
  Kind kind = Kind::kF32;
  bool idx32 = false;
  int rank = 0;
  int64_t data_dims[kMaxRank], data_strides[kMaxRank];
  int64_t upd_dims[kMaxRank];  // ScatterElements: updates (= indices) dims
  int axis = 0;
  int64_t k_len = 0, slice = 1;  // ScatterND: index tuple length, elements per slice
  int64_t n_updates = 0;         // elements of `updates`
  size_t data_bytes = 0;
};

bool plan_of(const ir::Node& n, ScatterPlan& p) {
  const std::string& t = n.op_type();
  if ((t != "ScatterElements" && t != "ScatterND" && t != "Scatter") || !n.domain().empty() || n.num_inputs() != 3 || n.num_outputs() != 1 ||
      !all_static(n))
    return false;
  for (int i = 0; i < 3; ++i)
    if (!n.input(i)) return false;
  p.nd = t == "ScatterND";
  DataType dt = dtype_of(n.input(0));
  if (dtype_of(n.input(2)) != dt || dtype_of(n.output(0)) != dt) return false;
  std::string r = n.attrs().get_string("reduction", "none");
  if (r == "none") p.red = Red::kNone;
  else if (r == "add") p.red = Red::kAdd;
  else if (r == "mul") p.red = Red::kMul;
  else if (r == "max") p.red = Red::kMax;
  else if (r == "min") p.red = Red::kMin;
  else return false;
  switch (dt) {
    case DataType::kFloat32: p.kind = Kind::kF32; break;
    case DataType::kFloat64: p.kind = Kind::kF64; break;
    case DataType::kInt32: p.kind = Kind::kI32; break;
    case DataType::kInt64: p.kind = Kind::kI64; break;
    default:
      if (p.red != Red::kNone || is_sub_byte(dt) || dt == DataType::kString) return false;
      if (dtype_size(dt) == 1) p.kind = Kind::kBytes1;
      else if (dtype_size(dt) == 2) p.kind = Kind::kBytes2;
      else return false;
  }
  DataType it = dtype_of(n.input(1));
  if (it != DataType::kInt64 && (p.nd || it != DataType::kInt32)) return false;
  p.idx32 = it == DataType::kInt32;
  auto x = dims_of(n.input(0)), ind = dims_of(n.input(1)), upd = dims_of(n.input(2));
  p.rank = static_cast<int>(x.size());
  if (p.rank < 1 || p.rank > kMaxRank || dims_of(n.output(0)) != x) return false;
  int64_t stride = 1;
  for (int d = p.rank - 1; d >= 0; --d) {
    p.data_dims[d] = x[static_cast<size_t>(d)];
    p.data_strides[d] = stride;
    stride *= x[static_cast<size_t>(d)];
  }
  p.data_bytes = static_cast<size_t>(stride) * dtype_size(dt);
  p.n_updates = 1;
  for (int64_t d : upd) p.n_updates *= d;
  if (!p.nd) {
    if (ind != upd || ind.size() != x.size()) return false;
    int64_t axis = n.attrs().get_int("axis", 0);
    if (axis < -p.rank || axis >= p.rank) return false;
    p.axis = static_cast<int>(axis < 0 ? axis + p.rank : axis);
    for (int d = 0; d < p.rank; ++d) {
      p.upd_dims[d] = upd[static_cast<size_t>(d)];
      if (d != p.axis && p.upd_dims[d] > p.data_dims[d]) return false;
    }
    return true;
  }
  if (ind.empty()) return false;
  p.k_len = ind.back();
  if (p.k_len < 1 || p.k_len > p.rank) return false;
  std::vector<int64_t> expect(ind.begin(), ind.end() - 1);
  expect.insert(expect.end(), x.begin() + p.k_len, x.end());
  if (upd != expect) return false;
  p.slice = 1;
  for (int d = static_cast<int>(p.k_len); d < p.rank; ++d) p.slice *= p.data_dims[d];
  return true;
}

// Where update element i goes in the data, or -1 when its index is out of range.
__host__ __device__ inline int64_t scatter_target(const ScatterPlan& p, const void* indices, int64_t i) {
  auto index = [&](int64_t j) -> int64_t {
    return p.idx32 ? static_cast<const int32_t*>(indices)[j] : static_cast<const int64_t*>(indices)[j];
  };
  if (!p.nd) {
    int64_t rest = i, off = 0;
    for (int d = p.rank - 1; d >= 0; --d) {
      int64_t pos = rest % p.upd_dims[d];
      rest /= p.upd_dims[d];
      if (d == p.axis) {
        pos = index(i);
        if (pos < 0) pos += p.data_dims[d];
        if (pos < 0 || pos >= p.data_dims[d]) return -1;
      }
      off += pos * p.data_strides[d];
    }
    return off;
  }
  const int64_t j = i / p.slice, within = i % p.slice;
  int64_t off = 0;
  for (int64_t t = 0; t < p.k_len; ++t) {
    int64_t pos = index(j * p.k_len + t);
    const int64_t dim = p.data_dims[t];
    if (pos < 0) pos += dim;
    if (pos < 0 || pos >= dim) return -1;
    off += pos * p.data_strides[t];
  }
  return off + within;
}

template <typename T>
__host__ __device__ inline T reduce_value(Red r, T a, T b) {
  switch (r) {
    case Red::kAdd: return a + b;
    case Red::kMul: return a * b;
    case Red::kMax: return a > b ? a : b;
    case Red::kMin: return a < b ? a : b;
    default: return b;
  }
}

// Combines `v` into *addr atomically (4- and 8-byte types) through compare-and-swap.
template <typename T>
__device__ void atomic_combine(T* addr, T v, Red r) {
  using U = std::conditional_t<sizeof(T) == 4, unsigned int, unsigned long long>;
  U* word = reinterpret_cast<U*>(addr);
  U old = *word, assumed;
  do {
    assumed = old;
    T cur;
    memcpy(&cur, &assumed, sizeof(T));
    T next = reduce_value(r, cur, v);
    U next_bits;
    memcpy(&next_bits, &next, sizeof(T));
    old = atomicCAS(word, assumed, next_bits);
  } while (assumed != old);
}

template <typename T>
__global__ void scatter_kernel(const T* upd, const void* indices, T* y, ScatterPlan p) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.n_updates;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t at = scatter_target(p, indices, i);
    if (at < 0) continue;
    if constexpr (sizeof(T) == 4 || sizeof(T) == 8) {
      if (p.red != Red::kNone) {
        atomic_combine(y + at, upd[i], p.red);
        continue;
      }
    }
    y[at] = upd[i];
  }
}

class ScatterKernel : public runtime::Kernel {
 public:
  explicit ScatterKernel(ScatterPlan p) : p_(p) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    auto s = static_cast<cudaStream_t>(launch.stream);
    if (p_.data_bytes && out[0].data != in[0].data)
      KILN_CUDA_CHECK(cudaMemcpyAsync(out[0].data, in[0].data, p_.data_bytes, cudaMemcpyDeviceToDevice, s));
    if (p_.n_updates == 0) return Status::ok();
    int grid = static_cast<int>(std::min<int64_t>((p_.n_updates + 255) / 256, 132 * 32));
    const void* idx = in[1].data;
    switch (p_.kind) {
      case Kind::kF32: scatter_kernel<float><<<grid, 256, 0, s>>>(static_cast<const float*>(in[2].data), idx, static_cast<float*>(out[0].data), p_); break;
      case Kind::kF64: scatter_kernel<double><<<grid, 256, 0, s>>>(static_cast<const double*>(in[2].data), idx, static_cast<double*>(out[0].data), p_); break;
      case Kind::kI32: scatter_kernel<int32_t><<<grid, 256, 0, s>>>(static_cast<const int32_t*>(in[2].data), idx, static_cast<int32_t*>(out[0].data), p_); break;
      case Kind::kI64: scatter_kernel<int64_t><<<grid, 256, 0, s>>>(static_cast<const int64_t*>(in[2].data), idx, static_cast<int64_t*>(out[0].data), p_); break;
      case Kind::kBytes1: scatter_kernel<uint8_t><<<grid, 256, 0, s>>>(static_cast<const uint8_t*>(in[2].data), idx, static_cast<uint8_t*>(out[0].data), p_); break;
      default: scatter_kernel<uint16_t><<<grid, 256, 0, s>>>(static_cast<const uint16_t*>(in[2].data), idx, static_cast<uint16_t*>(out[0].data), p_);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  ScatterPlan p_;
};

class ScatterTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.scatter"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    ScatterPlan p;
    return plan_of(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    ScatterPlan p;
    if (!plan_of(*spec.node, p))
      return unsupported(spec.node->describe() + ": not supported by cuda.scatter (static shapes; reductions on 4/8-byte types)");
    return std::unique_ptr<runtime::Kernel>(new ScatterKernel(p));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaScatter, std::make_unique<ScatterTactic>());

}  // namespace kiln::cuda
