// If and Loop: run body graphs through KernelContext::run_subgraph (the interpreter resolves
// the bodies' reads of outer-scope values). Shape inference derives the outputs from the body
// graphs' output types, which infer_shapes has already inferred.
#include "ops/common/infer.h"
#include "ops/common/subgraph.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

bool truth(const KernelContext& ctx, const Tensor& t, const char* what) {
  if (t.numel() != 1) ctx.fail(std::string(what) + " must hold one element, is " + t.describe());
  if (t.dtype() == DataType::kBool) return t.data<bool>()[0];
  return t.to_f64()[0] != 0;
}

// --- If
void if_cpu(KernelContext& ctx) {
  bool cond = truth(ctx, ctx.input(0), "cond");
  const ir::Graph& branch = body_graph(ctx.node(), cond ? "then_branch" : "else_branch");
  std::vector<RuntimeValue> out = ctx.run_subgraph(branch, {});
  if (out.size() != ctx.num_outputs())
    ctx.fail("the branch returns " + std::to_string(out.size()) + " values, the node has " +
             std::to_string(ctx.num_outputs()) + " outputs");
  for (size_t i = 0; i < out.size(); ++i) ctx.set_output(i, std::move(out[i]));
}

void infer_if(InferenceContext& ctx) {
  const ir::ValueType& c = ctx.input_type(0);
  if (c.dtype != DataType::kBool && c.dtype != DataType::kUndefined) ctx.fail("cond must be bool, is " + c.to_string());
  const ir::Graph& then_g = body_graph(ctx.node(), "then_branch");
  const ir::Graph& else_g = body_graph(ctx.node(), "else_branch");
  if (then_g.outputs().size() != ctx.num_outputs() || else_g.outputs().size() != ctx.num_outputs())
    ctx.fail("both branches must return " + std::to_string(ctx.num_outputs()) + " values");
  for (size_t i = 0; i < ctx.num_outputs(); ++i)
    ctx.set_output(i, merge_alternatives(then_g.outputs()[i]->type(), else_g.outputs()[i]->type(),
                                         "output " + std::to_string(i)));
}

// --- Loop
// Inputs: M (optional trip count), cond (optional), N loop-carried values.
// Body: (iteration, cond, carried...) -> (cond, carried..., K scan outputs).
void loop_cpu(KernelContext& ctx) {
  const ir::Graph& body = body_graph(ctx.node(), "body");
  size_t n_carried = ctx.num_inputs() >= 2 ? ctx.num_inputs() - 2 : 0;
  if (body.inputs().size() != n_carried + 2) ctx.fail("the body must take " + std::to_string(n_carried + 2) + " inputs");
  if (body.outputs().size() < n_carried + 1) ctx.fail("the body must return at least " + std::to_string(n_carried + 1) + " values");
  size_t n_scan = body.outputs().size() - 1 - n_carried;
  if (ctx.num_outputs() > n_carried + n_scan) ctx.fail("the node has more outputs than the body provides");

  bool has_max = ctx.has_input(0);
  int64_t max_trips = 0;
  if (has_max) {
    const Tensor& m = ctx.input(0);
    if (m.numel() != 1 || m.dtype() != DataType::kInt64) ctx.fail("M must be an int64 scalar, is " + m.describe());
    max_trips = m.data<int64_t>()[0];
  }
  bool cond = ctx.has_input(1) ? truth(ctx, ctx.input(1), "cond") : true;

  std::vector<RuntimeValue> carried;
  for (size_t i = 0; i < n_carried; ++i) carried.push_back(ctx.input_value(i + 2));
  std::vector<std::vector<Tensor>> scans(n_scan);
  int64_t scan_bytes = 0;  // a loop without a bound must not grow its scan outputs forever
  for (int64_t it = 0; (!has_max || it < max_trips) && cond; ++it) {
    Tensor cond_t(DataType::kBool, {});
    cond_t.data<bool>()[0] = cond;
    std::vector<RuntimeValue> in{Tensor::scalar_i64(it), cond_t};
    in.insert(in.end(), carried.begin(), carried.end());
    std::vector<RuntimeValue> out = ctx.run_subgraph(body, in);
    if (out.size() != body.outputs().size()) ctx.fail("the body returned a wrong number of values");
    const RuntimeValue& c = out[0];
    if (!c.is_tensor()) ctx.fail("the body's condition output must be a tensor");
    cond = truth(ctx, c.tensor(), "the body's condition output");
    for (size_t i = 0; i < n_carried; ++i) carried[i] = std::move(out[1 + i]);
    for (size_t k = 0; k < n_scan; ++k) {
      const RuntimeValue& s = out[1 + n_carried + k];
      if (!s.is_tensor()) ctx.fail("scan output " + std::to_string(k) + " must be a tensor");
      scans[k].push_back(s.tensor());
      scan_bytes += static_cast<int64_t>(s.tensor().nbytes());
      if (scan_bytes > max_tensor_bytes())
        ctx.fail("scan outputs grew past " + std::to_string(max_tensor_bytes()) + " bytes after " +
                 std::to_string(it + 1) + " iterations");
    }
  }
  for (size_t i = 0; i < n_carried && i < ctx.num_outputs(); ++i) ctx.set_output(i, std::move(carried[i]));
  for (size_t k = 0; k < n_scan && n_carried + k < ctx.num_outputs(); ++k)
    if (ctx.wants_output(n_carried + k))
      ctx.set_output(n_carried + k, stack_iterations(scans[k], 0, body.outputs()[1 + n_carried + k]->type()));
}

void infer_loop(InferenceContext& ctx) {
  const ir::Graph& body = body_graph(ctx.node(), "body");
  if (ctx.num_inputs() < 2) ctx.fail("needs the M and cond inputs (possibly empty)");
  size_t n_carried = ctx.num_inputs() - 2;
  if (body.inputs().size() != n_carried + 2)
    ctx.fail("the body takes " + std::to_string(body.inputs().size()) + " inputs, expected " + std::to_string(n_carried + 2));
  if (body.outputs().size() < n_carried + 1)
    ctx.fail("the body returns " + std::to_string(body.outputs().size()) + " values, expected at least " +
             std::to_string(n_carried + 1));
  size_t n_scan = body.outputs().size() - 1 - n_carried;
  if (ctx.num_outputs() > n_carried + n_scan) ctx.fail("the node has more outputs than the body provides");
  if (ctx.has_input(0)) {
    const ir::ValueType& m = ctx.input_type(0);
    if (m.dtype != DataType::kInt64 && m.dtype != DataType::kUndefined) ctx.fail("M must be int64, is " + m.to_string());
  }
  for (size_t i = 0; i < n_carried && i < ctx.num_outputs(); ++i) {
    ir::ValueType before = ctx.has_input(i + 2) ? ctx.input_type(i + 2) : ir::ValueType::unknown();
    ctx.set_output(i, merge_alternatives(before, body.outputs()[1 + i]->type(), "loop-carried value " + std::to_string(i)));
  }
  for (size_t k = 0; k < n_scan && n_carried + k < ctx.num_outputs(); ++k) {
    const ir::ValueType& t = body.outputs()[1 + n_carried + k]->type();
    std::optional<Shape> shape;
    if (t.shape) {
      std::vector<Dim> d = t.shape->dims();
      d.insert(d.begin(), ctx.new_symbol());
      shape = Shape(d);
    }
    ctx.set_output(n_carried + k, t.dtype, shape);
  }
}

}  // namespace

KILN_REGISTER_OP(If, {"", "If", {1, 11, 13, 16, 19, 21, 23, 24, 25}, infer_if, if_cpu});
KILN_REGISTER_OP(Loop, {"", "Loop", {1, 11, 13, 16, 19, 21, 23, 24, 25}, infer_loop, loop_cpu});

}  // namespace kiln::ops
