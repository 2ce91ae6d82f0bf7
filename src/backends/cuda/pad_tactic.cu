// cuda.pad: Pad with modes constant / edge / reflect / wrap and constant pads (the attribute in
// old opsets, a constant input from opset 11; constant `axes` from 18), negative pads crop.
// Any dtype of 1, 2, 4 or 8 bytes; the fill value is stored as raw bytes of the dtype.
#include <cstring>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

enum class PadMode : int { kConstant, kEdge, kReflect, kWrap };

struct PadPlan {
  int rank = 0;
  int64_t out_dims[kMaxRank];
  int64_t in_strides[kMaxRank];
  int64_t lo[kMaxRank];   // first input index kept (after cropping by negative begin pads)
  int64_t len[kMaxRank];  // input elements kept on the axis (after cropping)
  int64_t pb[kMaxRank];   // positive begin padding
  int64_t n = 0;
  PadMode mode = PadMode::kConstant;
  uint64_t fill = 0;  // raw bytes of the fill value
  size_t elem = 0;
  // Pads from a runtime input (as in the ONNX node tests): the kernel reads begin/end for dim d
  // at pads[pad_index[d]] and pads[n_axes + pad_index[d]] (-1: not padded).
  bool runtime_pads = false;
  int n_axes = 0;
  int pad_index[kMaxRank];
  int64_t in_dims[kMaxRank];
  bool runtime_fill = false;  // the fill value from a runtime input
};

bool const_ints(const ir::Value* v, std::vector<int64_t>& out) {
  if (!v || !v->is_constant()) return false;
  const Tensor& t = v->constant();
  if ((t.dtype() != DataType::kInt64 && t.dtype() != DataType::kInt32) || t.rank() > 1) return false;
  out = t.to_i64();
  return true;
}

bool plan_of(const ir::Node& n, PadPlan& p) {
  if (n.op_type() != "Pad" || !n.domain().empty() || n.num_inputs() < 1 || n.num_outputs() != 1 || !all_static(n))
    return false;
  DataType dt = dtype_of(n.input(0));
  if (dtype_of(n.output(0)) != dt || is_sub_byte(dt) || dt == DataType::kString) return false;
  const size_t es = dtype_size(dt);
  if (es != 1 && es != 2 && es != 4 && es != 8) return false;
  auto x = dims_of(n.input(0)), y = dims_of(n.output(0));
  const int64_t rank = static_cast<int64_t>(x.size());
  if (rank > kMaxRank || y.size() != x.size()) return false;
  // Pads: input 1 (opset 11+) or the attribute (`pads`, or `paddings` in opset 1).
  std::vector<int64_t> pads;
  const bool pads_input = n.num_inputs() > 1 && n.input(1);
  p.runtime_pads = pads_input && !n.input(1)->is_constant();
  if (p.runtime_pads) {
    auto pd = dims_of(n.input(1));
    if (dtype_of(n.input(1)) != DataType::kInt64 || pd.size() != 1) return false;
    pads.assign(static_cast<size_t>(pd[0]), 0);  // placeholders: only the count matters here
  } else if (pads_input) {
    if (!const_ints(n.input(1), pads)) return false;
  } else if (n.attrs().has("pads")) {
    pads = n.attrs().get_ints("pads", {});
  } else {
    pads = n.attrs().get_ints("paddings", {});
  }
  std::vector<int64_t> axes;
  if (n.num_inputs() > 3 && n.input(3)) {
    if (!const_ints(n.input(3), axes)) return false;
  } else {
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
  }
  if (pads.size() != 2 * axes.size()) return false;
  std::vector<int64_t> begin(static_cast<size_t>(rank), 0), end(static_cast<size_t>(rank), 0);
  for (int d = 0; d < kMaxRank; ++d) p.pad_index[d] = -1;
  p.n_axes = static_cast<int>(axes.size());
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t a = axes[i];
    if (a < -rank || a >= rank) return false;
    if (a < 0) a += rank;
    if (p.pad_index[a] >= 0) return false;
    p.pad_index[a] = static_cast<int>(i);
    begin[static_cast<size_t>(a)] = pads[i];
    end[static_cast<size_t>(a)] = pads[axes.size() + i];
  }
  std::string mode = n.attrs().get_string("mode", "constant");
  if (mode == "constant") p.mode = PadMode::kConstant;
  else if (mode == "edge") p.mode = PadMode::kEdge;
  else if (mode == "reflect") p.mode = PadMode::kReflect;
  else if (mode == "wrap") p.mode = PadMode::kWrap;
  else return false;
  // The fill value: input 2 (same dtype as x, one element) or the `value` attribute (float
  // inputs of old opsets).
  p.fill = 0;
  p.runtime_fill = false;
  if (n.num_inputs() > 2 && n.input(2)) {
    const ir::Value* v = n.input(2);
    if (dtype_of(v) != dt) return false;
    if (v->is_constant()) {
      if (v->constant().numel() != 1) return false;
      std::memcpy(&p.fill, v->constant().raw(), es);
    } else {
      int64_t count = 1;
      for (int64_t d : dims_of(v)) count *= d;
      if (count != 1) return false;
      p.runtime_fill = true;
    }
  } else if (!pads_input && n.attrs().has("value")) {
    if (dt != DataType::kFloat32) return false;
    float f = n.attrs().get_float("value", 0.f);
    std::memcpy(&p.fill, &f, 4);
  }
  p.rank = static_cast<int>(rank);
  p.n = 1;
  int64_t stride = 1;
  for (int64_t d = rank - 1; d >= 0; --d) {
    size_t k = static_cast<size_t>(d);
    p.in_strides[d] = stride;
    stride *= x[k];
    p.lo[d] = std::max<int64_t>(0, -begin[k]);
    p.len[d] = x[k] - std::max<int64_t>(0, -end[k]) - p.lo[d];
    p.pb[d] = std::max<int64_t>(0, begin[k]);
    p.out_dims[d] = y[k];
    p.in_dims[d] = x[k];
    p.n *= y[k];
    if (p.runtime_pads) continue;  // checked by the kernel against the pads it reads
    if (y[k] != x[k] + begin[k] + end[k] || p.len[d] < 0) return false;
    // Edge/reflect/wrap need input to copy from where they pad.
    if (p.mode != PadMode::kConstant && p.len[d] == 0 && y[k] > 0) return false;
  }
  p.elem = es;
  return true;
}

// Input index on one axis for output coordinate c (already shifted by the begin padding), or -1
// for the fill value. Same rules as the CPU reference (src/ops/slice_pad.cpp).
__host__ __device__ inline int64_t pad_coord(int64_t c, int64_t n, PadMode mode) {
  if (c >= 0 && c < n) return c;
  switch (mode) {
    case PadMode::kConstant: return -1;
    case PadMode::kEdge: return c < 0 ? 0 : n - 1;
    case PadMode::kWrap: return ((c % n) + n) % n;
    default: {
      if (n == 1) return 0;
      int64_t p = 2 * (n - 1);
      c = ((c % p) + p) % p;
      return c >= n ? p - c : c;
    }
  }
}

// Reads runtime pads into p; false when they do not give the planned output dims (then the
// whole launch writes nothing, uniformly, rather than reading out of bounds).
__host__ __device__ bool apply_runtime_pads(PadPlan& p, const int64_t* pads) {
  for (int d = 0; d < p.rank; ++d) {
    int64_t b = 0, e = 0;
    if (p.pad_index[d] >= 0) {
      b = pads[p.pad_index[d]];
      e = pads[p.n_axes + p.pad_index[d]];
    }
    p.lo[d] = b < 0 ? -b : 0;
    p.len[d] = p.in_dims[d] - (e < 0 ? -e : 0) - p.lo[d];
    p.pb[d] = b > 0 ? b : 0;
    if (p.in_dims[d] + b + e != p.out_dims[d] || p.len[d] < 0) return false;
    if (p.mode != PadMode::kConstant && p.len[d] == 0 && p.out_dims[d] > 0) return false;
  }
  return true;
}

template <typename T>
__global__ void pad_kernel(const T* x, T* y, PadPlan p, const int64_t* pads, const T* fill_ptr) {
  if (p.runtime_pads && !apply_runtime_pads(p, pads)) return;
  T fill;
  if (fill_ptr) fill = *fill_ptr;
  else memcpy(&fill, &p.fill, sizeof(T));
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t rest = i, off = 0;
    bool inside = true;
    for (int d = p.rank - 1; d >= 0; --d) {
      int64_t o = rest % p.out_dims[d];
      rest /= p.out_dims[d];
      int64_t c = pad_coord(o - p.pb[d], p.len[d], p.mode);
      if (c < 0) inside = false;
      else off += (c + p.lo[d]) * p.in_strides[d];
    }
    y[i] = inside ? x[off] : fill;
  }
}

class PadKernel : public runtime::Kernel {
 public:
  explicit PadKernel(PadPlan p) : p_(p) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (p_.n == 0) return Status::ok();
    int grid = static_cast<int>(std::min<int64_t>((p_.n + 255) / 256, 132 * 32));
    auto s = static_cast<cudaStream_t>(launch.stream);
    const int64_t* pads = p_.runtime_pads ? static_cast<const int64_t*>(in[1].data) : nullptr;
    const void* fill = p_.runtime_fill ? in[2].data : nullptr;
    if ((p_.runtime_pads && !pads) || (p_.runtime_fill && !fill)) return invalid_argument("Pad: an input is missing");
    switch (p_.elem) {
      case 1: pad_kernel<uint8_t><<<grid, 256, 0, s>>>(static_cast<const uint8_t*>(in[0].data), static_cast<uint8_t*>(out[0].data), p_, pads, static_cast<const uint8_t*>(fill)); break;
      case 2: pad_kernel<uint16_t><<<grid, 256, 0, s>>>(static_cast<const uint16_t*>(in[0].data), static_cast<uint16_t*>(out[0].data), p_, pads, static_cast<const uint16_t*>(fill)); break;
      case 4: pad_kernel<uint32_t><<<grid, 256, 0, s>>>(static_cast<const uint32_t*>(in[0].data), static_cast<uint32_t*>(out[0].data), p_, pads, static_cast<const uint32_t*>(fill)); break;
      default: pad_kernel<uint64_t><<<grid, 256, 0, s>>>(static_cast<const uint64_t*>(in[0].data), static_cast<uint64_t*>(out[0].data), p_, pads, static_cast<const uint64_t*>(fill));
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  PadPlan p_;
};

class PadTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.pad"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    PadPlan p;
    return plan_of(n, p);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    PadPlan p;
    if (!plan_of(*spec.node, p))
      return unsupported(spec.node->describe() + ": not supported by cuda.pad (constant pads/value/axes, static shapes, "
                                                 "modes constant/edge/reflect/wrap)");
    return std::unique_ptr<runtime::Kernel>(new PadKernel(p));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaPad, std::make_unique<PadTactic>());

}  // namespace kiln::cuda
