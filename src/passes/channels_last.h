// Channels-last layout assignment, a lowering step for backends whose convolutions are fastest on
// NHWC tensors (cuDNN's tensor-core kernels). Layout is a property of values (DESIGN.md): shapes
// stay logical [N,C,H,W]; a value tagged ir::Layout::kNHWC is stored [N,H,W,C] (weights KRSC).
// Convolutions take channels-last; pooling and elementwise ops follow their inputs' layout; every
// other op, and every graph output and input, sees row-major data (except an input bound
// channels-last, input_layout.h, which a convolution reads as it is). kiln::Reformat nodes convert
// at the edges of each channels-last region; constant weights are repacked at build time.
// Layout-neutral tensors (C == 1 or H*W == 1: the same bytes in both orders) are never converted.
// docs/LAYOUT.md has the details.
#pragma once
#include <functional>

#include "core/status.h"
#include "ir/graph.h"
#include "passes/pass.h"

namespace kiln::passes {

// Whether some kernel runs `node` with the layouts its values carry at the time of the call
// (the builder asks its tactic registry). A node no kernel takes channels-last stays row-major.
using LayoutSupport = std::function<bool(const ir::Node&)>;

struct ChannelsLastStats {
  int convolutions = 0;      // convolutions that run channels-last
  int followers = 0;         // pooling / elementwise nodes that run channels-last
  int reformats = 0;         // kiln::Reformat nodes inserted
  int repacked_weights = 0;  // constants stored channels-last
  int absorbed_inputs = 0;   // inputs bound [N,H,W,C] read without a transpose (input_layout.h)
};

// The --disable-pass name of this step.
inline constexpr const char* kChannelsLastPass = "channels-last";

Result<ChannelsLastStats> assign_channels_last(ir::Graph& graph, const LayoutSupport& supported, const PassLog& log);

}  // namespace kiln::passes
