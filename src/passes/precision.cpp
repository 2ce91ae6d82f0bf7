#include "passes/precision.h"

#include <map>
#include <algorithm>
#include <cmath>
#include <set>

#include "ops/shape_inference.h"

namespace kiln::passes {
namespace {

// Inputs whose type the ONNX spec fixes to float32 whatever the data's type (scales, ROIs).
bool fixed_float_input(const ir::Node& n, size_t i) {
  if (!n.domain().empty()) return false;
  const std::string& op = n.op_type();
  return (op == "Resize" && i == 2) || (op == "Upsample" && i == 1);
}

// Finite constants saturate at float16's largest value instead of becoming infinite: models
// write "minus infinity" masks as finfo(float32).min, and (1 - mask) * -inf is NaN where mask is
// 1, while (1 - mask) * -65504 is the intended 0.
Tensor convert(const Tensor& t, DataType target) {
  constexpr float kHalfMax = 65504.f;
  Tensor out(target, t.dims());
  const float* src = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    float v = src[i];
    if (target == DataType::kFloat16) {
      if (std::isfinite(v)) v = std::clamp(v, -kHalfMax, kHalfMax);
      out.data<Float16>()[i] = Float16(v);
    } else {
      out.data<BFloat16>()[i] = BFloat16(v);
    }
  }
  return out;
}

}  // namespace

Status lower_precision(ir::Graph& g, DataType target, const std::function<void(const std::string&)>& log,
                       const std::set<const ir::Node*>& float32_nodes, bool low_precision_io) {
  if (target != DataType::kFloat16 && target != DataType::kBFloat16)
    return invalid_argument("precision lowering targets float16 or bfloat16");
  if (!g.subgraphs().empty()) return unsupported("--fp16/--bf16 are not supported yet for models with subgraphs (If/Loop/Scan)");
  auto is_f32 = [](const ir::Value* v) {
    return v && v->type().kind == ir::ValueKind::kTensor && v->type().dtype == DataType::kFloat32;
  };
  auto kept = [&](const ir::Node* n) { return n && float32_nodes.count(n) != 0; };
  // Values that must stay float32: fixed-float inputs and what they are computed from is rare
  // after constant folding; keep the direct ones.
  std::set<const ir::Value*> keep;
  for (const auto& n : g.nodes())
    for (size_t i = 0; i < n->num_inputs(); ++i)
      if (fixed_float_input(*n, i) && n->input(i)) keep.insert(n->input(i));

  // Float32 islands: outputs of kept nodes stay float32, and so do constants only kept nodes
  // read; a constant that kept and lowered nodes share is split (kept nodes get a float32 copy).
  std::set<const ir::Value*> orig_f32, island;
  std::set<const ir::Node*> added;  // Casts inserted here
  for (const auto& v : g.values())
    if (is_f32(v.get())) orig_f32.insert(v.get());
  if (!float32_nodes.empty()) {
    std::vector<ir::Value*> constants;
    for (const auto& v : g.values())
      if (is_f32(v.get()) && v->is_constant()) constants.push_back(v.get());
    for (ir::Value* c : constants) {
      std::vector<ir::Node*> users = g.consumers(c);
      size_t n_kept = 0;
      for (ir::Node* u : users) n_kept += kept(u);
      if (n_kept == 0) continue;
      if (n_kept == users.size()) {
        island.insert(c);
        continue;
      }
      ir::Value* copy = g.add_value(g.unique_name(c->name() + "_float32"), c->type());
      copy->set_constant(c->constant_ptr());
      for (ir::Node* u : users)
        if (kept(u))
          for (size_t i = 0; i < u->num_inputs(); ++i)
            if (u->input(i) == c) u->set_input(i, copy);
      island.insert(copy);
      orig_f32.insert(copy);
    }
    for (const ir::Node* n : float32_nodes)
      for (const ir::Value* v : n->outputs())
        if (is_f32(v)) island.insert(v);
  }

  int converted_weights = 0, converted_values = 0;
  auto add_cast = [&](ir::Value* from, ir::Value* to, DataType dt, const ir::Value* named_after = nullptr) {
    const std::string& name = (named_after ? named_after : from)->name();
    ir::Node* cast = g.add_node("Cast", {from}, {to}, g.unique_name("precision_cast_" + name));
    cast->attrs().set("to", static_cast<int64_t>(dt));
    added.insert(cast);
  };
  std::vector<ir::Value*> inputs = g.inputs();
  if (low_precision_io) {
    // The bindings take the target type; readers that need float32 (kept nodes, fixed-float
    // inputs) read it through one Cast up.
    for (ir::Value* in : inputs) {
      if (!is_f32(in)) continue;
      in->type().dtype = target;
      ir::Value* hi = nullptr;
      for (ir::Node* u : g.consumers(in))
        for (size_t i = 0; i < u->num_inputs(); ++i) {
          if (u->input(i) != in || !(kept(u) || fixed_float_input(*u, i))) continue;
          if (!hi) {
            hi = g.add_value(g.unique_name(in->name() + "_float32"),
                             ir::ValueType::tensor(DataType::kFloat32, in->type().shape));
            add_cast(in, hi, DataType::kFloat32);
            keep.insert(hi);
          }
          u->set_input(i, hi);
        }
    }
    inputs.clear();
  }
  // Graph inputs: Cast to the target right after entry (kept nodes read the float32 input).
  for (ir::Value* in : inputs) {
    if (!is_f32(in) || keep.count(in)) continue;
    std::vector<ir::Node*> users = g.consumers(in);
    size_t n_kept = 0;
    for (ir::Node* u : users) n_kept += kept(u);
    if (n_kept > 0 && n_kept == users.size()) continue;
    ir::Value* low = g.add_value(g.unique_name(in->name() + "_" + std::string(dtype_name(target))),
                                 ir::ValueType::tensor(target, in->type().shape));
    for (ir::Node* u : users)
      if (!kept(u))
        for (size_t i = 0; i < u->num_inputs(); ++i)
          if (u->input(i) == in && !fixed_float_input(*u, i)) u->set_input(i, low);
    add_cast(in, low, target);
  }
  // Graph outputs: the producer writes the target type, a Cast restores float32 (unless the
  // producer is kept in float32: then it writes the output directly).
  for (size_t k = 0; k < g.outputs().size() && !low_precision_io; ++k) {
    ir::Value* out = g.outputs()[k];
    if (!is_f32(out) || !out->producer() || kept(out->producer())) continue;
    ir::Node* producer = out->producer();
    ir::Value* low = g.add_value(g.unique_name(out->name() + "_" + std::string(dtype_name(target))),
                                 ir::ValueType::tensor(target, out->type().shape));
    // The producer writes `low` instead; a Cast turns low into out, which kept nodes read.
    std::vector<ir::Node*> users = g.consumers(out);
    for (ir::Node* u : users)
      if (!kept(u))
        for (size_t i = 0; i < u->num_inputs(); ++i)
          if (u->input(i) == out) u->set_input(i, low);
    for (size_t o = 0; o < producer->num_outputs(); ++o)
      if (producer->output(o) == out) g.set_node_output(producer, o, low);
    add_cast(low, out, DataType::kFloat32, out);
  }
  // Everything else in between.
  for (const auto& v : g.values()) {
    ir::Value* value = v.get();
    if (!is_f32(value) || keep.count(value) || island.count(value)) continue;
    bool boundary = false;
    for (ir::Value* in : g.inputs()) boundary |= in == value;
    for (ir::Value* out : g.outputs()) boundary |= out == value && !low_precision_io;
    if (boundary) continue;
    if (value->is_constant()) {
      value->set_constant(std::make_shared<const Tensor>(convert(value->constant(), target)));
      ++converted_weights;
    }
    value->type().dtype = target;
    ++converted_values;
  }
  for (const auto& n : g.nodes()) {
    if (added.count(n.get())) continue;
    if (n->domain().empty() && (n->op_type() == "Cast") && n->attrs().get_int("to", 0) == 1 &&
        !(n->num_outputs() == 1 && n->output(0) && is_f32(n->output(0))))
      n->attrs().set("to", static_cast<int64_t>(target));
    if (n->domain().empty() && n->op_type() == "ConstantOfShape" && n->output(0) &&
        n->output(0)->type().dtype == target && n->attrs().has("value")) {
      const Tensor& t = n->attrs().tensor("value");
      if (t.dtype() == DataType::kFloat32) n->attrs().set("value", convert(t, target));
    }
  }
  // Island borders: kept nodes read lowered values through a Cast to float32, other nodes read
  // island values through a Cast to the target.
  int border_casts = 0;
  if (!float32_nodes.empty()) {
    std::map<const ir::Value*, ir::Value*> up, down;
    auto cast_of = [&](ir::Value* v, DataType to, std::map<const ir::Value*, ir::Value*>& cache) {
      auto it = cache.find(v);
      if (it != cache.end()) return it->second;
      ir::Value* c = g.add_value(g.unique_name(v->name() + "_" + std::string(dtype_name(to))),
                                 ir::ValueType::tensor(to, v->type().shape));
      add_cast(v, c, to);
      ++border_casts;
      return cache[v] = c;
    };
    for (ir::Node* n : g.node_list()) {
      if (added.count(n)) continue;
      for (size_t i = 0; i < n->num_inputs(); ++i) {
        ir::Value* v = n->input(i);
        if (!v || !orig_f32.count(v) || keep.count(v)) continue;
        if (kept(n) && v->type().dtype == target) n->set_input(i, cast_of(v, DataType::kFloat32, up));
        else if (!kept(n) && island.count(v) && !fixed_float_input(*n, i)) n->set_input(i, cast_of(v, target, down));
      }
    }
  }
  // Low-precision outputs that stayed float32 (written by a kept node, or kept for a fixed-float
  // reader): the writer writes a float32 copy, a Cast down gives the binding.
  for (size_t k = 0; k < g.outputs().size() && low_precision_io; ++k) {
    ir::Value* out = g.outputs()[k];
    if (!is_f32(out)) continue;
    ir::Value* hi = g.add_value(g.unique_name(out->name() + "_float32"), out->type());
    for (ir::Node* u : g.consumers(out))
      for (size_t i = 0; i < u->num_inputs(); ++i)
        if (u->input(i) == out) u->set_input(i, hi);
    if (ir::Node* producer = out->producer()) {
      for (size_t o = 0; o < producer->num_outputs(); ++o)
        if (producer->output(o) == out) g.set_node_output(producer, o, hi);
    } else if (out->is_constant()) {
      hi->set_constant(out->constant_ptr());
      out->set_constant(nullptr);
    }
    out->type().dtype = target;
    add_cast(hi, out, target, out);
  }
  KILN_RETURN_IF_ERROR(g.topological_sort());
  KILN_RETURN_IF_ERROR(ops::infer_shapes(g).with_context("after precision lowering"));
  if (log) {
    std::string m = "precision: " + std::to_string(converted_values) + " values (" + std::to_string(converted_weights) +
                    " weights) to " + std::string(dtype_name(target)) +
                    (low_precision_io ? ", inputs and outputs too (no Casts at the boundary)" : "");
    if (!float32_nodes.empty())
      m += "; " + std::to_string(float32_nodes.size()) + " layers stay float32 (" + std::to_string(border_casts) +
           " Casts at their borders)";
    log(m);
  }
  return Status::ok();
}

}  // namespace kiln::passes
