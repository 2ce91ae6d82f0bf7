// Strided subsampling of a channels-last tensor: y[n, i, j, :] = x[n, i * sh, j * sw, :]. The
// input side of a strided 1x1 convolution run as a product (cuda.cublaslt.conv1x1_strided).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/status.h"

namespace kiln::cuda {

struct SubsampleShape {
  int64_t n = 0, h = 0, w = 0, c = 0;  // input, NHWC
  int64_t ho = 0, wo = 0;              // output pixels
  int64_t sh = 1, sw = 1;              // strides
};

Status launch_subsample_nhwc(const void* x, void* y, const SubsampleShape& s, size_t elem_bytes, cudaStream_t stream);

}  // namespace kiln::cuda
