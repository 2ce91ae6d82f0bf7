// cuda.integer: elementwise ops on integer tensors (int8..int64, uint8..uint64) with
// multidirectional broadcasting: Add, Sub, Mul, Div (truncating), Mod (fmod or numpy's sign rule),
// Min/Max of two, BitShift, BitwiseAnd/Or/Xor, and unary Neg, Abs, BitwiseNot; plus Clip with its
// bounds as inputs (constant or runtime scalars, any integer or float32/float16/bfloat16 dtype)
// or, in old opsets, float attributes. Nodes cuda.pointwise takes stay with it. Integers wrap
// like the reference; a zero divisor gives 0 (the reference fails the call; a kernel cannot).
#include <limits>
#include <type_traits>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

enum class IntOp : int { kAdd, kSub, kMul, kDiv, kMod, kFmod, kMin, kMax, kShl, kShr, kAnd, kOr, kXor, kNeg, kAbs, kNot, kCopy, kClip };

struct IntPlan {
  IndexMap map;
  int64_t n = 0;
  IntOp op = IntOp::kAdd;
  DataType dt = DataType::kInt32;
  int inputs = 2;
  // Clip: bounds from inputs 1/2 (runtime pointers at enqueue) or attributes (old opsets).
  bool lo_input = false, hi_input = false, lo_attr = false, hi_attr = false;
  float lo = 0, hi = 0;
};

bool is_int_type(DataType dt) {
  switch (dt) {
    case DataType::kInt8: case DataType::kInt16: case DataType::kInt32: case DataType::kInt64:
    case DataType::kUInt8: case DataType::kUInt16: case DataType::kUInt32: case DataType::kUInt64: return true;
    default: return false;
  }
}

bool op_of(const ir::Node& n, IntOp& op, int& inputs) {
  static const std::pair<const char*, IntOp> binary[] = {
      {"Add", IntOp::kAdd}, {"Sub", IntOp::kSub}, {"Mul", IntOp::kMul}, {"Div", IntOp::kDiv}, {"Mod", IntOp::kMod},
      {"Min", IntOp::kMin}, {"Max", IntOp::kMax}, {"BitShift", IntOp::kShl}, {"BitwiseAnd", IntOp::kAnd},
      {"BitwiseOr", IntOp::kOr}, {"BitwiseXor", IntOp::kXor}};
  static const std::pair<const char*, IntOp> unary[] = {{"Neg", IntOp::kNeg}, {"Abs", IntOp::kAbs}, {"BitwiseNot", IntOp::kNot}};
  const std::string& t = n.op_type();
  for (const auto& [name, o] : binary)
    if (t == name) {
      op = o;
      inputs = 2;
      if ((o == IntOp::kMin || o == IntOp::kMax) && n.num_inputs() == 1) {  // Min/Max of one input
        op = IntOp::kCopy;
        inputs = 1;
      }
      if (o == IntOp::kMod && n.attrs().get_int("fmod", 0) != 0) op = IntOp::kFmod;
      if (o == IntOp::kShl) {
        std::string d = n.attrs().get_string("direction", "");
        if (d != "LEFT" && d != "RIGHT") return false;
        if (d == "RIGHT") op = IntOp::kShr;
      }
      return true;
    }
  for (const auto& [name, o] : unary)
    if (t == name) {
      op = o;
      inputs = 1;
      return true;
    }
  if (t == "Clip") {
    op = IntOp::kClip;
    inputs = 1;
    return true;
  }
  return false;
}

bool plan_of(const ir::Node& n, IntPlan& p) {
  if (!n.domain().empty() || n.num_outputs() != 1 || !n.output(0) || !n.input(0) || !all_static(n)) return false;
  if (!op_of(n, p.op, p.inputs)) return false;
  const DataType dt = dtype_of(n.input(0));
  p.dt = dt;
  if (dtype_of(n.output(0)) != dt) return false;
  if (p.op == IntOp::kClip) {
    if (!is_int_type(dt) && !is_kernel_float(dt)) return false;
    if (n.num_inputs() > 3) return false;
    p.lo_input = n.num_inputs() > 1 && n.input(1);
    p.hi_input = n.num_inputs() > 2 && n.input(2);
    for (size_t k = 1; k <= 2; ++k) {
      const ir::Value* b = n.input(k);
      if (!b) continue;
      if (dtype_of(b) != dt) return false;
      int64_t count = 1;
      for (int64_t d : dims_of(b)) count *= d;
      if (count != 1) return false;
    }
    p.lo_attr = !p.lo_input && n.num_inputs() == 1 && n.attrs().has("min");
    p.hi_attr = !p.hi_input && n.num_inputs() == 1 && n.attrs().has("max");
    if ((p.lo_attr || p.hi_attr) && dt != DataType::kFloat32) return false;
    p.lo = n.attrs().get_float("min", 0.f);
    p.hi = n.attrs().get_float("max", 0.f);
  } else {
    if (!is_int_type(dt) || static_cast<int>(n.num_inputs()) != p.inputs) return false;
    if (p.inputs == 2 && (!n.input(1) || dtype_of(n.input(1)) != dt)) return false;
  }
  // Leave to cuda.pointwise what it takes (its kernels may fuse and vectorize).
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
  const int broadcast_inputs = p.op == IntOp::kClip ? 1 : p.inputs;
  for (int k = 0; k < 3; ++k)
    for (int d = 0; d < kMaxRank; ++d) p.map.strides[k][d] = 0;
  for (int k = 0; k < broadcast_inputs; ++k) {
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

template <typename T>
__host__ __device__ T int_binary(IntOp op, T x, T y) {
  using U = std::make_unsigned_t<T>;
  constexpr int bits = sizeof(T) * 8;
  switch (op) {
    case IntOp::kAdd: return static_cast<T>(static_cast<U>(x) + static_cast<U>(y));
    case IntOp::kSub: return static_cast<T>(static_cast<U>(x) - static_cast<U>(y));
    case IntOp::kMul: return static_cast<T>(static_cast<U>(x) * static_cast<U>(y));
    case IntOp::kDiv:
      if (y == 0) return 0;
      if constexpr (std::is_signed_v<T>)
        if (y == T(-1)) return static_cast<T>(U(0) - static_cast<U>(x));
      return static_cast<T>(x / y);
    case IntOp::kMod:
    case IntOp::kFmod: {
      if (y == 0) return 0;
      if constexpr (std::is_signed_v<T>)
        if (y == T(-1)) return 0;
      T r = static_cast<T>(x % y);
      if constexpr (std::is_signed_v<T>)
        if (op == IntOp::kMod && r != 0 && ((r < 0) != (y < 0))) r = static_cast<T>(r + y);
      return r;
    }
    case IntOp::kMin: return x < y ? x : y;
    case IntOp::kMax: return x > y ? x : y;
    case IntOp::kShl:
    case IntOp::kShr: {
      const bool left = op == IntOp::kShl;
      bool negative_y = false, negative_x = false;
      if constexpr (std::is_signed_v<T>) {
        negative_y = y < 0;
        negative_x = x < 0;
      }
      bool in_range = !negative_y && static_cast<uint64_t>(y) < static_cast<uint64_t>(bits);
      if (!in_range) return (!left && negative_x) ? T(-1) : T(0);
      if (left) return static_cast<T>(static_cast<U>(static_cast<U>(x) << y));
      return static_cast<T>(x >> y);
    }
    case IntOp::kAnd: return static_cast<T>(x & y);
    case IntOp::kOr: return static_cast<T>(x | y);
    case IntOp::kXor: return static_cast<T>(x ^ y);
    case IntOp::kNeg: return static_cast<T>(U(0) - static_cast<U>(x));
    case IntOp::kAbs:
      if constexpr (std::is_signed_v<T>) return x < 0 ? static_cast<T>(U(0) - static_cast<U>(x)) : x;
      else return x;
    case IntOp::kCopy: return x;
    default: return static_cast<T>(~x);  // BitwiseNot
  }
}

template <typename T>
__global__ void int_kernel(const T* a, const T* b, T* y, IntPlan p) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t off[3];
    broadcast_offsets<int64_t>(p.map, i, p.inputs, off);
    y[i] = int_binary<T>(p.op, a[off[0]], p.inputs == 2 ? b[off[1]] : T(0));
  }
}

// Clip: compares in T (integers) or float (halves); NaN passes through as in numpy.clip.
template <typename T>
__global__ void clip_kernel(const T* x, const T* lo_ptr, const T* hi_ptr, T* y, IntPlan p) {
  using C = std::conditional_t<std::is_integral_v<T>, T, float>;
  auto load = [](T v) -> C {
    if constexpr (std::is_integral_v<T>) return v;
    else return to_float(v);
  };
  const bool has_lo = lo_ptr || p.lo_attr, has_hi = hi_ptr || p.hi_attr;
  C lo = lo_ptr ? load(*lo_ptr) : static_cast<C>(p.lo), hi = hi_ptr ? load(*hi_ptr) : static_cast<C>(p.hi);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    C v = load(x[i]);
    if (has_lo && v < lo) v = lo;
    if (has_hi && v > hi) v = hi;
    if constexpr (std::is_integral_v<T>) y[i] = v;
    else y[i] = from_float<T>(v);
  }
}

template <typename T>
Status launch_typed(const IntPlan& p, const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                    cudaStream_t s) {
  int grid = static_cast<int>(std::min<int64_t>((p.n + 255) / 256, 132 * 32));
  if (p.op == IntOp::kClip) {
    const T* lo = p.lo_input && in.size() > 1 ? static_cast<const T*>(in[1].data) : nullptr;
    const T* hi = p.hi_input && in.size() > 2 ? static_cast<const T*>(in[2].data) : nullptr;
    clip_kernel<T><<<grid, 256, 0, s>>>(static_cast<const T*>(in[0].data), lo, hi, static_cast<T*>(out[0].data), p);
  } else if constexpr (std::is_integral_v<T>) {
    int_kernel<T><<<grid, 256, 0, s>>>(static_cast<const T*>(in[0].data), p.inputs == 2 ? static_cast<const T*>(in[1].data) : nullptr,
                                       static_cast<T*>(out[0].data), p);
  } else {
    return internal_error("cuda.integer: only Clip takes float tensors");
  }
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

class IntKernel : public runtime::Kernel {
 public:
  explicit IntKernel(IntPlan p) : p_(p) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (p_.n == 0) return Status::ok();
    auto s = static_cast<cudaStream_t>(launch.stream);
    switch (p_.dt) {
      case DataType::kInt8: return launch_typed<int8_t>(p_, in, out, s);
      case DataType::kInt16: return launch_typed<int16_t>(p_, in, out, s);
      case DataType::kInt32: return launch_typed<int32_t>(p_, in, out, s);
      case DataType::kInt64: return launch_typed<int64_t>(p_, in, out, s);
      case DataType::kUInt8: return launch_typed<uint8_t>(p_, in, out, s);
      case DataType::kUInt16: return launch_typed<uint16_t>(p_, in, out, s);
      case DataType::kUInt32: return launch_typed<uint32_t>(p_, in, out, s);
      case DataType::kUInt64: return launch_typed<uint64_t>(p_, in, out, s);
      case DataType::kFloat32: return launch_typed<float>(p_, in, out, s);
      case DataType::kFloat16: return launch_typed<__half>(p_, in, out, s);
      case DataType::kBFloat16: return launch_typed<__nv_bfloat16>(p_, in, out, s);
      default: return internal_error("cuda.integer: unexpected dtype");
    }
  }

 private:
  IntPlan p_;
};

class IntTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.integer"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    IntPlan p;
    return plan_of(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    IntPlan p;
    if (!plan_of(*spec.node, p))
      return unsupported(spec.node->describe() + ": not supported by cuda.integer (integer dtypes, static shapes, rank <= 8)");
    return std::unique_ptr<runtime::Kernel>(new IntKernel(p));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaInteger, std::make_unique<IntTactic>());

}  // namespace kiln::cuda
