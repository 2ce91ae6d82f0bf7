// Scan (opset 8 batched form and the 9+ form with per-input axes and directions) and
// SequenceMap: run a body graph once per slice / sequence item.
#include <algorithm>

#include "ops/common/axis_copy.h"
#include "ops/common/infer.h"
#include "ops/common/subgraph.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

struct ScanAttrs {
  size_t n_state = 0, n_scan_in = 0, n_scan_out = 0;
  std::vector<int64_t> in_axes, in_dirs, out_axes, out_dirs;
};

// Inputs excluding Scan-8's sequence_lens.
ScanAttrs scan_attrs(const ir::Node& node, const ir::Graph& body, size_t n_inputs, bool v8) {
  const auto& a = node.attrs();
  ScanAttrs s;
  int64_t m = a.int_("num_scan_inputs");
  if (m < 1 || static_cast<size_t>(m) > n_inputs)
    throw_error(StatusCode::kInvalidModel, "num_scan_inputs " + std::to_string(m) + " does not fit " +
                                               std::to_string(n_inputs) + " inputs");
  s.n_scan_in = static_cast<size_t>(m);
  s.n_state = n_inputs - s.n_scan_in;
  if (body.inputs().size() != n_inputs)
    throw_error(StatusCode::kInvalidModel, "the body takes " + std::to_string(body.inputs().size()) + " inputs, expected " +
                                               std::to_string(n_inputs));
  if (body.outputs().size() < s.n_state)
    throw_error(StatusCode::kInvalidModel, "the body returns fewer values than there are states");
  s.n_scan_out = body.outputs().size() - s.n_state;
  auto list = [&](const char* name, size_t n, int64_t def) {
    std::vector<int64_t> v = a.get_ints(name, std::vector<int64_t>(n, def));
    if (v.size() != n)
      throw_error(StatusCode::kInvalidModel, std::string("attribute '") + name + "' must have " + std::to_string(n) + " values");
    return v;
  };
  s.in_dirs = list(v8 ? "directions" : "scan_input_directions", s.n_scan_in, 0);
  s.in_axes = v8 ? std::vector<int64_t>(s.n_scan_in, 0) : list("scan_input_axes", s.n_scan_in, 0);
  s.out_axes = v8 ? std::vector<int64_t>(s.n_scan_out, 0) : list("scan_output_axes", s.n_scan_out, 0);
  s.out_dirs = v8 ? std::vector<int64_t>(s.n_scan_out, 0) : list("scan_output_directions", s.n_scan_out, 0);
  return s;
}

// One unbatched scan: states and scan inputs in, final states and stacked scan outputs out.
// `length` < 0: the full length of the scan inputs.
std::vector<Tensor> run_scan(const KernelContext& ctx, const ir::Graph& body, const ScanAttrs& s,
                             std::vector<Tensor> states, const std::vector<Tensor>& inputs, int64_t length) {
  int64_t t_len = -1;
  std::vector<int64_t> axes(s.n_scan_in);
  for (size_t j = 0; j < s.n_scan_in; ++j) {
    axes[j] = normalize_axis(s.in_axes[j], static_cast<int64_t>(inputs[j].rank()), "scan_input_axes");
    int64_t n = inputs[j].dim(axes[j]);
    if (t_len >= 0 && n != t_len) ctx.fail("scan inputs have different lengths along their scan axes");
    t_len = n;
  }
  int64_t steps = length >= 0 ? std::min(length, t_len) : t_len;
  std::vector<std::vector<Tensor>> outs(s.n_scan_out);
  for (int64_t t = 0; t < steps; ++t) {
    std::vector<RuntimeValue> in(states.begin(), states.end());
    for (size_t j = 0; j < s.n_scan_in; ++j) {
      int64_t idx = s.in_dirs[j] ? steps - 1 - t : t;
      in.emplace_back(slice_axis(inputs[j], axes[j], idx, 1, false));
    }
    std::vector<RuntimeValue> out = ctx.run_subgraph(body, in);
    if (out.size() != s.n_state + s.n_scan_out) ctx.fail("the body returned a wrong number of values");
    for (size_t i = 0; i < s.n_state; ++i) states[i] = out[i].tensor();
    for (size_t k = 0; k < s.n_scan_out; ++k) outs[k].push_back(out[s.n_state + k].tensor());
  }
  std::vector<Tensor> result = std::move(states);
  for (size_t k = 0; k < s.n_scan_out; ++k) {
    if (s.out_dirs[k]) std::reverse(outs[k].begin(), outs[k].end());
    const ir::ValueType& bt = body.outputs()[s.n_state + k]->type();
    int64_t rank = outs[k].empty() ? (bt.shape ? static_cast<int64_t>(bt.shape->rank()) : 0) + 1
                                   : static_cast<int64_t>(outs[k][0].rank()) + 1;
    int64_t axis = normalize_axis(s.out_axes[k], rank, "scan_output_axes");
    result.push_back(stack_iterations(outs[k], axis, bt));
  }
  return result;
}

void scan_cpu(KernelContext& ctx) {
  const ir::Graph& body = body_graph(ctx.node(), "body");
  bool v8 = ctx.version() < 9;
  size_t first = v8 ? 1 : 0;
  ScanAttrs s = scan_attrs(ctx.node(), body, ctx.num_inputs() - first, v8);
  std::vector<Tensor> states, inputs;
  for (size_t i = 0; i < s.n_state; ++i) states.push_back(ctx.input(first + i));
  for (size_t j = 0; j < s.n_scan_in; ++j) inputs.push_back(ctx.input(first + s.n_state + j));
  std::vector<Tensor> result;
  if (!v8) {
    result = run_scan(ctx, body, s, states, inputs, -1);
  } else {
    // Scan-8: axis 0 of every input is the batch; scan inputs are [batch, sequence, ...].
    if (inputs.empty() || inputs[0].rank() < 2) ctx.fail("scan inputs must be [batch, sequence, ...]");
    int64_t batch = inputs[0].dim(0), seq = inputs[0].dim(1);
    for (const Tensor& t : states)
      if (t.rank() < 1 || t.dim(0) != batch) ctx.fail("states must have the batch size as first dim");
    for (const Tensor& t : inputs)
      if (t.rank() < 2 || t.dim(0) != batch) ctx.fail("scan inputs must have the batch size as first dim");
    std::vector<int64_t> lens(static_cast<size_t>(batch), seq);
    if (ctx.has_input(0)) {
      lens = ctx.input(0).to_i64();
      if (static_cast<int64_t>(lens.size()) != batch) ctx.fail("sequence_lens must have one value per batch item");
      for (int64_t l : lens)
        if (l < 0 || l > seq) ctx.fail("sequence_lens value " + std::to_string(l) + " is out of range");
    }
    std::vector<std::vector<Tensor>> per_batch(s.n_state + s.n_scan_out);
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<Tensor> st, in;
      for (const Tensor& t : states) st.push_back(slice_axis(t, 0, b, 1, false));
      for (const Tensor& t : inputs) {
        Tensor item = slice_axis(t, 0, b, 1, false);
        in.push_back(lens[b] < seq ? slice_axis(item, 0, 0, lens[b]) : item);
      }
      std::vector<Tensor> r = run_scan(ctx, body, s, st, in, -1);
      for (size_t k = 0; k < s.n_scan_out; ++k) {
        Tensor& o = r[s.n_state + k];
        if (o.dim(0) < seq) {  // pad short sequences with zeros
          std::vector<int64_t> d = o.dims();
          d[0] = seq - o.dim(0);
          o = concat_axis({o, Tensor(o.dtype(), d)}, 0, false);
        }
      }
      for (size_t i = 0; i < r.size(); ++i) per_batch[i].push_back(std::move(r[i]));
    }
    for (size_t i = 0; i < per_batch.size(); ++i)
      result.push_back(stack_iterations(per_batch[i], 0, body.outputs()[i]->type()));
  }
  for (size_t i = 0; i < result.size() && i < ctx.num_outputs(); ++i) ctx.set_output(i, std::move(result[i]));
}

void infer_scan(InferenceContext& ctx) {
  const ir::Graph& body = body_graph(ctx.node(), "body");
  bool v8 = ctx.version() < 9;
  size_t first = v8 ? 1 : 0;
  if (ctx.num_inputs() <= first) ctx.fail("needs inputs");
  ScanAttrs s = scan_attrs(ctx.node(), body, ctx.num_inputs() - first, v8);
  if (ctx.num_outputs() > s.n_state + s.n_scan_out) ctx.fail("the node has more outputs than the body provides");
  // The scan length, when known from the first scan input.
  Dim steps = Dim::unknown(), batch = Dim::unknown();
  if (const Shape* x = ctx.input_shape(first + s.n_state)) {
    if (v8) {
      if (x->rank() < 2) ctx.fail("scan inputs must be [batch, sequence, ...]");
      batch = (*x)[0];
      steps = (*x)[1];
    } else {
      steps = (*x)[normalize_axis(s.in_axes[0], static_cast<int64_t>(x->rank()), "scan_input_axes")];
    }
  }
  for (size_t i = 0; i < s.n_state && i < ctx.num_outputs(); ++i) {
    ir::ValueType t = ctx.input_type(first + i);
    t.kind = ir::ValueKind::kTensor;
    ctx.set_output(i, t);
  }
  for (size_t k = 0; k < s.n_scan_out && s.n_state + k < ctx.num_outputs(); ++k) {
    const ir::ValueType& t = body.outputs()[s.n_state + k]->type();
    std::optional<Shape> shape;
    if (t.shape) {
      std::vector<Dim> d = t.shape->dims();
      int64_t axis = normalize_axis(s.out_axes[k], static_cast<int64_t>(d.size()) + 1, "scan_output_axes");
      d.insert(d.begin() + axis, steps.is_unknown() ? ctx.new_symbol() : steps);
      if (v8) d.insert(d.begin(), batch);
      shape = Shape(d);
    }
    ctx.set_output(s.n_state + k, t.dtype, shape);
  }
}

// --- SequenceMap: input 0 is a sequence; further inputs are sequences (mapped item by item)
// or tensors (passed whole to every iteration).
void sequence_map_cpu(KernelContext& ctx) {
  const ir::Graph& body = body_graph(ctx.node(), "body");
  if (body.inputs().size() != ctx.num_inputs()) ctx.fail("the body must take one input per node input");
  const RuntimeValue& first = ctx.input_value(0);
  if (!first.is_sequence()) ctx.fail("input 0 must be a sequence");
  size_t n = first.sequence().items.size();
  for (size_t i = 1; i < ctx.num_inputs(); ++i)
    if (ctx.input_value(i).is_sequence() && ctx.input_value(i).sequence().items.size() != n)
      ctx.fail("all input sequences must have the same length");
  std::vector<TensorSequence> outs(ctx.num_outputs());
  for (size_t k = 0; k < outs.size(); ++k) outs[k].elem_type = body.outputs()[k]->type().dtype;
  for (size_t it = 0; it < n; ++it) {
    std::vector<RuntimeValue> in;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const RuntimeValue& v = ctx.input_value(i);
      in.push_back(v.is_sequence() ? RuntimeValue(v.sequence().items[it]) : v);
    }
    std::vector<RuntimeValue> out = ctx.run_subgraph(body, in);
    for (size_t k = 0; k < outs.size(); ++k) {
      outs[k].items.push_back(out.at(k).tensor());
      outs[k].elem_type = outs[k].items.back().dtype();
    }
  }
  for (size_t k = 0; k < outs.size(); ++k) ctx.set_output(k, std::move(outs[k]));
}

void infer_sequence_map(InferenceContext& ctx) {
  const ir::Graph& body = body_graph(ctx.node(), "body");
  if (body.inputs().size() != ctx.num_inputs()) ctx.fail("the body must take one input per node input");
  if (body.outputs().size() != ctx.num_outputs()) ctx.fail("the body must return one value per node output");
  ir::ValueKind k0 = ctx.input_type(0).kind;
  if (k0 != ir::ValueKind::kSequence && k0 != ir::ValueKind::kUnknown) ctx.fail("input 0 must be a sequence");
  for (size_t k = 0; k < ctx.num_outputs(); ++k) {
    ir::ValueType t = body.outputs()[k]->type();
    t.kind = ir::ValueKind::kSequence;
    ctx.set_output(k, t);
  }
}

}  // namespace

KILN_REGISTER_OP(Scan, {"", "Scan", {8, 9, 11, 16, 19, 21, 23, 24, 25}, infer_scan, scan_cpu});
KILN_REGISTER_OP(SequenceMap, {"", "SequenceMap", {17}, infer_sequence_map, sequence_map_cpu});

}  // namespace kiln::ops
