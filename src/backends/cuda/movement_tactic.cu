// cuda.movement: data-movement ops for any fixed-size dtype, moving elements by their byte
// size: Reshape/Flatten/Squeeze/Unsqueeze/Identity (a copy), Transpose, Concat, Slice, Gather,
// Expand, and kiln::SampledConcat; Concat, Slice and SampledConcat also channels-last. Index math in int64 over rank <= 8. Strided copies (Transpose, Slice, Expand) first
// merge dims that stay contiguous and drop dims of 1; when the innermost run is contiguous in the
// input they move 16 (or 8, 4) bytes per thread; a transpose that moves the input's contiguous
// dim away from the innermost position goes through 32x32 tiles in shared memory, so both the
// reads and the writes are coalesced.
#include <algorithm>
#include <numeric>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/pointwise.cuh"
#include "backends/cuda/tactic_util.h"
#include "ops/common/broadcast.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

// out element i reads in[offset(i)], offset = sum(idx_d * in_stride_d) + base.
struct Gather1Map {
  int rank;
  int64_t out_dims[kMaxRank];
  int64_t in_strides[kMaxRank];
  int64_t base;
};

// The input offset `m` gives output element i. I: the index type (int32 when the tensors are
// under 2^31 elements: cheaper division).
template <typename I>
__device__ __forceinline__ I map_offset(const Gather1Map& m, I i) {
  I rem = i, off = static_cast<I>(m.base);
  for (int d = m.rank - 1; d >= 0; --d) {
    I dim = static_cast<I>(m.out_dims[d]);
    off += (rem % dim) * static_cast<I>(m.in_strides[d]);
    rem /= dim;
  }
  return off;
}

template <typename E, typename I>
__global__ void strided_copy_kernel(const E* in, E* out, I n, Gather1Map m) {
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n; i += static_cast<I>(gridDim.x) * blockDim.x)
    out[i] = in[map_offset(m, i)];
}

// Merges output dims d, d+1 when the input walks them as one (in_stride[d] = in_stride[d+1] *
// out_dims[d+1]) and drops dims of extent 1: the same copy with fewer index steps.
Gather1Map coalesce(const Gather1Map& m) {
  Gather1Map r{};
  r.base = m.base;
  r.rank = 0;
  for (int d = 0; d < m.rank; ++d) {
    if (m.out_dims[d] == 1) continue;
    if (r.rank > 0 && r.in_strides[r.rank - 1] == m.in_strides[d] * m.out_dims[d]) {
      r.out_dims[r.rank - 1] *= m.out_dims[d];
      r.in_strides[r.rank - 1] = m.in_strides[d];
      continue;
    }
    r.out_dims[r.rank] = m.out_dims[d];
    r.in_strides[r.rank] = m.in_strides[d];
    ++r.rank;
  }
  if (r.rank == 0) {  // a single element
    r.rank = 1;
    r.out_dims[0] = 1;
    r.in_strides[0] = 1;
  }
  return r;
}

// The map in units of `width` bytes when the innermost dim is contiguous in the input and every
// extent/stride/offset divides; 0 when not.
int vector_width(const Gather1Map& m, size_t elem) {
  for (int width : {16, 8, 4}) {
    if (static_cast<size_t>(width) <= elem || width % elem != 0) continue;
    const int64_t v = width / static_cast<int64_t>(elem);
    bool ok = m.in_strides[m.rank - 1] == 1 && m.out_dims[m.rank - 1] % v == 0 && m.base % v == 0;
    for (int d = 0; d + 1 < m.rank && ok; ++d) ok = m.in_strides[d] % v == 0;
    if (ok) return width;
  }
  return 0;
}

Gather1Map vectorized(const Gather1Map& m, size_t elem, int width) {
  const int64_t v = width / static_cast<int64_t>(elem);
  Gather1Map r = m;
  r.out_dims[r.rank - 1] /= v;
  for (int d = 0; d + 1 < r.rank; ++d) r.in_strides[d] /= v;
  r.base /= v;
  return r;
}

// A copy whose input-contiguous dim `a` is not the output's innermost dim L: 32x32 tiles of
// (a, L) through shared memory; the other dims index whole tiles.
struct TileMap {
  int64_t a_dim, l_dim;       // extents of a and L
  int64_t l_in_stride;        // input stride of L (a has input stride 1)
  int64_t a_out_stride;       // output stride of a (L has output stride 1)
  int rest_rank;              // the other dims, outermost first
  int64_t rest_dims[kMaxRank], rest_in[kMaxRank], rest_out[kMaxRank];
  int64_t rest_count;         // product of rest_dims
  int64_t base;
};

constexpr int kTile = 32, kTileRows = 8;

template <typename E>
__global__ void tiled_transpose_kernel(const E* in, E* out, TileMap t) {
  __shared__ E tile[kTile][kTile + 1];  // [l][a]
  const int64_t a0 = static_cast<int64_t>(blockIdx.y) * kTile, l0 = static_cast<int64_t>(blockIdx.x) * kTile;
  for (int64_t r = blockIdx.z; r < t.rest_count; r += gridDim.z) {
    int64_t rem = r, in_off = t.base, out_off = 0;
    for (int d = t.rest_rank - 1; d >= 0; --d) {
      int64_t idx = rem % t.rest_dims[d];
      rem /= t.rest_dims[d];
      in_off += idx * t.rest_in[d];
      out_off += idx * t.rest_out[d];
    }
    // Read: threads along a (contiguous in the input).
    const int64_t a = a0 + threadIdx.x;
    for (int k = threadIdx.y; k < kTile; k += kTileRows) {
      const int64_t l = l0 + k;
      if (a < t.a_dim && l < t.l_dim) tile[k][threadIdx.x] = in[in_off + a + l * t.l_in_stride];
    }
    __syncthreads();
    // Write: threads along L (contiguous in the output).
    const int64_t l = l0 + threadIdx.x;
    for (int k = threadIdx.y; k < kTile; k += kTileRows) {
      const int64_t aa = a0 + k;
      if (aa < t.a_dim && l < t.l_dim) out[out_off + aa * t.a_out_stride + l] = tile[threadIdx.x][k];
    }
    __syncthreads();
  }
}

// The tile form of a coalesced map, when it applies (rank >= 2, innermost output dim not
// contiguous in the input, another dim that is, and both at least a tile's worth).
bool tile_map(const Gather1Map& m, TileMap& t) {
  if (m.rank < 2 || m.in_strides[m.rank - 1] == 1) return false;
  int a = -1;
  for (int d = 0; d + 1 < m.rank; ++d)
    if (m.in_strides[d] == 1) a = d;
  if (a < 0) return false;
  t = TileMap{};
  t.a_dim = m.out_dims[a];
  t.l_dim = m.out_dims[m.rank - 1];
  if (t.a_dim < 8 || t.l_dim < 8) return false;  // thin: the plain copy does as well
  if ((t.a_dim + kTile - 1) / kTile > 65535 || (t.l_dim + kTile - 1) / kTile > (int64_t{1} << 31) - 1) return false;
  t.l_in_stride = m.in_strides[m.rank - 1];
  int64_t out_stride[kMaxRank];
  int64_t s = 1;
  for (int d = m.rank - 1; d >= 0; --d) {
    out_stride[d] = s;
    s *= m.out_dims[d];
  }
  t.a_out_stride = out_stride[a];
  t.rest_count = 1;
  for (int d = 0; d + 1 < m.rank; ++d) {
    if (d == a) continue;
    t.rest_dims[t.rest_rank] = m.out_dims[d];
    t.rest_in[t.rest_rank] = m.in_strides[d];
    t.rest_out[t.rest_rank] = out_stride[d];
    t.rest_count *= m.out_dims[d];
    ++t.rest_rank;
  }
  t.base = m.base;
  return true;
}

// Gather along one axis: out[outer, j, inner] = in[outer, idx[j], inner].
template <typename E, typename I>
__global__ void gather_kernel(const E* in, const I* idx, E* out, int64_t outer, int64_t nidx, int64_t inner,
                              int64_t axis_dim, int* bad) {
  int64_t n = outer * nidx * inner;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t in_i = i % inner, j = (i / inner) % nidx, o = i / (inner * nidx);
    int64_t k = static_cast<int64_t>(idx[j]);
    if (k < 0) k += axis_dim;
    if (k < 0 || k >= axis_dim) {
      *bad = 1;
      k = 0;
    }
    out[i] = in[(o * axis_dim + k) * inner + in_i];
  }
}

int grid_for(int64_t n) {
  int64_t blocks = (n + 255) / 256;
  return static_cast<int>(std::min<int64_t>(std::max<int64_t>(blocks, 1), 132 * 32));
}

template <typename F>
void by_element_size(size_t size, F&& f) {
  switch (size) {
    case 1: f(uint8_t{}); break;
    case 2: f(uint16_t{}); break;
    case 4: f(uint32_t{}); break;
    default: f(uint64_t{}); break;
  }
}

// f(unit) for a copy unit of `width` bytes (16, 8 or 4), else for the element itself.
template <typename F>
void by_unit_bytes(int width, size_t elem, F&& f) {
  if (width == 16) f(uint4{});
  else if (width == 8) f(uint2{});
  else if (width == 4) f(uint32_t{});
  else by_element_size(elem, f);
}

std::vector<int64_t> row_major_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

// One strided copy per input: the general form of every op here but Gather.
struct CopyPlan {
  size_t input;            // which node input
  int64_t out_offset;      // element offset of this piece in the output
  Gather1Map map;
  int64_t n;
  bool concat_piece = false;
  int64_t piece_inner = 0;  // elements per outer index in this piece
  bool sampled_piece = false;  // kiln::SampledConcat: `map` reads the piece, placed as a concat piece
  // Filled by optimize_plan for strided copies:
  int vec_width = 0;        // bytes per thread of the vector form (0: none)
  Gather1Map vec_map{};     // the map in vec_width units
  bool tiled = false;
  TileMap tile{};
};

// Coalesces a strided copy and prepares its vector or tiled form.
void optimize_plan(CopyPlan& p, size_t elem) {
  if (p.concat_piece) return;
  if (p.sampled_piece) {  // the vector form also needs the placement to divide (enqueue)
    p.map = coalesce(p.map);
    return;
  }
  p.map = coalesce(p.map);
  if (tile_map(p.map, p.tile)) {
    p.tiled = true;
    return;
  }
  p.vec_width = vector_width(p.map, elem);
  if (p.vec_width) p.vec_map = vectorized(p.map, elem, p.vec_width);
}

bool aligned_to(const void* p, int width) { return reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(width) == 0; }

// One Concat input into its slice of the output, in units of V (the element, or 4-16 bytes of
// them when the piece's rows and offset allow) with index type I.
template <typename V, typename I>
__global__ void concat_piece_kernel(const V* in, V* out, I outer, I piece_inner, I out_inner, I offset) {
  const I n = outer * piece_inner;
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n; i += static_cast<I>(gridDim.x) * blockDim.x) {
    out[(i / piece_inner) * out_inner + offset + i % piece_inner] = in[i];
  }
}

// The widest unit (16, 8 or 4 bytes; else the element) that divides a Concat piece's row, the
// output's row and the piece's offset, with both pointers aligned to it.
int concat_unit_bytes(size_t elem, int64_t piece_inner, int64_t out_inner, int64_t offset, const void* src,
                      const void* dst) {
  for (int w : {16, 8, 4}) {
    if (static_cast<size_t>(w) <= elem) break;
    const int64_t per = w / static_cast<int64_t>(elem);
    if (piece_inner % per == 0 && out_inner % per == 0 && offset % per == 0 && aligned_to(src, w) && aligned_to(dst, w))
      return w;
  }
  return static_cast<int>(elem);
}

template <typename V>
void launch_concat_piece(const void* src, void* dst, int64_t outer, int64_t piece_inner, int64_t out_inner,
                         int64_t offset, cudaStream_t stream) {
  const int64_t n = outer * piece_inner;
  const V* in = static_cast<const V*>(src);
  V* out = static_cast<V*>(dst);
  if (outer * out_inner <= INT32_MAX)  // 32-bit division is several times cheaper
    concat_piece_kernel<V, int32_t><<<grid_for(n), 256, 0, stream>>>(
        in, out, static_cast<int32_t>(outer), static_cast<int32_t>(piece_inner), static_cast<int32_t>(out_inner),
        static_cast<int32_t>(offset));
  else
    concat_piece_kernel<V, int64_t><<<grid_for(n), 256, 0, stream>>>(in, out, outer, piece_inner, out_inner, offset);
}

// A kiln::SampledConcat piece: element i of the sampled input (read through `m`) goes where
// Concat puts element i of a piece.
template <typename V, typename I>
__global__ void sampled_piece_kernel(const V* in, V* out, I n, Gather1Map m, I piece_inner, I out_inner, I offset) {
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < n; i += static_cast<I>(gridDim.x) * blockDim.x)
    out[(i / piece_inner) * out_inner + offset + i % piece_inner] = in[map_offset(m, i)];
}

template <typename V>
void launch_sampled_piece(const void* src, void* dst, int64_t n, const Gather1Map& m, int64_t piece_inner,
                          int64_t out_inner, int64_t offset, int64_t out_total, cudaStream_t stream) {
  if (out_total <= INT32_MAX)
    sampled_piece_kernel<V, int32_t><<<grid_for(n), 256, 0, stream>>>(
        static_cast<const V*>(src), static_cast<V*>(dst), static_cast<int32_t>(n), m, static_cast<int32_t>(piece_inner),
        static_cast<int32_t>(out_inner), static_cast<int32_t>(offset));
  else
    sampled_piece_kernel<V, int64_t><<<grid_for(n), 256, 0, stream>>>(static_cast<const V*>(src), static_cast<V*>(dst), n,
                                                                      m, piece_inner, out_inner, offset);
}

class MovementKernel : public runtime::Kernel {
 public:
  MovementKernel(size_t elem, std::vector<CopyPlan> plans, int64_t concat_out_inner, bool small)
      : elem_(elem), plans_(std::move(plans)), concat_out_inner_(concat_out_inner), small_(small) {}

  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    auto stream = static_cast<cudaStream_t>(launch.stream);
    for (const CopyPlan& p : plans_) {
      if (p.n == 0) continue;
      if (p.tiled) {
        dim3 grid(static_cast<unsigned>((p.tile.l_dim + kTile - 1) / kTile),
                  static_cast<unsigned>(std::min<int64_t>((p.tile.a_dim + kTile - 1) / kTile, 65535)),
                  static_cast<unsigned>(std::min<int64_t>(p.tile.rest_count, 65535)));
        by_element_size(elem_, [&](auto tag) {
          using E = decltype(tag);
          tiled_transpose_kernel<E><<<grid, dim3(kTile, kTileRows), 0, stream>>>(
              static_cast<const E*>(in[p.input].data), static_cast<E*>(out[0].data) + p.out_offset, p.tile);
        });
        KILN_CUDA_CHECK_LAUNCH();
        continue;
      }
      char* dst_bytes = static_cast<char*>(out[0].data) + p.out_offset * static_cast<int64_t>(elem_);
      if (p.vec_width && aligned_to(in[p.input].data, p.vec_width) && aligned_to(dst_bytes, p.vec_width)) {
        const int64_t nv = p.n / (p.vec_width / static_cast<int64_t>(elem_));
        auto launch_vec = [&](auto tag) {
          using V = decltype(tag);
          const V* src = static_cast<const V*>(in[p.input].data);
          V* dst = reinterpret_cast<V*>(dst_bytes);
          if (small_)
            strided_copy_kernel<V, int32_t><<<grid_for(nv), 256, 0, stream>>>(src, dst, static_cast<int32_t>(nv), p.vec_map);
          else
            strided_copy_kernel<V, int64_t><<<grid_for(nv), 256, 0, stream>>>(src, dst, nv, p.vec_map);
        };
        if (p.vec_width == 16) launch_vec(uint4{});
        else if (p.vec_width == 8) launch_vec(uint2{});
        else launch_vec(uint32_t{});
        KILN_CUDA_CHECK_LAUNCH();
        continue;
      }
      if (p.sampled_piece) {
        // 16/8/4-byte units when the map's inner run and the placement divide, else elements.
        int w = vector_width(p.map, elem_);
        const int64_t per_w = w ? w / static_cast<int64_t>(elem_) : 1;
        if (w && (p.piece_inner % per_w || concat_out_inner_ % per_w || p.out_offset % per_w ||
                  !aligned_to(in[p.input].data, w) || !aligned_to(out[0].data, w)))
          w = 0;
        const Gather1Map m = w ? vectorized(p.map, elem_, w) : p.map;
        const int64_t per = w ? per_w : 1;
        const int64_t out_total = (p.n / p.piece_inner) * concat_out_inner_ / per;
        auto launch_units = [&](auto tag) {
          launch_sampled_piece<decltype(tag)>(in[p.input].data, out[0].data, p.n / per, m, p.piece_inner / per,
                                              concat_out_inner_ / per, p.out_offset / per, out_total, stream);
        };
        by_unit_bytes(w, elem_, launch_units);
        KILN_CUDA_CHECK_LAUNCH();
        continue;
      }
      if (p.concat_piece) {
        const int w = concat_unit_bytes(elem_, p.piece_inner, concat_out_inner_, p.out_offset, in[p.input].data,
                                        out[0].data);
        const int64_t per = w / static_cast<int64_t>(elem_);
        const int64_t outer = p.n / p.piece_inner;
        auto launch_units = [&](auto tag) {
          launch_concat_piece<decltype(tag)>(in[p.input].data, out[0].data, outer, p.piece_inner / per,
                                             concat_out_inner_ / per, p.out_offset / per, stream);
        };
        by_unit_bytes(w, elem_, launch_units);
        KILN_CUDA_CHECK_LAUNCH();
        continue;
      }
      by_element_size(elem_, [&](auto tag) {
        using E = decltype(tag);
        const E* src = static_cast<const E*>(in[p.input].data);
        E* dst = static_cast<E*>(out[0].data);
        if (small_)
          strided_copy_kernel<E, int32_t><<<grid_for(p.n), 256, 0, stream>>>(src, dst + p.out_offset,
                                                                            static_cast<int32_t>(p.n), p.map);
        else
          strided_copy_kernel<E, int64_t><<<grid_for(p.n), 256, 0, stream>>>(src, dst + p.out_offset, p.n, p.map);
      });
      KILN_CUDA_CHECK_LAUNCH();
    }
    return Status::ok();
  }

 private:
  size_t elem_;
  std::vector<CopyPlan> plans_;
  int64_t concat_out_inner_;
  bool small_;  // every index fits in int32
};

Gather1Map contiguous_map(int64_t n) {
  Gather1Map m{};
  m.rank = 1;
  m.out_dims[0] = n;
  m.in_strides[0] = 1;
  return m;
}

// Builds the copy plans of a node; false when this tactic does not handle it.
// Channels-last Concat and Slice: every 4-D value is planned in its stored order [N,H,W,C]
// (a layout-neutral one has those bytes too), with the node's axes mapped to it.
bool channels_last_node(const ir::Node& n) {
  for (const ir::Value* v : n.inputs())
    if (v && is_nhwc(v)) return true;
  return is_nhwc(n.output(0));
}
std::vector<int64_t> stored_dims(const ir::Value* v, bool nhwc) {
  auto d = dims_of(v);
  if (nhwc && d.size() == 4) d = {d[0], d[2], d[3], d[1]};
  return d;
}
int64_t stored_axis(int64_t axis, bool nhwc) {
  static constexpr int64_t kNhwcAxis[4] = {0, 3, 1, 2};
  return nhwc && axis >= 0 && axis < 4 ? kNhwcAxis[axis] : axis;
}

bool plan_node(const ir::Node& n, std::vector<CopyPlan>& plans, int64_t& concat_inner) {
  const std::string& op = n.op_type();
  const bool nhwc = channels_last_node(n);
  if (nhwc) {
    if (op != "Concat" && op != "Slice" && op != "SampledConcat") return false;
    if (dims_of(n.output(0)).size() != 4) return false;
    for (size_t i = 0; i < (op == "Slice" ? 1 : n.num_inputs()); ++i)
      if (!n.input(i) || dims_of(n.input(i)).size() != 4) return false;
  }
  auto out = stored_dims(n.output(0), nhwc);
  int64_t out_n = 1;
  for (int64_t d : out) out_n *= d;
  if (out.size() > static_cast<size_t>(kMaxRank)) return false;
  if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" || op == "Identity") {
    plans.push_back({0, 0, contiguous_map(out_n), out_n});
    return true;
  }
  if (op == "Transpose") {
    auto in = dims_of(n.input(0));
    std::vector<int64_t> perm = n.attrs().get_ints("perm", {});
    if (perm.empty())
      for (size_t i = 0; i < in.size(); ++i) perm.push_back(static_cast<int64_t>(in.size() - 1 - i));
    if (perm.size() != in.size()) return false;
    auto strides = row_major_strides(in);
    Gather1Map m{};
    m.rank = static_cast<int>(out.size());
    for (size_t d = 0; d < out.size(); ++d) {
      m.out_dims[d] = out[d];
      m.in_strides[d] = strides[perm[d]];
    }
    plans.push_back({0, 0, m, out_n});
    return true;
  }
  if (op == "Expand") {
    auto in = dims_of(n.input(0));
    auto strides = ops::broadcast_strides(in, out);
    Gather1Map m{};
    m.rank = static_cast<int>(out.size());
    for (size_t d = 0; d < out.size(); ++d) {
      m.out_dims[d] = out[d];
      m.in_strides[d] = strides[d];
    }
    plans.push_back({0, 0, m, out_n});
    return true;
  }
  if (op == "Concat") {
    int64_t axis = n.attrs().get_int("axis", 0);
    if (axis < 0) axis += static_cast<int64_t>(out.size());
    axis = stored_axis(axis, nhwc);
    int64_t inner_out = 1;
    for (size_t d = static_cast<size_t>(axis); d < out.size(); ++d) inner_out *= out[d];
    concat_inner = inner_out;
    int64_t offset = 0;
    for (size_t i = 0; i < n.num_inputs(); ++i) {
      if (!n.input(i)) return false;
      auto in = stored_dims(n.input(i), nhwc);
      int64_t piece_inner = 1, total = 1;
      for (size_t d = 0; d < in.size(); ++d) total *= in[d];
      for (size_t d = static_cast<size_t>(axis); d < in.size(); ++d) piece_inner *= in[d];
      CopyPlan p{i, offset, {}, total, true, piece_inner};
      plans.push_back(p);
      offset += piece_inner;
    }
    return true;
  }
  if (op == "SampledConcat") {
    const int64_t r = static_cast<int64_t>(out.size());
    int64_t axis = n.attrs().get_int("axis", 1);
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r) return false;
    axis = stored_axis(axis, nhwc);
    const std::vector<int64_t> steps = n.attrs().get_ints("steps", {});
    if (steps.size() != n.num_inputs() * static_cast<size_t>(r)) return false;
    int64_t inner_out = 1;
    for (int64_t d = axis; d < r; ++d) inner_out *= out[d];
    concat_inner = inner_out;
    int64_t offset = 0;
    for (size_t i = 0; i < n.num_inputs(); ++i) {
      if (!n.input(i)) return false;
      auto in = stored_dims(n.input(i), nhwc);
      if (static_cast<int64_t>(in.size()) != r) return false;
      auto strides = row_major_strides(in);
      Gather1Map m{};
      m.rank = static_cast<int>(r);
      int64_t total = 1, piece_inner = 1;
      for (int64_t d = 0; d < r; ++d) {
        // Stored dim d is logical dim k (NHWC: [N,H,W,C] = logical 0, 2, 3, 1).
        static constexpr int64_t kLogical[4] = {0, 2, 3, 1};
        const int64_t k = nhwc ? kLogical[d] : d;
        const int64_t step = steps[i * static_cast<size_t>(r) + k];
        if (step < 1) return false;
        m.out_dims[d] = in[d] == 0 ? 0 : (in[d] - 1) / step + 1;
        m.in_strides[d] = strides[d] * step;
        total *= m.out_dims[d];
        if (d >= axis) piece_inner *= m.out_dims[d];
      }
      for (int64_t d = 0; d < r; ++d)
        if (d != axis && m.out_dims[d] != out[d]) return false;
      CopyPlan p{i, offset, m, total};
      p.sampled_piece = true;
      p.piece_inner = piece_inner;
      plans.push_back(p);
      offset += piece_inner;
    }
    return offset == inner_out;
  }
  if (op == "Slice") {
    // Only constant starts/ends/axes/steps (the usual case after constant folding).
    auto in = stored_dims(n.input(0), nhwc);
    for (size_t i = 1; i < n.num_inputs(); ++i)
      if (n.input(i) && !n.input(i)->is_constant()) return false;
    if (n.num_inputs() < 3) return false;  // opset < 10 attribute form: not handled here
    auto starts = n.input(1)->constant().to_i64(), ends = n.input(2)->constant().to_i64();
    std::vector<int64_t> axes, steps;
    if (n.input(3)) axes = n.input(3)->constant().to_i64();
    else for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    if (n.input(4)) steps = n.input(4)->constant().to_i64();
    else steps.assign(starts.size(), 1);
    auto strides = row_major_strides(in);
    Gather1Map m{};
    m.rank = static_cast<int>(out.size());
    for (size_t d = 0; d < out.size(); ++d) {
      m.out_dims[d] = out[d];
      m.in_strides[d] = strides[d];
    }
    for (size_t k = 0; k < axes.size(); ++k) {
      int64_t a = axes[k] < 0 ? axes[k] + static_cast<int64_t>(in.size()) : axes[k];
      if (a < 0 || a >= static_cast<int64_t>(in.size())) return false;
      a = stored_axis(a, nhwc);
      int64_t dim = in[a], step = steps[k];
      if (step == 0) return false;
      int64_t s = starts[k] < 0 ? starts[k] + dim : starts[k];
      s = step > 0 ? std::clamp<int64_t>(s, 0, dim) : std::clamp<int64_t>(s, 0, dim - 1);
      m.base += s * strides[a];
      m.in_strides[a] = strides[a] * step;
    }
    plans.push_back({0, 0, m, out_n});
    return true;
  }
  return false;
}

class MovementTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.movement"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool handles_channels_last() const override { return true; }  // Concat and Slice (plan_node)
  bool supports(const ir::Node& n) const override {
    const bool ours = n.domain().empty() || (n.domain() == "kiln" && n.op_type() == "SampledConcat");
    if (!ours || !all_static(n) || n.num_outputs() != 1 || !n.input(0)) return false;
    if (dtype_of(n.output(0)) == DataType::kString || is_sub_byte(dtype_of(n.output(0)))) return false;
    std::vector<CopyPlan> plans;
    int64_t inner = 0;
    return plan_node(n, plans, inner);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    std::vector<CopyPlan> plans;
    int64_t inner = 0;
    if (!plan_node(*spec.node, plans, inner)) return unsupported(spec.node->describe() + ": not supported by cuda.movement");
    // int32 indices when every input and the output have fewer than 2^31 elements.
    bool small = true;
    for (const ir::Value* v : spec.node->inputs())
      if (v) {
        int64_t count = 1;
        for (int64_t d : dims_of(v)) count *= d;
        small &= count < (int64_t{1} << 31);
      }
    int64_t out_count = 1;
    for (int64_t d : dims_of(spec.node->output(0))) out_count *= d;
    small &= out_count < (int64_t{1} << 31);
    const size_t elem = dtype_size(dtype_of(spec.node->output(0)));
    for (CopyPlan& p : plans) optimize_plan(p, elem);
    return std::unique_ptr<runtime::Kernel>(new MovementKernel(elem, std::move(plans), inner, small));
  }
};

// Gather along an axis with int32/int64 indices (embeddings, token selection).
class GatherKernel : public runtime::Kernel {
 public:
  GatherKernel(size_t elem, bool idx64, int64_t outer, int64_t nidx, int64_t inner, int64_t axis_dim)
      : elem_(elem), idx64_(idx64), outer_(outer), nidx_(nidx), inner_(inner), axis_dim_(axis_dim) {}
  ~GatherKernel() override {
    if (flag_) cudaFree(flag_);
  }
  Status init() {
    KILN_CUDA_CHECK(cudaMalloc(&flag_, sizeof(int)));
    KILN_CUDA_CHECK(cudaMemset(flag_, 0, sizeof(int)));
    return Status::ok();
  }
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    auto stream = static_cast<cudaStream_t>(launch.stream);
    int64_t n = outer_ * nidx_ * inner_;
    if (n == 0) return Status::ok();
    // Out-of-range indices read row 0 and raise flag_; reading the flag back needs a sync, which
    // the runtime does not do per layer yet (known gap: the CPU backend reports such indices).
    int* scratch = flag_;
    auto launch_gather = [&](auto tag, int64_t inner) {
      using E = decltype(tag);
      const int64_t count = outer_ * nidx_ * inner;
      if (idx64_)
        gather_kernel<E, int64_t><<<grid_for(count), 256, 0, stream>>>(static_cast<const E*>(in[0].data),
            static_cast<const int64_t*>(in[1].data), static_cast<E*>(out[0].data), outer_, nidx_, inner, axis_dim_, scratch);
      else
        gather_kernel<E, int32_t><<<grid_for(count), 256, 0, stream>>>(static_cast<const E*>(in[0].data),
            static_cast<const int32_t*>(in[1].data), static_cast<E*>(out[0].data), outer_, nidx_, inner, axis_dim_, scratch);
    };
    // Rows of inner elements move in 16/8/4-byte units when their byte size and both pointers allow.
    const int64_t row_bytes = inner_ * static_cast<int64_t>(elem_);
    int vec = 0;
    for (int w : {16, 8, 4})
      if (!vec && static_cast<size_t>(w) > elem_ && row_bytes % w == 0 && aligned_to(in[0].data, w) &&
          aligned_to(out[0].data, w))
        vec = w;
    if (vec == 16) launch_gather(uint4{}, row_bytes / 16);
    else if (vec == 8) launch_gather(uint2{}, row_bytes / 8);
    else if (vec == 4) launch_gather(uint32_t{}, row_bytes / 4);
    else by_element_size(elem_, [&](auto tag) { launch_gather(tag, inner_); });
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  size_t elem_;
  bool idx64_;
  int64_t outer_, nidx_, inner_, axis_dim_;
  int* flag_ = nullptr;
};

class GatherTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.gather"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    if (n.op_type() != "Gather" || !n.domain().empty() || !all_static(n) || !n.input(1)) return false;
    DataType it = dtype_of(n.input(1)), dt = dtype_of(n.output(0));
    return (it == DataType::kInt64 || it == DataType::kInt32) && dt != DataType::kString && !is_sub_byte(dt);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    const ir::Node& n = *spec.node;
    auto data = dims_of(n.input(0)), idx = dims_of(n.input(1));
    int64_t axis = n.attrs().get_int("axis", 0);
    if (axis < 0) axis += static_cast<int64_t>(data.size());
    int64_t outer = 1, inner = 1, nidx = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= data[d];
    for (size_t d = static_cast<size_t>(axis) + 1; d < data.size(); ++d) inner *= data[d];
    for (int64_t d : idx) nidx *= d;
    auto kernel = std::make_unique<GatherKernel>(dtype_size(dtype_of(n.output(0))),
                                                 dtype_of(n.input(1)) == DataType::kInt64, outer, nidx, inner, data[axis]);
    KILN_RETURN_IF_ERROR(kernel->init());
    return std::unique_ptr<runtime::Kernel>(std::move(kernel));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaMovement, std::make_unique<MovementTactic>());
KILN_REGISTER_TACTIC(CudaGather, std::make_unique<GatherTactic>());

}  // namespace kiln::cuda
