// cuda.compare: Equal, Less, Greater, LessOrEqual, GreaterOrEqual (float32/float16/bfloat16/
// float64, every integer type, bool) and the logical And, Or, Xor (bool) with
// multidirectional broadcasting, and Not; the output is bool. Values compare in their own type
// (integers exactly, halves as float).
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

enum class CmpOp : int { kEqual, kLess, kGreater, kLessEqual, kGreaterEqual, kAnd, kOr, kXor, kNot };
enum class Kind : int { kF32, kF16, kBF16, kF64, kI32, kI64, kU8, kI8, kI16, kU16, kU32, kU64 };

struct ComparePlan {
  IndexMap map;
  int64_t n = 0;
  CmpOp op = CmpOp::kEqual;
  Kind kind = Kind::kF32;
  int inputs = 2;
};

bool op_of(const std::string& t, CmpOp& op) {
  static const std::pair<const char*, CmpOp> table[] = {
      {"Equal", CmpOp::kEqual},       {"Less", CmpOp::kLess}, {"Greater", CmpOp::kGreater},
      {"LessOrEqual", CmpOp::kLessEqual}, {"GreaterOrEqual", CmpOp::kGreaterEqual},
      {"And", CmpOp::kAnd},           {"Or", CmpOp::kOr},     {"Xor", CmpOp::kXor}, {"Not", CmpOp::kNot}};
  for (const auto& [name, o] : table)
    if (t == name) {
      op = o;
      return true;
    }
  return false;
}

bool plan_of(const ir::Node& n, ComparePlan& p) {
  if (!n.domain().empty() || !op_of(n.op_type(), p.op) || n.num_outputs() != 1 || !all_static(n)) return false;
  p.inputs = p.op == CmpOp::kNot ? 1 : 2;
  if (static_cast<int>(n.num_inputs()) != p.inputs || !n.output(0) || dtype_of(n.output(0)) != DataType::kBool) return false;
  for (int i = 0; i < p.inputs; ++i)
    if (!n.input(i)) return false;
  DataType dt = dtype_of(n.input(0));
  if (p.inputs == 2 && dtype_of(n.input(1)) != dt) return false;
  const bool logical = p.op == CmpOp::kAnd || p.op == CmpOp::kOr || p.op == CmpOp::kXor || p.op == CmpOp::kNot;
  if (logical) {
    if (dt != DataType::kBool) return false;
    p.kind = Kind::kU8;
  } else {
    switch (dt) {
      case DataType::kFloat32: p.kind = Kind::kF32; break;
      case DataType::kFloat16: p.kind = Kind::kF16; break;
      case DataType::kBFloat16: p.kind = Kind::kBF16; break;
      case DataType::kInt32: p.kind = Kind::kI32; break;
      case DataType::kInt64: p.kind = Kind::kI64; break;
      case DataType::kBool: case DataType::kUInt8: p.kind = Kind::kU8; break;
      case DataType::kInt8: p.kind = Kind::kI8; break;
      case DataType::kInt16: p.kind = Kind::kI16; break;
      case DataType::kUInt16: p.kind = Kind::kU16; break;
      case DataType::kUInt32: p.kind = Kind::kU32; break;
      case DataType::kUInt64: p.kind = Kind::kU64; break;
      case DataType::kFloat64: p.kind = Kind::kF64; break;
      default: return false;
    }
  }
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

template <typename T>
__device__ inline bool apply(CmpOp op, T a, T b) {
  switch (op) {
    case CmpOp::kEqual: return a == b;
    case CmpOp::kLess: return a < b;
    case CmpOp::kGreater: return a > b;
    case CmpOp::kLessEqual: return a <= b;
    case CmpOp::kGreaterEqual: return a >= b;
    case CmpOp::kAnd: return (a != T(0)) && (b != T(0));
    case CmpOp::kOr: return (a != T(0)) || (b != T(0));
    case CmpOp::kXor: return (a != T(0)) != (b != T(0));
    default: return a == T(0);  // Not
  }
}

template <typename T>
__device__ inline auto value(const void* p, int64_t i) {
  if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>) return to_float(static_cast<const T*>(p)[i]);
  else return static_cast<const T*>(p)[i];
}

template <typename T>
__global__ void compare_kernel(const void* a, const void* b, uint8_t* y, ComparePlan p) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t off[3];
    broadcast_offsets<int64_t>(p.map, i, p.inputs, off);
    auto va = value<T>(a, off[0]);
    decltype(va) vb = p.inputs == 2 ? value<T>(b, off[1]) : va;
    y[i] = apply(p.op, va, vb) ? 1 : 0;
  }
}

class CompareKernel : public runtime::Kernel {
 public:
  explicit CompareKernel(ComparePlan p) : p_(p) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (p_.n == 0) return Status::ok();
    int grid = static_cast<int>(std::min<int64_t>((p_.n + 255) / 256, 132 * 32));
    auto s = static_cast<cudaStream_t>(launch.stream);
    const void* a = in[0].data;
    const void* b = p_.inputs == 2 ? in[1].data : nullptr;
    auto y = static_cast<uint8_t*>(out[0].data);
    switch (p_.kind) {
      case Kind::kF32: compare_kernel<float><<<grid, 256, 0, s>>>(a, b, y, p_); break;
      case Kind::kF16: compare_kernel<__half><<<grid, 256, 0, s>>>(a, b, y, p_); break;
      case Kind::kBF16: compare_kernel<__nv_bfloat16><<<grid, 256, 0, s>>>(a, b, y, p_); break;
      case Kind::kI32: compare_kernel<int32_t><<<grid, 256, 0, s>>>(a, b, y, p_); break;
      case Kind::kI64: compare_kernel<int64_t><<<grid, 256, 0, s>>>(a, b, y, p_); break;
      case Kind::kI8: compare_kernel<int8_t><<<grid, 256, 0, s>>>(a, b, y, p_); break;
      case Kind::kI16: compare_kernel<int16_t><<<grid, 256, 0, s>>>(a, b, y, p_); break;
      case Kind::kU16: compare_kernel<uint16_t><<<grid, 256, 0, s>>>(a, b, y, p_); break;
      case Kind::kU32: compare_kernel<uint32_t><<<grid, 256, 0, s>>>(a, b, y, p_); break;
      case Kind::kU64: compare_kernel<uint64_t><<<grid, 256, 0, s>>>(a, b, y, p_); break;
      case Kind::kF64: compare_kernel<double><<<grid, 256, 0, s>>>(a, b, y, p_); break;
      default: compare_kernel<uint8_t><<<grid, 256, 0, s>>>(a, b, y, p_);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  ComparePlan p_;
};

class CompareTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.compare"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    ComparePlan p;
    return plan_of(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    ComparePlan p;
    if (!plan_of(*spec.node, p))
      return unsupported(spec.node->describe() + ": not supported by cuda.compare (static shapes, rank <= 8, float/int32/int64 "
                                                 "comparisons, bool logic)");
    return std::unique_ptr<runtime::Kernel>(new CompareKernel(p));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaCompare, std::make_unique<CompareTactic>());

}  // namespace kiln::cuda
