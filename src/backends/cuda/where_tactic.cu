// cuda.where: Where(condition, X, Y) with multidirectional broadcasting, for any dtype of 1, 2,
// 4 or 8 bytes (the values are copied, never interpreted).
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

struct WherePlan {
  IndexMap map;
  int64_t n = 0;
  size_t elem = 0;
};

bool plan_of(const ir::Node& n, WherePlan& p) {
  if (n.op_type() != "Where" || !n.domain().empty() || n.num_inputs() != 3 || n.num_outputs() != 1 || !all_static(n))
    return false;
  for (int i = 0; i < 3; ++i)
    if (!n.input(i)) return false;
  if (dtype_of(n.input(0)) != DataType::kBool) return false;
  DataType dt = dtype_of(n.output(0));
  if (dtype_of(n.input(1)) != dt || dtype_of(n.input(2)) != dt || is_sub_byte(dt) || dt == DataType::kString) return false;
  size_t es = dtype_size(dt);
  if (es != 1 && es != 2 && es != 4 && es != 8) return false;
  auto out = dims_of(n.output(0));
  int rank = static_cast<int>(out.size());
  if (rank > kMaxRank) return false;
  p.map.rank = rank;
  p.n = 1;
  for (int d = 0; d < rank; ++d) {
    p.map.dims[d] = out[static_cast<size_t>(d)];
    p.n *= out[static_cast<size_t>(d)];
  }
  for (int k = 0; k < 3; ++k) {
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
  p.elem = es;
  return true;
}

template <typename T>
__global__ void where_kernel(const uint8_t* cond, const T* x, const T* y, T* out, IndexMap m, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t off[3];
    broadcast_offsets<int64_t>(m, i, 3, off);
    out[i] = cond[off[0]] ? x[off[1]] : y[off[2]];
  }
}

class WhereKernel : public runtime::Kernel {
 public:
  explicit WhereKernel(WherePlan p) : p_(p) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (p_.n == 0) return Status::ok();
    int grid = static_cast<int>(std::min<int64_t>((p_.n + 255) / 256, 132 * 32));
    auto s = static_cast<cudaStream_t>(launch.stream);
    auto c = static_cast<const uint8_t*>(in[0].data);
    switch (p_.elem) {
      case 1: where_kernel<uint8_t><<<grid, 256, 0, s>>>(c, static_cast<const uint8_t*>(in[1].data), static_cast<const uint8_t*>(in[2].data), static_cast<uint8_t*>(out[0].data), p_.map, p_.n); break;
      case 2: where_kernel<uint16_t><<<grid, 256, 0, s>>>(c, static_cast<const uint16_t*>(in[1].data), static_cast<const uint16_t*>(in[2].data), static_cast<uint16_t*>(out[0].data), p_.map, p_.n); break;
      case 4: where_kernel<uint32_t><<<grid, 256, 0, s>>>(c, static_cast<const uint32_t*>(in[1].data), static_cast<const uint32_t*>(in[2].data), static_cast<uint32_t*>(out[0].data), p_.map, p_.n); break;
      default: where_kernel<uint64_t><<<grid, 256, 0, s>>>(c, static_cast<const uint64_t*>(in[1].data), static_cast<const uint64_t*>(in[2].data), static_cast<uint64_t*>(out[0].data), p_.map, p_.n);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  WherePlan p_;
};

class WhereTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.where"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    WherePlan p;
    return plan_of(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    WherePlan p;
    if (!plan_of(*spec.node, p))
      return unsupported(spec.node->describe() + ": not supported by cuda.where (bool condition, static shapes, rank <= 8)");
    return std::unique_ptr<runtime::Kernel>(new WhereKernel(p));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaWhere, std::make_unique<WhereTactic>());

}  // namespace kiln::cuda
