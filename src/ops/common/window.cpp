#include "ops/common/window.h"

#include "core/status.h"

namespace kiln::ops {

namespace {
std::vector<int64_t> ints_or(const ir::Attributes& a, const char* name, size_t n, int64_t def) {
  auto v = a.get_ints(name);
  if (v.empty()) return std::vector<int64_t>(n, def);
  if (v.size() != n)
    throw_error(StatusCode::kInvalidArgument, std::string(name) + " has " + std::to_string(v.size()) +
                                                  " values, expected " + std::to_string(n));
  return v;
}
}  // namespace

WindowParams read_window_params(const ir::Attributes& a, size_t nspatial, const std::vector<int64_t>& weight_kernel,
                                bool allow_ceil_mode) {
  WindowParams p;
  p.kernel = a.get_ints("kernel_shape");
  if (p.kernel.empty()) {
    if (weight_kernel.empty()) throw_error(StatusCode::kInvalidArgument, "kernel_shape is required");
    p.kernel = weight_kernel;
  }
  if (p.kernel.size() != nspatial)
    throw_error(StatusCode::kInvalidArgument, "kernel_shape has " + std::to_string(p.kernel.size()) +
                                                  " values for " + std::to_string(nspatial) + " spatial dims");
  p.strides = ints_or(a, "strides", nspatial, 1);
  p.dilations = ints_or(a, "dilations", nspatial, 1);
  p.pads = ints_or(a, "pads", 2 * nspatial, 0);
  p.auto_pad = a.get_string("auto_pad", "NOTSET");
  if (p.auto_pad.empty()) p.auto_pad = "NOTSET";
  p.ceil_mode = allow_ceil_mode && a.get_int("ceil_mode", 0) != 0;
  for (size_t d = 0; d < nspatial; ++d) {
    if (p.kernel[d] < 1 || p.strides[d] < 1 || p.dilations[d] < 1)
      throw_error(StatusCode::kInvalidArgument, "kernel_shape, strides and dilations must be positive");
    if (p.pads[d] < 0 || p.pads[d + nspatial] < 0) throw_error(StatusCode::kInvalidArgument, "pads must be >= 0");
  }
  if (p.auto_pad != "NOTSET" && p.auto_pad != "VALID" && p.auto_pad != "SAME_UPPER" && p.auto_pad != "SAME_LOWER")
    throw_error(StatusCode::kInvalidArgument, "unknown auto_pad '" + p.auto_pad + "'");
  return p;
}

int64_t window_output_size(const WindowParams& p, size_t d, int64_t in, int64_t* pad_begin, int64_t* pad_end) {
  int64_t s = p.strides[d], ek = p.effective_kernel(d);
  int64_t pb = 0, pe = 0, out;
  if (p.auto_pad == "SAME_UPPER" || p.auto_pad == "SAME_LOWER") {
    out = (in + s - 1) / s;
    int64_t total = std::max<int64_t>(0, (out - 1) * s + ek - in);
    pb = p.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    pe = total - pb;
  } else {
    if (p.auto_pad == "NOTSET") pb = p.pads[d], pe = p.pads[d + p.rank()];
    int64_t span = in + pb + pe - ek;
    if (span < 0)
      throw_error(StatusCode::kInvalidArgument, "window of size " + std::to_string(ek) + " does not fit input size " +
                                                    std::to_string(in) + " with its pads");
    out = p.ceil_mode ? (span + s - 1) / s + 1 : span / s + 1;
    // The last window must start inside the input or its begin pad.
    if (p.ceil_mode && (out - 1) * s >= in + pb) --out;
  }
  if (pad_begin) *pad_begin = pb;
  if (pad_end) *pad_end = pe;
  return out;
}

std::vector<int64_t> resolve_window(WindowParams& p, const std::vector<int64_t>& in_spatial) {
  size_t n = p.rank();
  if (in_spatial.size() != n) throw_error(StatusCode::kInvalidArgument, "input rank does not match the kernel's");
  std::vector<int64_t> out(n), pads(2 * n);
  for (size_t d = 0; d < n; ++d) out[d] = window_output_size(p, d, in_spatial[d], &pads[d], &pads[d + n]);
  p.pads = pads;
  return out;
}

std::vector<Dim> window_output_dims(const WindowParams& p, const std::vector<Dim>& in_spatial) {
  std::vector<Dim> out;
  for (size_t d = 0; d < p.rank(); ++d) {
    const Dim& in = in_spatial[d];
    if (in.is_constant()) {
      out.emplace_back(window_output_size(p, d, in.value(), nullptr, nullptr));
      continue;
    }
    bool same = p.auto_pad == "SAME_UPPER" || p.auto_pad == "SAME_LOWER";
    int64_t pads = p.auto_pad == "NOTSET" ? p.pads[d] + p.pads[d + p.rank()] : 0;
    bool keeps = p.strides[d] == 1 && (same || pads == p.effective_kernel(d) - 1);
    out.push_back(keeps ? in : Dim::unknown());
  }
  return out;
}

}  // namespace kiln::ops
