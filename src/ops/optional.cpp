// Optional ops: Optional, OptionalHasElement, OptionalGetElement. At run time an absent
// optional is RuntimeValue's kNone; a present one is the tensor or sequence itself.
#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

bool is_optional(ir::ValueKind k) {
  return k == ir::ValueKind::kOptionalTensor || k == ir::ValueKind::kOptionalSequence;
}

ir::ValueType as_optional(ir::ValueType t) {
  if (t.kind == ir::ValueKind::kTensor) t.kind = ir::ValueKind::kOptionalTensor;
  else if (t.kind == ir::ValueKind::kSequence) t.kind = ir::ValueKind::kOptionalSequence;
  return t;
}

ir::ValueType element_of(ir::ValueType t) {
  if (t.kind == ir::ValueKind::kOptionalTensor) t.kind = ir::ValueKind::kTensor;
  else if (t.kind == ir::ValueKind::kOptionalSequence) t.kind = ir::ValueKind::kSequence;
  return t;
}

// --- Optional
void optional_cpu(KernelContext& ctx) {
  ctx.set_output(0, ctx.has_input(0) ? ctx.input_value(0) : RuntimeValue());
}
void infer_optional(InferenceContext& ctx) {
  if (ctx.has_input(0)) {
    const ir::ValueType& t = ctx.input_type(0);
    if (is_optional(t.kind)) ctx.fail("the input must be a tensor or a sequence, is " + t.to_string());
    ctx.set_output(0, as_optional(t));
    return;
  }
  const ir::Attribute* a = ctx.attrs().find("type");
  const auto* type = a ? std::get_if<ir::ValueType>(a) : nullptr;
  if (!type) ctx.fail("an Optional without input needs the 'type' attribute");
  ctx.set_output(0, as_optional(*type));
}

// --- OptionalHasElement
void optional_has_element_cpu(KernelContext& ctx) {
  Tensor out(DataType::kBool, {});
  out.data<bool>()[0] = ctx.has_input(0);
  ctx.set_output(0, out);
}
void infer_optional_has_element(InferenceContext& ctx) {
  if (ctx.version() < 18) {
    if (!ctx.has_input(0)) ctx.fail("needs an input before opset 18");
    ir::ValueKind k = ctx.input_type(0).kind;
    if (!is_optional(k) && k != ir::ValueKind::kUnknown)
      ctx.fail("the input must be an optional before opset 18, is " + ctx.input_type(0).to_string());
  }
  ctx.set_output(0, DataType::kBool, Shape{});
}

// --- OptionalGetElement
void optional_get_element_cpu(KernelContext& ctx) {
  if (!ctx.has_input(0)) ctx.fail("the optional input has no element");
  ctx.set_output(0, ctx.input_value(0));
}
void infer_optional_get_element(InferenceContext& ctx) {
  const ir::ValueType& t = ctx.input_type(0);
  if (ctx.version() < 18 && !is_optional(t.kind) && t.kind != ir::ValueKind::kUnknown)
    ctx.fail("the input must be an optional before opset 18, is " + t.to_string());
  ctx.set_output(0, element_of(t));
}

}  // namespace

KILN_REGISTER_OP(Optional, {"", "Optional", {15, 28}, infer_optional, optional_cpu});
KILN_REGISTER_OP(OptionalHasElement, {"", "OptionalHasElement", {15, 18, 28}, infer_optional_has_element, optional_has_element_cpu});
KILN_REGISTER_OP(OptionalGetElement, {"", "OptionalGetElement", {15, 18, 28}, infer_optional_get_element, optional_get_element_cpu});

}  // namespace kiln::ops
