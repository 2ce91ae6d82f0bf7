// Channels-last input bindings (kiln build --input-layout nhwc): callers that hold images as
// [N,H,W,C] (PyTorch channels_last tensors, TensorFlow, camera frames) bind them as they are.
// The builder rebinds every rank-4 graph input [N,H,W,C] with a Transpose(perm [0,3,1,2]) right
// after it, so the rest of the graph still sees the model's [N,C,H,W]; the optimizer may fold
// that Transpose into a movement chain (movement-collapse), and on backends that run
// convolutions channels-last the layout step absorbs it into the binding (the input becomes a
// kNHWC value: the same bytes), so no transpose runs at all. docs/LAYOUT.md has the details.
#pragma once
#include "core/status.h"
#include "ir/graph.h"
#include "passes/channels_last.h"
#include "passes/pass.h"

namespace kiln::passes {

// Rebinds every rank-4 tensor input as [N,H,W,C] (symbolic dims move with their axes) and
// feeds its readers through Transpose(perm [0,3,1,2]); the input keeps its name. Returns how
// many inputs changed; an error naming the inputs when none has rank 4.
Result<int> bind_inputs_channels_last(ir::Graph& graph, const PassLog& log);

// Part of the channels-last step (assign_channels_last calls it first): an input bound
// [N,H,W,C] whose Transpose(perm [0,3,1,2]) (possibly after the input's precision Cast) feeds a
// convolution becomes the logical [N,C,H,W] value tagged kNHWC (the same bytes); the Transpose
// goes and the convolutions read the caller's buffer directly. A Cast in between then runs
// channels-last on both sides, if `supported` has a kernel for that (else nothing changes).
// Layout-neutral inputs (C == 1 or H*W == 1) are left alone. Returns the inputs absorbed.
int absorb_input_transposes(ir::Graph& graph, const LayoutSupport& supported);

}  // namespace kiln::passes
