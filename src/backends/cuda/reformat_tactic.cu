// cuda.reformat: kiln::Reformat, the layout conversion at the edges of channels-last regions
// (docs/LAYOUT.md). NCHW -> NHWC is, per image, a transpose of [C][H*W] to [H*W][C] (and back
// for NHWC -> NCHW): 32x32 tiles through shared memory so reads and writes are both coalesced.
// Few channels (an RGB input): one thread per pixel instead, reading each channel plane
// coalesced and writing the pixel's C values contiguously. Any dtype: elements move by size.
#include <cstdint>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

constexpr int kTile = 32, kRowsPerPass = 8;

// in: `batch` matrices [rows][cols], out: the same matrices transposed, [cols][rows].
template <typename T>
__global__ void batched_transpose(const T* __restrict__ in, T* __restrict__ out, int64_t rows, int64_t cols,
                                  int64_t batch) {
  __shared__ T tile[kTile][kTile + 1];  // +1: no bank conflicts on the transposed read
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * kTile, c0 = static_cast<int64_t>(blockIdx.x) * kTile;
  for (int64_t b = blockIdx.z; b < batch; b += gridDim.z) {
    const T* src = in + b * rows * cols;
    T* dst = out + b * rows * cols;
    for (int j = threadIdx.y; j < kTile; j += kRowsPerPass) {
      int64_t r = r0 + j, c = c0 + threadIdx.x;
      if (r < rows && c < cols) tile[j][threadIdx.x] = src[r * cols + c];
    }
    __syncthreads();
    for (int j = threadIdx.y; j < kTile; j += kRowsPerPass) {
      int64_t c = c0 + j, r = r0 + threadIdx.x;
      if (r < rows && c < cols) dst[c * rows + r] = tile[threadIdx.x][j];
    }
    __syncthreads();
  }
}

// Per image: planes [C][HW] <-> pixels [HW][C], one thread per pixel (for small C).
template <typename T, bool kToNhwc>
__global__ void small_c_reformat(const T* __restrict__ in, T* __restrict__ out, int64_t pixels, int64_t c,
                                 int64_t batch) {
  const int64_t total = pixels * batch;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t n = i / pixels, p = i % pixels;
    for (int64_t k = 0; k < c; ++k) {
      if (kToNhwc) out[i * c + k] = in[(n * c + k) * pixels + p];
      else out[(n * c + k) * pixels + p] = in[i * c + k];
    }
  }
}

constexpr int64_t kSmallChannels = 8;

class ReformatKernel : public runtime::Kernel {
 public:
  // copy: same bytes in both layouts; else transpose `batch` [rows][cols] matrices.
  ReformatKernel(bool copy, bool to_nhwc, int64_t batch, int64_t rows, int64_t cols, size_t elem, size_t bytes)
      : copy_(copy), to_nhwc_(to_nhwc), batch_(batch), rows_(rows), cols_(cols), elem_(elem), bytes_(bytes) {}

  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    auto stream = static_cast<cudaStream_t>(launch.stream);
    if (bytes_ == 0) return Status::ok();
    if (copy_) {
      KILN_CUDA_CHECK(cudaMemcpyAsync(out[0].data, in[0].data, bytes_, cudaMemcpyDeviceToDevice, stream));
      return Status::ok();
    }
    const int64_t channels = to_nhwc_ ? rows_ : cols_, pixels = to_nhwc_ ? cols_ : rows_;
    if (channels <= kSmallChannels) {
      int grid = static_cast<int>(std::min<int64_t>((pixels * batch_ + 255) / 256, 132 * 32));
      auto run = [&](auto tag) {
        using T = decltype(tag);
        auto x = static_cast<const T*>(in[0].data);
        auto y = static_cast<T*>(out[0].data);
        if (to_nhwc_) small_c_reformat<T, true><<<grid, 256, 0, stream>>>(x, y, pixels, channels, batch_);
        else small_c_reformat<T, false><<<grid, 256, 0, stream>>>(x, y, pixels, channels, batch_);
      };
      switch (elem_) {
        case 1: run(uint8_t{}); break;
        case 2: run(uint16_t{}); break;
        case 4: run(uint32_t{}); break;
        default: run(uint64_t{}); break;
      }
      KILN_CUDA_CHECK_LAUNCH();
      return Status::ok();
    }
    dim3 block(kTile, kRowsPerPass);
    dim3 grid(static_cast<unsigned>((cols_ + kTile - 1) / kTile), static_cast<unsigned>((rows_ + kTile - 1) / kTile),
              static_cast<unsigned>(std::min<int64_t>(batch_, 65535)));
    auto run = [&](auto tag) {
      using T = decltype(tag);
      batched_transpose<T><<<grid, block, 0, stream>>>(static_cast<const T*>(in[0].data), static_cast<T*>(out[0].data),
                                                       rows_, cols_, batch_);
    };
    switch (elem_) {
      case 1: run(uint8_t{}); break;
      case 2: run(uint16_t{}); break;
      case 4: run(uint32_t{}); break;
      default: run(uint64_t{}); break;
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

 private:
  bool copy_, to_nhwc_;
  int64_t batch_, rows_, cols_;
  size_t elem_, bytes_;
};

class ReformatTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.reformat"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool handles_channels_last() const override { return true; }

  bool supports(const ir::Node& n) const override {
    if (n.domain() != "kiln" || n.op_type() != "Reformat" || !all_static(n) || n.num_inputs() != 1 ||
        n.num_outputs() != 1)
      return false;
    const ir::Value *x = n.input(0), *y = n.output(0);
    if (dims_of(x) != dims_of(y) || dtype_of(x) != dtype_of(y)) return false;
    size_t elem = dtype_size(dtype_of(x));
    if (sub_byte_bits(dtype_of(x)) || (elem != 1 && elem != 2 && elem != 4 && elem != 8)) return false;
    if (is_nhwc(x) == is_nhwc(y)) return true;  // a plain copy
    auto d = dims_of(x);
    if (d.size() != 4) return false;
    // Tile grid limits: at most 65535 row tiles.
    int64_t rows = is_nhwc(x) ? d[2] * d[3] : d[1];
    return (rows + kTile - 1) / kTile <= 65535;
  }

  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    const ir::Node& n = *spec.node;
    if (!supports(n)) return unsupported(n.describe() + ": not supported by cuda.reformat");
    const ir::Value *x = n.input(0), *y = n.output(0);
    auto d = dims_of(x);
    size_t elem = dtype_size(dtype_of(x));
    int64_t numel = 1;
    for (int64_t v : d) numel *= v;
    bool copy = is_nhwc(x) == is_nhwc(y) || layout_neutral(d);
    int64_t batch = copy ? 1 : d[0], plane = copy ? 0 : d[2] * d[3], channels = copy ? 0 : d[1];
    // NCHW -> NHWC: [C][HW] -> [HW][C]; NHWC -> NCHW: [HW][C] -> [C][HW].
    int64_t rows = is_nhwc(x) ? plane : channels, cols = is_nhwc(x) ? channels : plane;
    return std::unique_ptr<runtime::Kernel>(
        new ReformatKernel(copy, is_nhwc(y), batch, rows, cols, elem, static_cast<size_t>(numel) * elem));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudaReformat, std::make_unique<ReformatTactic>());

}  // namespace kiln::cuda
