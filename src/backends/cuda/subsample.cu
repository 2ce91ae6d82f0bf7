#include "backends/cuda/subsample.h"

#include <algorithm>

#include "backends/cuda/cuda_check.h"

namespace kiln::cuda {
namespace {

// E: the unit moved (16/8/4 bytes of channels, or one element); cu units per pixel.
template <typename E>
__global__ void subsample_kernel(const E* x, E* y, SubsampleShape s, int64_t cu) {
  const int64_t total = s.n * s.ho * s.wo * cu;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t c = i % cu, p = i / cu;
    int64_t j = p % s.wo;
    p /= s.wo;
    int64_t r = p % s.ho, n = p / s.ho;
    y[i] = x[((n * s.h + r * s.sh) * s.w + j * s.sw) * cu + c];
  }
}

template <typename E>
void launch(const void* x, void* y, const SubsampleShape& s, int64_t cu, cudaStream_t stream) {
  const int64_t total = s.n * s.ho * s.wo * cu;
  const int grid = static_cast<int>(std::min<int64_t>(std::max<int64_t>((total + 255) / 256, 1), 132 * 32));
  subsample_kernel<E><<<grid, 256, 0, stream>>>(static_cast<const E*>(x), static_cast<E*>(y), s, cu);
}

}  // namespace

Status launch_subsample_nhwc(const void* x, void* y, const SubsampleShape& s, size_t elem_bytes, cudaStream_t stream) {
  if (s.n * s.ho * s.wo * s.c == 0) return Status::ok();
  const int64_t row = s.c * static_cast<int64_t>(elem_bytes);
  auto aligned = [&](int64_t w) {
    return row % w == 0 && reinterpret_cast<uintptr_t>(x) % w == 0 && reinterpret_cast<uintptr_t>(y) % w == 0;
  };
  if (aligned(16)) launch<uint4>(x, y, s, row / 16, stream);
  else if (aligned(8)) launch<uint2>(x, y, s, row / 8, stream);
  else if (aligned(4)) launch<uint32_t>(x, y, s, row / 4, stream);
  else if (elem_bytes == 2) launch<uint16_t>(x, y, s, s.c, stream);
  else return internal_error("subsample: unexpected element size");
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

}  // namespace kiln::cuda
