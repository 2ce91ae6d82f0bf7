// cuda.rearrange: ops where every output element is one input element found by index math:
// DepthToSpace and SpaceToDepth (DCR, CRD), Tile (from the static output shape: the repeats, constant
// or runtime, are already in it), and GatherElements (int32/int64 indices, negative ones counted
// from the end; an index out of range reads nothing and writes 0, where the reference fails).
// Any dtype of 1, 2, 4 or 8 bytes.
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

enum class Rearrange : int { kDepthToSpaceDcr, kDepthToSpaceCrd, kSpaceToDepth, kSpaceToDepthCrd, kTile, kGatherElements };

struct RearrangePlan {
  Rearrange op = Rearrange::kTile;
  int rank = 0;
  int64_t in_dims[kMaxRank], out_dims[kMaxRank], in_strides[kMaxRank];
  int64_t block = 1;  // DepthToSpace / SpaceToDepth
  int axis = 0;       // GatherElements
  bool idx32 = false;
  int64_t n = 0;
  size_t elem = 0;
};

bool plan_of(const ir::Node& n, RearrangePlan& p) {
  const std::string& t = n.op_type();
  if (!n.domain().empty() || n.num_outputs() != 1 || !n.output(0) || !n.input(0) || !all_static(n)) return false;
  DataType dt = dtype_of(n.input(0));
  if (is_sub_byte(dt) || dt == DataType::kString || dtype_of(n.output(0)) != dt) return false;
  p.elem = dtype_size(dt);
  if (p.elem != 1 && p.elem != 2 && p.elem != 4 && p.elem != 8) return false;
  auto x = dims_of(n.input(0)), y = dims_of(n.output(0));
  if (x.size() != y.size() || x.size() > static_cast<size_t>(kMaxRank)) return false;
  p.rank = static_cast<int>(x.size());
  int64_t stride = 1;
  p.n = 1;
  for (int d = p.rank - 1; d >= 0; --d) {
    p.in_dims[d] = x[static_cast<size_t>(d)];
    p.out_dims[d] = y[static_cast<size_t>(d)];
    p.in_strides[d] = stride;
    stride *= x[static_cast<size_t>(d)];
    p.n *= y[static_cast<size_t>(d)];
  }
  if (t == "DepthToSpace" || t == "SpaceToDepth") {
    if (p.rank != 4 || n.num_inputs() != 1) return false;
    p.block = n.attrs().get_int("blocksize", 0);
    const int64_t b = p.block;
    if (b < 1) return false;
    if (t == "DepthToSpace") {
      std::string mode = n.attrs().get_string("mode", "DCR");
      if (mode != "DCR" && mode != "CRD") return false;
      p.op = mode == "DCR" ? Rearrange::kDepthToSpaceDcr : Rearrange::kDepthToSpaceCrd;
      return x[1] % (b * b) == 0 && y[0] == x[0] && y[1] == x[1] / (b * b) && y[2] == x[2] * b && y[3] == x[3] * b;
    }
    std::string mode = n.attrs().get_string("mode", "DCR");  // SpaceToDepth-28 has the mode too
    if (mode != "DCR" && mode != "CRD") return false;
    p.op = mode == "DCR" ? Rearrange::kSpaceToDepth : Rearrange::kSpaceToDepthCrd;
    return x[2] % b == 0 && x[3] % b == 0 && y[0] == x[0] && y[1] == x[1] * b * b && y[2] == x[2] / b && y[3] == x[3] / b;
  }
  if (t == "Tile") {
    if (n.num_inputs() != 2 || !n.input(1) || p.rank == 0) return false;
    p.op = Rearrange::kTile;
    for (int d = 0; d < p.rank; ++d) {
      if (p.in_dims[d] == 0 ? p.out_dims[d] != 0 : p.out_dims[d] % p.in_dims[d] != 0) return false;
    }
    if (n.input(1)->is_constant()) {  // the constant repeats must give the planned shape
      auto reps = n.input(1)->constant().to_i64();
      if (static_cast<int>(reps.size()) != p.rank) return false;
      for (int d = 0; d < p.rank; ++d)
        if (reps[static_cast<size_t>(d)] * p.in_dims[d] != p.out_dims[d]) return false;
    }
    return true;
  }
  if (t == "GatherElements") {
    if (n.num_inputs() != 2 || !n.input(1) || p.rank == 0) return false;
    DataType it = dtype_of(n.input(1));
    if (it != DataType::kInt64 && it != DataType::kInt32) return false;
    p.idx32 = it == DataType::kInt32;
    if (dims_of(n.input(1)) != y) return false;
    int64_t axis = n.attrs().get_int("axis", 0);
    if (axis < -p.rank || axis >= p.rank) return false;
    p.axis = static_cast<int>(axis < 0 ? axis + p.rank : axis);
    for (int d = 0; d < p.rank; ++d)
      if (d != p.axis && p.out_dims[d] > p.in_dims[d]) return false;
    p.op = Rearrange::kGatherElements;
    return true;
  }
  return false;
}

// Input offset of output element i, or -1 (GatherElements index out of range).
__host__ __device__ int64_t source(const RearrangePlan& p, int64_t i, const void* indices) {
  int64_t o[kMaxRank];
  int64_t rest = i;
  for (int d = p.rank - 1; d >= 0; --d) {
    o[d] = rest % p.out_dims[d];
    rest /= p.out_dims[d];
  }
  const int64_t b = p.block;
  switch (p.op) {
    case Rearrange::kDepthToSpaceDcr:
    case Rearrange::kDepthToSpaceCrd: {
      const int64_t c = o[1], h = o[2] / b, bi = o[2] % b, w = o[3] / b, bj = o[3] % b;
      const int64_t cout = p.out_dims[1];
      const int64_t ci = p.op == Rearrange::kDepthToSpaceDcr ? (bi * b + bj) * cout + c : c * b * b + bi * b + bj;
      return o[0] * p.in_strides[0] + ci * p.in_strides[1] + h * p.in_strides[2] + w * p.in_strides[3];
    }
    case Rearrange::kSpaceToDepth:
    case Rearrange::kSpaceToDepthCrd: {
      const int64_t cin = p.in_dims[1];
      const bool dcr = p.op == Rearrange::kSpaceToDepth;
      const int64_t c = dcr ? o[1] % cin : o[1] / (b * b), blk = dcr ? o[1] / cin : o[1] % (b * b), bi = blk / b, bj = blk % b;
      return o[0] * p.in_strides[0] + c * p.in_strides[1] + (o[2] * b + bi) * p.in_strides[2] + (o[3] * b + bj) * p.in_strides[3];
    }
    case Rearrange::kTile: {
      int64_t off = 0;
      for (int d = 0; d < p.rank; ++d) off += (o[d] % p.in_dims[d]) * p.in_strides[d];
      return off;
    }
    default: {  // GatherElements
      int64_t k = p.idx32 ? static_cast<const int32_t*>(indices)[i] : static_cast<const int64_t*>(indices)[i];
      const int64_t dim = p.in_dims[p.axis];
      if (k < 0) k += dim;
      if (k < 0 || k >= dim) return -1;
      int64_t off = 0;
      for (int d = 0; d < p.rank; ++d) off += (d == p.axis ? k : o[d]) * p.in_strides[d];
      return off;
    }
  }
}

template <typename T>
__global__ void rearrange_kernel(const T* x, const void* indices, T* y, RearrangePlan p) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t s = source(p, i, indices);
    y[i] = s >= 0 ? x[s] : T(0);
  }
}

class RearrangeKernel : public runtime::Kernel {
 public:
  explicit RearrangeKernel(RearrangePlan p) : p_(p) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (p_.n == 0) return Status::ok();
    const void* idx = p_.op == Rearrange::kGatherElements ? in[1].data : nullptr;
    int grid = static_cast<int>(std::min<int64_t>((p_.n + 255) / 256, 132 * 32));
    auto s = static_cast<cudaStream_t>(launch.stream);
    switch (p_.elem) {
      case 1: rearrange_kernel<uint8_t><<<grid, 256, 0, s>>>(static_cast<const uint8_t*>(in[0].data), idx, static_cast<uint8_t*>(out[0].data), p_); break;
      case 2: rearrange_kernel<uint16_t><<<grid, 256, 0, s>>>(static_cast<const uint16_t*>(in[0].data), idx, static_cast<uint16_t*>(out[0].data), p_); break;
      case 4: rearrange_kernel<uint32_t><<<grid, 256, 0, s>>>(static_cast<const uint32_t*>(in[0].data), idx, static_cast<uint32_t*>(out[0].data), p_); break;
      default: rearrange_kernel<uint64_t><<<grid, 256, 0, s>>>(static_cast<const uint64_t*>(in[0].data), idx, static_cast<uint64_t*>(out[0].data), p_);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  RearrangePlan p_;
};

class RearrangeTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.rearrange"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    RearrangePlan p;
    return plan_of(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    RearrangePlan p;
    if (!plan_of(*spec.node, p))
      return unsupported(spec.node->describe() + ": not supported by cuda.rearrange (static shapes, rank <= 8)");
    return std::unique_ptr<runtime::Kernel>(new RearrangeKernel(p));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaRearrange, std::make_unique<RearrangeTactic>());

}  // namespace kiln::cuda
