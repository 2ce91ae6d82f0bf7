// See channel_pad.h. A warp reads 32 consecutive rows (32 * C * 2 contiguous bytes) and writes
// 256 contiguous bytes: both coalesced; the copy is bound by memory traffic (6 + 8 bytes per
// RGB pixel).
#include "backends/cuda/channel_pad.h"

#include <algorithm>

#include "backends/cuda/cuda_check.h"

namespace kiln::cuda {
namespace {

template <int C>
__global__ void pad_channels_kernel(const uint16_t* __restrict__ src, uint2* __restrict__ dst, int64_t rows) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < rows; i += step) {
    const uint16_t* p = src + i * C;
    // Little-endian: element 0 in the low half of the first word.
    uint32_t e0 = p[0], e1 = C > 1 ? p[1] : 0, e2 = C > 2 ? p[2] : 0;
    dst[i] = make_uint2(e0 | (e1 << 16), e2);
  }
}

}  // namespace

Status launch_pad_channels(const void* src, void* dst, int64_t rows, int c, cudaStream_t stream) {
  static_assert(kPaddedChannels == 4, "the kernel writes 4 16-bit elements per row");
  if (c < 1 || c >= kPaddedChannels) return internal_error("launch_pad_channels: channels must be 1 to 3");
  if (reinterpret_cast<uintptr_t>(dst) % 8 != 0) return internal_error("launch_pad_channels: unaligned output");
  if (rows <= 0) return Status::ok();
  constexpr int kThreads = 256;
  const int grid = static_cast<int>(std::min<int64_t>((rows + kThreads - 1) / kThreads, int64_t{1} << 20));
  auto in = static_cast<const uint16_t*>(src);
  auto out = static_cast<uint2*>(dst);
  switch (c) {
    case 1: pad_channels_kernel<1><<<grid, kThreads, 0, stream>>>(in, out, rows); break;
    case 2: pad_channels_kernel<2><<<grid, kThreads, 0, stream>>>(in, out, rows); break;
    default: pad_channels_kernel<3><<<grid, kThreads, 0, stream>>>(in, out, rows); break;
  }
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

}  // namespace kiln::cuda
