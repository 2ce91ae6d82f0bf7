#include "ops/common/norm_params.h"

#include "ops/common/broadcast.h"
#include "ops/common/reduction.h"

namespace kiln::ops {

std::vector<double> broadcast_param(const Tensor& t, const std::vector<int64_t>& dims, const std::string& what) {
  auto fail = [&] {
    throw_error(StatusCode::kInvalidArgument,
                what + " " + t.describe() + " does not broadcast to " + dims_to_string(dims));
  };
  if (!is_float(t.dtype())) fail();
  std::vector<int64_t> td = t.dims();
  while (td.size() > dims.size() && td.front() == 1) td.erase(td.begin());
  if (td.size() > dims.size()) fail();
  for (size_t i = 0; i < td.size(); ++i)
    if (td[i] != 1 && td[i] != dims[dims.size() - td.size() + i]) fail();
  std::vector<double> values = t.to_f64();
  StridedOdometer walk(dims, broadcast_strides(td, dims));
  std::vector<double> out(static_cast<size_t>(walk.count()));
  for (size_t i = 0; i < out.size(); ++i, walk.next()) out[i] = values[walk.offset()];
  return out;
}

}  // namespace kiln::ops
