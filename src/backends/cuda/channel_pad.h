// Zero-padding the channels of channels-last 16-bit data (float16/bfloat16: zero bits are 0.0):
// rows of C elements ([N,H,W,C] pixels, or [K,R,S,C] filter taps) become rows of 4 with the
// extra elements zero. cuda.cudnn.conv_padded uses it so that cuDNN sees 8-byte pixels.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/status.h"

namespace kiln::cuda {

// The width rows are padded to.
constexpr int kPaddedChannels = 4;

// dst[i][0..4) = {src[i][0..c), 0...} for i < rows; c in 1..3. One thread per row, one 8-byte
// store each; dst must be 8-byte aligned. Enqueued on `stream`, allocates nothing.
Status launch_pad_channels(const void* src, void* dst, int64_t rows, int c, cudaStream_t stream);

}  // namespace kiln::cuda
