// kiln::Reformat (domain "kiln", version 1): the layout conversion the channels-last pass
// inserts (docs/LAYOUT.md). Logically the identity: shapes are logical [N,C,H,W] whatever the
// layout, so the reference passes the tensor through; only backends that store values
// channels-last move bytes (cuda.reformat).
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

void reformat_cpu(KernelContext& ctx) { ctx.set_output(0, ctx.input_value(0)); }

void infer_reformat(InferenceContext& ctx) {
  ir::ValueType t = ctx.input_type(0);
  if (t.kind != ir::ValueKind::kTensor && t.kind != ir::ValueKind::kUnknown) ctx.fail("Reformat takes a tensor");
  t.layout = ir::Layout::kRowMajor;  // the pass that inserts it sets the layout
  ctx.set_output(0, t);
}

}  // namespace

KILN_REGISTER_OP(KilnReformat, {"kiln", "Reformat", {1}, infer_reformat, reformat_cpu});

}  // namespace kiln::ops
