// The epilogue of Kiln's fused ops (docs/FUSED_OPS.md): Y = act(main + bias + Z). Library
// kernels fuse what they can (cuDNN pointwise nodes, cuBLASLt epilogues); what they cannot is
// finished by launch_epilogue, one extra pass over Y.
#pragma once
#include <cuda_runtime.h>

#include "backends/cuda/pointwise_ops.h"
#include "core/dtype.h"
#include "core/status.h"
#include "ir/graph.h"

namespace kiln::cuda {

struct Epilogue {
  PointwiseOp act = PointwiseOp::kIdentity;
  PointwiseParams params;
  std::string name;  // the node's `activation` attribute ("" = none)
};

// Reads `activation`, `activation_alpha`, `activation_beta`; false for an unknown activation.
bool epilogue_from_node(const ir::Node& node, Epilogue& e);

// y = act(y + z) elementwise over n elements (z may be null), in place.
Status launch_epilogue(void* y, const void* z, int64_t n, DataType dt, const Epilogue& e, cudaStream_t stream);

}  // namespace kiln::cuda
