// Sliding-window geometry shared by Conv, ConvTranspose and the pooling ops: the attributes
// kernel_shape, strides, dilations, pads, auto_pad and ceil_mode, and the output sizes and
// effective pads they give.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/shape.h"
#include "ir/attribute.h"

namespace kiln::ops {

struct WindowParams {
  std::vector<int64_t> kernel, strides, dilations;
  std::vector<int64_t> pads;  // begin of each spatial dim, then end of each
  std::string auto_pad = "NOTSET";
  bool ceil_mode = false;
  size_t rank() const { return kernel.size(); }
  int64_t effective_kernel(size_t d) const { return (kernel[d] - 1) * dilations[d] + 1; }
};

// Reads the attributes for `nspatial` spatial dims. The kernel comes from kernel_shape, else
// from `weight_kernel` (a weight's spatial dims; empty = kernel_shape is required). Throws
// Error on a wrong length or a non-positive value.
WindowParams read_window_params(const ir::Attributes& a, size_t nspatial, const std::vector<int64_t>& weight_kernel,
                                bool allow_ceil_mode);

// Output size of spatial dim d for input size `in`; sets the effective pads (auto_pad
// resolved). Throws Error when the window does not fit.
int64_t window_output_size(const WindowParams& p, size_t d, int64_t in, int64_t* pad_begin, int64_t* pad_end);

// Resolves every spatial dim of a static input: returns the output sizes and rewrites p.pads
// to the effective pads.
std::vector<int64_t> resolve_window(WindowParams& p, const std::vector<int64_t>& in_spatial);

// Output spatial dims for shape inference: constants where the input dim is one, the input's
// symbol where the window keeps the size, unknown otherwise.
std::vector<Dim> window_output_dims(const WindowParams& p, const std::vector<Dim>& in_spatial);

}  // namespace kiln::ops
