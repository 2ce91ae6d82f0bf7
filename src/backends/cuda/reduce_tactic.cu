// cuda.reduce: ReduceSum/Mean/Max/Min/Prod/L1/L2/SumSquare/LogSum/LogSumExp over any set of
// axes (attribute, or a constant `axes` input), keepdims, noop_with_empty_axes; ArgMax /
// ArgMin (one axis, keepdims, select_last_index); and the row ops that write the row back:
// Hardmax (one-hot of the first maximum) and LpNormalization (p 1 or 2; a zero norm gives 0). Float32/float16/bfloat16 inputs, float
// accumulation. One warp per output element (one block when there are few outputs and long
// reductions); the reduced elements are walked in row-major order of the reduced dims.
#include <cfloat>
#include <cmath>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

enum class RedOp : int { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kSumSquare, kLogSum, kLogSumExp, kArgMax, kArgMin };
// Row ops that reduce and then write the whole row back (output shaped like the input).
enum class RowWrite : int { kNone, kHardmax, kLpNorm };

struct ReduceGeometry {
  int kept_rank = 0, red_rank = 0;
  int64_t kept_dims[kMaxRank], kept_strides[kMaxRank];  // input strides of the kept dims
  int64_t red_dims[kMaxRank], red_strides[kMaxRank];    // input strides of the reduced dims
  int64_t n_out = 0, n_red = 1;
  // Axes from a runtime input (as in the ONNX node tests): the kernel reads them and derives
  // the kept/reduced dims itself from the input's dims and strides below.
  int runtime_axes = -1;  // how many axes the runtime input holds; -1 when known at build time
  bool noop_with_empty_axes = false;
  int rank = 0;
  int64_t dims[kMaxRank], strides[kMaxRank];
  RedOp op = RedOp::kSum;
  RowWrite write = RowWrite::kNone;
  bool select_last = false;
  DataType dt = DataType::kFloat32;
};

bool op_of(const std::string& t, RedOp& op) {
  static const std::pair<const char*, RedOp> table[] = {
      {"ReduceSum", RedOp::kSum},         {"ReduceMean", RedOp::kMean},     {"ReduceMax", RedOp::kMax},
      {"ReduceMin", RedOp::kMin},         {"ReduceProd", RedOp::kProd},     {"ReduceL1", RedOp::kL1},
      {"ReduceL2", RedOp::kL2},           {"ReduceSumSquare", RedOp::kSumSquare}, {"ReduceLogSum", RedOp::kLogSum},
      {"ReduceLogSumExp", RedOp::kLogSumExp}, {"ArgMax", RedOp::kArgMax},  {"ArgMin", RedOp::kArgMin}};
  for (const auto& [name, o] : table)
    if (t == name) {
      op = o;
      return true;
    }
  return false;
}

// The static geometry of a node, or false when this tactic does not take it.
bool geometry(const ir::Node& n, ReduceGeometry& g) {
  // Hardmax (ArgMax over the row, written as one-hot) and LpNormalization (L1 / L2 norm, x / norm).
  g.write = RowWrite::kNone;
  if (n.domain().empty() && (n.op_type() == "Hardmax" || n.op_type() == "LpNormalization")) {
    if (n.num_inputs() != 1 || n.num_outputs() != 1 || !n.input(0) || !n.output(0) || !all_static(n)) return false;
    const bool hard = n.op_type() == "Hardmax";
    g.write = hard ? RowWrite::kHardmax : RowWrite::kLpNorm;
    if (hard) {
      g.op = RedOp::kArgMax;
    } else {
      int64_t p = n.attrs().get_int("p", 2);
      if (p != 1 && p != 2) return false;
      g.op = p == 1 ? RedOp::kL1 : RedOp::kL2;
    }
  } else if (!n.domain().empty() || !op_of(n.op_type(), g.op) || n.num_inputs() < 1 || !all_static(n)) {
    return false;
  }
  if (n.num_outputs() != 1 || !n.output(0)) return false;
  DataType dt = dtype_of(n.input(0));
  if (!is_kernel_float(dt)) return false;
  const bool is_arg = g.write == RowWrite::kNone && (g.op == RedOp::kArgMax || g.op == RedOp::kArgMin);
  if (dtype_of(n.output(0)) != (is_arg ? DataType::kInt64 : dt)) return false;
  auto x = dims_of(n.input(0));
  const int64_t rank = static_cast<int64_t>(x.size());
  if (rank > kMaxRank) return false;
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  if (g.write != RowWrite::kNone) {
    if (rank == 0 || dims_of(n.output(0)) != x) return false;
    // Hardmax before opset 13 coerces to 2-D at `axis` (default 1): the row is every dim from it.
    const ir::Graph* graph = n.owner();
    const bool coerce = g.write == RowWrite::kHardmax && graph && graph->opset("") < 13;
    int64_t axis = n.attrs().get_int("axis", coerce ? 1 : -1);
    if (axis < -rank || axis >= rank) return false;
    if (axis < 0) axis += rank;
    for (int64_t d = axis; d < (coerce ? rank : axis + 1); ++d) reduced[static_cast<size_t>(d)] = true;
    g.select_last = false;
  } else if (is_arg) {
    if (n.num_inputs() != 1 || rank == 0) return false;
    int64_t axis = n.attrs().get_int("axis", 0);
    if (axis < -rank || axis >= rank) return false;
    reduced[static_cast<size_t>(axis < 0 ? axis + rank : axis)] = true;
    g.select_last = n.attrs().get_int("select_last_index", 0) != 0;
  } else {
    // Axes: a constant second input (opset 13+ ReduceSum, 18+ the others) or the attribute
    // (older opsets); a model has one or the other, never both.
    std::vector<int64_t> axes;
    if (n.num_inputs() > 2) return false;
    g.noop_with_empty_axes = n.attrs().get_int("noop_with_empty_axes", 0) != 0;
    if (n.num_inputs() == 2 && n.input(1) && !n.input(1)->is_constant()) {
      const ir::Value* a = n.input(1);
      auto ad = dims_of(a);
      if (dtype_of(a) != DataType::kInt64 || ad.size() != 1 || ad[0] > rank) return false;
      g.runtime_axes = static_cast<int>(ad[0]);
    } else if (n.num_inputs() == 2 && n.input(1)) {
      const ir::Value* a = n.input(1);
      if (!a->is_constant() || a->constant().dtype() != DataType::kInt64 || a->constant().rank() > 1) return false;
      axes = a->constant().to_i64();
    } else {
      axes = n.attrs().get_ints("axes", {});
    }
    if (axes.empty()) {
      bool noop = n.attrs().get_int("noop_with_empty_axes", 0) != 0;
      reduced.assign(static_cast<size_t>(rank), !noop);
    }
    for (int64_t a : axes) {
      if (a < -rank || a >= rank) return false;
      size_t k = static_cast<size_t>(a < 0 ? a + rank : a);
      if (reduced[k]) return false;  // repeated axis: invalid, leave it to the reference's error
      reduced[k] = true;
    }
  }
  int64_t stride = 1;
  std::vector<int64_t> strides(static_cast<size_t>(rank));
  for (int64_t d = rank - 1; d >= 0; --d) {
    strides[static_cast<size_t>(d)] = stride;
    stride *= x[static_cast<size_t>(d)];
  }
  g.rank = static_cast<int>(rank);
  for (int64_t d = 0; d < rank; ++d) {
    g.dims[d] = x[static_cast<size_t>(d)];
    g.strides[d] = strides[static_cast<size_t>(d)];
  }
  g.kept_rank = g.red_rank = 0;
  g.n_out = 1;
  g.n_red = 1;
  for (int64_t d = 0; d < rank; ++d) {
    size_t k = static_cast<size_t>(d);
    if (reduced[k]) {
      g.red_dims[g.red_rank] = x[k];
      g.red_strides[g.red_rank++] = strides[k];
      g.n_red *= x[k];
    } else {
      g.kept_dims[g.kept_rank] = x[k];
      g.kept_strides[g.kept_rank++] = strides[k];
      g.n_out *= x[k];
    }
  }
  int64_t out_numel = 1;
  for (int64_t d : dims_of(n.output(0))) out_numel *= d;
  if (g.write != RowWrite::kNone) {
    // n_out (rows) as computed above; the output is the input's shape, checked above.
  } else if (g.runtime_axes >= 0) {
    g.n_out = out_numel;  // the kernel checks that the axes it reads give this many outputs
  } else if (out_numel != g.n_out) {
    return false;  // keepdims disagreement: not ours to judge
  }
  if ((is_arg || g.write == RowWrite::kHardmax) && g.n_red == 0 && g.n_out > 0) return false;  // arg of an empty axis
  g.dt = dt;
  return true;
}

// NaN-propagating max/min, as the reference (numpy) does.
__host__ __device__ inline float nan_max(float a, float b) { return (a != a || a >= b) ? a : b; }
__host__ __device__ inline float nan_min(float a, float b) { return (a != a || a <= b) ? a : b; }

struct Acc {
  float v;
  int64_t idx;  // arg ops only
};

__host__ __device__ inline Acc identity(RedOp op) {
  switch (op) {
    case RedOp::kMax: case RedOp::kArgMax: return {-INFINITY, -1};
    case RedOp::kMin: case RedOp::kArgMin: return {INFINITY, -1};
    case RedOp::kProd: return {1.f, 0};
    case RedOp::kLogSumExp: return {0.f, 0};  // the sum of exp(x - max)
    default: return {0.f, 0};
  }
}

// Is candidate b better than the current best a (arg ops)? NaN is the extreme; ties go to the
// first (or, with select_last_index, the last) index. idx -1 is "nothing yet".
__host__ __device__ inline bool arg_better(Acc a, Acc b, bool is_max, bool last) {
  if (b.idx < 0) return false;
  if (a.idx < 0) return true;
  bool a_nan = a.v != a.v, b_nan = b.v != b.v;
  bool tie_wins = last ? b.idx > a.idx : b.idx < a.idx;
  if (a_nan) return b_nan && tie_wins;
  if (b_nan) return true;
  if (b.v == a.v) return tie_wins;
  return is_max ? b.v > a.v : b.v < a.v;
}

__host__ __device__ inline Acc combine(Acc a, Acc b, RedOp op, bool last) {
  switch (op) {
    case RedOp::kMax: return {nan_max(a.v, b.v), 0};
    case RedOp::kMin: return {nan_min(a.v, b.v), 0};
    case RedOp::kProd: return {a.v * b.v, 0};
    case RedOp::kArgMax: return arg_better(a, b, true, last) ? b : a;
    case RedOp::kArgMin: return arg_better(a, b, false, last) ? b : a;
    default: return {a.v + b.v, 0};
  }
}

// The term one input element contributes (shift: the row max for LogSumExp).
__host__ __device__ inline float term(float x, RedOp op, float shift) {
  switch (op) {
    case RedOp::kL1: return fabsf(x);
    case RedOp::kL2: case RedOp::kSumSquare: return x * x;
    case RedOp::kLogSumExp: return expf(x - shift);
    default: return x;
  }
}

// Reduces `v` over the `group` threads that share an output (a warp, or the whole block).
__device__ Acc group_reduce(Acc v, RedOp op, bool last, int group, Acc* shared) {
  for (int o = 16; o > 0; o >>= 1) {
    Acc other{__shfl_xor_sync(0xffffffff, v.v, o), __shfl_xor_sync(0xffffffff, v.idx, o)};
    v = combine(v, other, op, last);
  }
  if (group <= 32) return v;
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = threadIdx.x < blockDim.x / 32 ? shared[threadIdx.x] : identity(op);
  if (warp == 0)
    for (int o = 16; o > 0; o >>= 1) {
      Acc other{__shfl_xor_sync(0xffffffff, v.v, o), __shfl_xor_sync(0xffffffff, v.idx, o)};
      v = combine(v, other, op, last);
    }
  if (threadIdx.x == 0) shared[0] = v;
  __syncthreads();
  Acc result = shared[0];
  __syncthreads();
  return result;
}

__host__ __device__ inline int64_t red_offset(const ReduceGeometry& g, int64_t r) {
  int64_t off = 0;
  for (int d = g.red_rank - 1; d >= 0; --d) {
    off += (r % g.red_dims[d]) * g.red_strides[d];
    r /= g.red_dims[d];
  }
  return off;
}

// group = 32: each warp of the block handles one output; group = blockDim.x: the block does.
// Fills the kept/reduced dims of g from axes read on the device (runtime axes input); false when
// they are out of range, repeated, or give another output size than the engine planned.
__host__ __device__ bool apply_runtime_axes(ReduceGeometry& g, const int64_t* axes) {
  bool reduced[kMaxRank];
  for (int d = 0; d < g.rank; ++d) reduced[d] = g.runtime_axes == 0 && !g.noop_with_empty_axes;
  for (int i = 0; i < g.runtime_axes; ++i) {
    int64_t a = axes[i];
    if (a < -g.rank || a >= g.rank) return false;
    if (a < 0) a += g.rank;
    if (reduced[a]) return false;
    reduced[a] = true;
  }
  g.kept_rank = g.red_rank = 0;
  g.n_red = 1;
  int64_t n_out = 1;
  for (int d = 0; d < g.rank; ++d) {
    if (reduced[d]) {
      g.red_dims[g.red_rank] = g.dims[d];
      g.red_strides[g.red_rank++] = g.strides[d];
      g.n_red *= g.dims[d];
    } else {
      g.kept_dims[g.kept_rank] = g.dims[d];
      g.kept_strides[g.kept_rank++] = g.strides[d];
      n_out *= g.dims[d];
    }
  }
  return n_out == g.n_out;
}

template <typename T>
__global__ void reduce_kernel(const T* x, void* y, ReduceGeometry g, int group, const int64_t* axes) {
  __shared__ Acc shared[32];
  // Every thread derives the same geometry, so a bad axes input skips the whole launch
  // uniformly (the output keeps whatever it held) rather than writing out of bounds.
  if (g.runtime_axes >= 0 && !apply_runtime_axes(g, axes)) return;
  const int lane = threadIdx.x % group;
  const int64_t groups_per_block = blockDim.x / group;
  const int64_t first = blockIdx.x * groups_per_block + threadIdx.x / group;
  const int64_t step = static_cast<int64_t>(gridDim.x) * groups_per_block;
  // Every thread of a block runs the same number of iterations (group_reduce may sync).
  const int64_t rounds = (g.n_out + step - 1) / step;
  for (int64_t round = 0; round < rounds; ++round) {
    const int64_t o = first + round * step;
    const bool active = o < g.n_out;
    int64_t base = 0;
    if (active) {
      int64_t rest = o;
      for (int d = g.kept_rank - 1; d >= 0; --d) {
        base += (rest % g.kept_dims[d]) * g.kept_strides[d];
        rest /= g.kept_dims[d];
      }
    }
    const bool is_arg = g.op == RedOp::kArgMax || g.op == RedOp::kArgMin;  // Hardmax too
    float shift = 0.f;
    if (g.op == RedOp::kLogSumExp) {  // the row max first (finite values only, as the reference)
      Acc m{-INFINITY, 0};
      if (active)
        for (int64_t r = lane; r < g.n_red; r += group) {
          float v = to_float(x[base + red_offset(g, r)]);
          if (isfinite(v)) m.v = fmaxf(m.v, v);
        }
      m = group_reduce(m, RedOp::kMax, false, group, shared);
      shift = isfinite(m.v) ? m.v : 0.f;
    }
    Acc acc = identity(g.op);
    if (active)
      for (int64_t r = lane; r < g.n_red; r += group) {
        float v = to_float(x[base + red_offset(g, r)]);
        Acc t = is_arg ? Acc{v, r} : Acc{term(v, g.op, shift), 0};
        acc = combine(acc, t, g.op, g.select_last);
      }
    acc = group_reduce(acc, g.op, g.select_last, group, shared);
    if (g.write != RowWrite::kNone) {  // every lane writes its share of the row back
      if (active) {
        const float norm = g.op == RedOp::kL2 ? sqrtf(acc.v) : acc.v;
        for (int64_t r = lane; r < g.n_red; r += group) {
          const int64_t at = base + red_offset(g, r);
          float v;
          if (g.write == RowWrite::kHardmax) v = r == acc.idx ? 1.f : 0.f;
          else v = norm == 0.f ? 0.f : to_float(x[at]) / norm;
          static_cast<T*>(y)[at] = from_float<T>(v);
        }
      }
      continue;
    }
    if (active && lane == 0) {
      float v = acc.v;
      switch (g.op) {
        case RedOp::kMean: v = v / static_cast<float>(g.n_red); break;
        case RedOp::kL2: v = sqrtf(v); break;
        case RedOp::kLogSum: v = logf(v); break;
        case RedOp::kLogSumExp: v = logf(v) + shift; break;
        default: break;
      }
      if (is_arg) static_cast<int64_t*>(y)[o] = acc.idx < 0 ? 0 : acc.idx;
      else static_cast<T*>(y)[o] = from_float<T>(v);
    }
  }
}

class ReduceKernel : public runtime::Kernel {
 public:
  explicit ReduceKernel(ReduceGeometry g) : g_(g) {}
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (g_.n_out == 0) return Status::ok();
    auto stream = static_cast<cudaStream_t>(launch.stream);
    // Few outputs with long reductions: a block of 512 per output; otherwise a warp per output.
    int64_t numel = 1;
    for (int d = 0; d < g_.rank; ++d) numel *= g_.dims[d];
    const bool block_mode = g_.n_out < 1024 && numel / g_.n_out >= 2048;
    const int64_t* axes = g_.runtime_axes >= 0 && in.size() > 1 ? static_cast<const int64_t*>(in[1].data) : nullptr;
    if (g_.runtime_axes > 0 && !axes) return invalid_argument("ReduceOp: the axes input is missing");
    const int threads = block_mode ? 512 : 256;
    const int group = block_mode ? threads : 32;
    const int64_t per_block = threads / group;
    const int grid = static_cast<int>(std::min<int64_t>((g_.n_out + per_block - 1) / per_block, 132 * 16));
    switch (g_.dt) {
      case DataType::kFloat32:
        reduce_kernel<float><<<grid, threads, 0, stream>>>(static_cast<const float*>(in[0].data), out[0].data, g_, group, axes);
        break;
      case DataType::kFloat16:
        reduce_kernel<__half><<<grid, threads, 0, stream>>>(static_cast<const __half*>(in[0].data), out[0].data, g_, group, axes);
        break;
      default:
        reduce_kernel<__nv_bfloat16><<<grid, threads, 0, stream>>>(static_cast<const __nv_bfloat16*>(in[0].data),
                                                                    out[0].data, g_, group, axes);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  ReduceGeometry g_;
};

class ReduceTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.reduce"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    ReduceGeometry g;
    return geometry(n, g);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    ReduceGeometry g;
    if (!geometry(*spec.node, g))
      return unsupported(spec.node->describe() + ": not supported by cuda.reduce (float inputs, static shapes, "
                                                 "constant axes, rank <= 8)");
    return std::unique_ptr<runtime::Kernel>(new ReduceKernel(g));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaReduce, std::make_unique<ReduceTactic>());

}  // namespace kiln::cuda
