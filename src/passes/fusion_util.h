// What the epilogue fusions (bias, residual, activation) share: which nodes can take an
// epilogue, and turning a Conv/Gemm/MatMul into its kiln:: fused form.
#pragma once
#include "ir/graph.h"

namespace kiln::passes {

// Conv, Gemm, MatMul (ai.onnx) or their kiln:: fused forms.
bool is_epilogue_root(const ir::Node& n);
bool has_fused_activation(const ir::Node& n);
bool has_residual(const ir::Node& n);
// Replaces p by its fused form (FusedConv: X, W, B, Z; FusedGemm: A, B, C, Z; FusedMatMul: A,
// B, bias, Z) writing `out`, with the inputs padded to four; fused_from lists p (or what p
// already listed). The kiln opset is imported on the graph.
ir::Node* to_fused(ir::Graph& g, ir::Node* p, ir::Value* out);

}  // namespace kiln::passes
