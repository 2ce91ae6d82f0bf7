#include "passes/input_layout.h"

#include <algorithm>

#include "ops/shape_inference.h"

namespace kiln::passes {
namespace {

const std::vector<int64_t> kToNchw = {0, 3, 1, 2};

bool is_graph_output(const ir::Graph& g, const ir::Value* v) {
  return std::find(g.outputs().begin(), g.outputs().end(), v) != g.outputs().end();
}

bool is_to_nchw(const ir::Node& n) {
  return n.domain().empty() && n.op_type() == "Transpose" && n.num_inputs() == 1 && n.output(0) &&
         n.attrs().get_ints("perm", {}) == kToNchw;
}

bool is_cast(const ir::Node& n) { return n.domain().empty() && n.op_type() == "Cast" && n.output(0); }

// A static row-major 4-D float tensor (what a convolution can read channels-last).
bool float4d(const ir::Value* v) {
  if (!v || !v->type().is_tensor() || !v->type().has_static_shape() || v->type().shape->rank() != 4) return false;
  DataType dt = v->type().dtype;
  return v->type().layout == ir::Layout::kRowMajor &&
         (dt == DataType::kFloat32 || dt == DataType::kFloat16 || dt == DataType::kBFloat16);
}

// [N,C,H,W] with C == 1 or H*W == 1: the same bytes in both orders (channels_last.cpp's rule).
bool neutral_nchw(const ir::Value* v) {
  std::vector<int64_t> d = v->type().shape->static_dims();
  return d[1] == 1 || d[2] * d[3] == 1;
}

bool feeds_convolution(const ir::Graph& g, const ir::Value* v) {
  for (const ir::Node* n : g.consumers(v))
    if (n->input(0) == v && ((n->domain().empty() && n->op_type() == "Conv") ||
                             (n->domain() == "kiln" && n->op_type() == "FusedConv")))
      return true;
  return false;
}

// The only reader of v (nullptr when v has several, none, or is a graph output).
ir::Node* sole_reader(const ir::Graph& g, const ir::Value* v) {
  if (is_graph_output(g, v)) return nullptr;
  std::vector<ir::Node*> readers = g.consumers(v);
  return readers.size() == 1 ? readers[0] : nullptr;
}

}  // namespace

Result<int> bind_inputs_channels_last(ir::Graph& g, const PassLog& log) {
  int bound = 0;
  std::string seen;
  for (ir::Value* in : std::vector<ir::Value*>(g.inputs())) {
    const ir::ValueType& t = in->type();
    seen += (seen.empty() ? "" : ", ") + in->name() + " " + t.to_string();
    if (!t.is_tensor() || !t.shape || t.shape->rank() != 4 || in->is_constant()) continue;
    // Its name cannot be both the [N,H,W,C] input and the model's [N,C,H,W] output.
    if (is_graph_output(g, in))
      return invalid_argument("--input-layout nhwc: input '" + in->name() +
                              "' is also a graph output, which keeps the model's layout; it cannot be bound channels-last");
    ir::Value* nchw = g.add_value(g.unique_name(in->name() + "_nchw"), t);
    g.replace_all_uses(in, nchw);
    const Shape s = *t.shape;
    in->type().shape = Shape({s[0], s[2], s[3], s[1]});
    ir::Node* transpose = g.add_node("Transpose", {in}, {nchw}, g.unique_name("input_layout_" + in->name()));
    transpose->attrs().set("perm", kToNchw);
    ++bound;
    if (log) log("input-layout: '" + in->name() + "' bound as " + in->type().to_string() + " (channels-last)");
  }
  if (bound == 0)
    return invalid_argument("--input-layout nhwc binds rank-4 inputs channels-last, but the model has none (inputs: " +
                            (seen.empty() ? std::string("none") : seen) + ")");
  if (g.opset("") == 0) g.set_opset("", 13);  // a model of custom-domain ops only
  KILN_RETURN_IF_ERROR(g.topological_sort());
  KILN_RETURN_IF_ERROR(ops::infer_shapes(g).with_context("after binding the inputs channels-last"));
  return bound;
}

int absorb_input_transposes(ir::Graph& g, const LayoutSupport& supported) {
  int absorbed = 0;
  for (ir::Value* x : g.inputs()) {
    if (!float4d(x)) continue;
    ir::Node* first = sole_reader(g, x);
    if (!first) continue;
    ir::Node* cast = is_cast(*first) && float4d(first->output(0)) ? first : nullptr;
    ir::Node* transpose = cast ? sole_reader(g, cast->output(0)) : first;
    if (!transpose || !is_to_nchw(*transpose)) continue;
    ir::Value* nchw = transpose->output(0);
    if (!float4d(nchw) || is_graph_output(g, nchw) || neutral_nchw(nchw) || !feeds_convolution(g, nchw)) continue;
    // The input (and its Cast's output) become the logical [N,C,H,W] stored channels-last.
    std::vector<std::pair<ir::Value*, ir::ValueType>> saved;
    for (ir::Value* v : {x, cast ? cast->output(0) : nullptr}) {
      if (!v) continue;
      saved.emplace_back(v, v->type());
      v->type().shape = nchw->type().shape;
      v->type().layout = ir::Layout::kNHWC;
    }
    if (cast && !supported(*cast)) {
      for (auto& [v, type] : saved) v->type() = type;
      continue;
    }
    g.replace_all_uses(nchw, saved.back().first);
    g.remove_node(transpose);
    ++absorbed;
  }
  return absorbed;
}

}  // namespace kiln::passes
