// Identity: passes its input through (tensors, sequences and optionals alike).
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

void identity_cpu(KernelContext& ctx) { ctx.set_output(0, ctx.input_value(0)); }

void infer_identity(InferenceContext& ctx) { ctx.set_output(0, ctx.input_type(0)); }

}  // namespace

KILN_REGISTER_OP(Identity, {"", "Identity", {1, 13, 14, 16, 19, 21, 23, 24, 25}, infer_identity, identity_cpu});

}  // namespace kiln::ops
