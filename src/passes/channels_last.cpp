#include "passes/channels_last.h"

#include "passes/input_layout.h"

#include <cstring>
#include <map>
#include <set>
#include <utility>

namespace kiln::passes {
namespace {

using ir::Layout;

bool is_kernel_float(DataType dt) {
  return dt == DataType::kFloat32 || dt == DataType::kFloat16 || dt == DataType::kBFloat16;
}

// A static 4-D float tensor: what a channels-last value can be.
bool float4d(const ir::Value* v) {
  return v && v->type().is_tensor() && v->type().has_static_shape() && v->type().shape->rank() == 4 &&
         is_kernel_float(v->type().dtype);
}

// The same bytes in NCHW and NHWC order (C == 1 or H*W == 1, dims right-aligned to rank 4), or
// a rank/shape that has no channels to move (scalars, rank <= 4 broadcast operands of that form).
bool neutral(const ir::Value* v) {
  if (!v || !v->type().is_tensor() || !v->type().has_static_shape()) return false;
  std::vector<int64_t> d = v->type().shape->static_dims();
  if (d.size() > 4) return false;
  d.insert(d.begin(), 4 - d.size(), 1);
  return d[1] == 1 || d[2] * d[3] == 1;
}

bool is_nhwc(const ir::Value* v) { return v && v->type().layout == Layout::kNHWC; }

const std::set<std::string>& elementwise_ops() {
  static const std::set<std::string> ops = {
      "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu", "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt",
      "Abs", "Neg", "Erf", "Reciprocal", "Gelu", "LeakyRelu", "HardSigmoid", "HardSwish", "Clip", "Softplus",
      "Elu", "Ceil", "Floor", "Sin", "Cos", "Softsign", "Selu", "Celu", "Mish", "Swish", "ThresholdedRelu",
      "Round", "Sign", "Identity"};
  return ops;
}

enum class Role { kConvolution, kFollower, kRowMajor };

Role role_of(const ir::Node& n) {
  const std::string& op = n.op_type();
  if ((n.domain().empty() && op == "Conv") || (n.domain() == "kiln" && op == "FusedConv"))
    return float4d(n.input(0)) && float4d(n.input(1)) && float4d(n.output(0)) ? Role::kConvolution : Role::kRowMajor;
  bool single_output = n.num_outputs() == 1 || (n.num_outputs() == 2 && !n.output(1));  // not MaxPool's indices
  if (!single_output || !float4d(n.output(0))) return Role::kRowMajor;
  if (n.domain().empty() && (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" ||
                             op == "GlobalMaxPool" || elementwise_ops().count(op)))
    return Role::kFollower;
  if (n.domain() == "kiln" && (op == "ElementwiseChain" || op == "Gelu")) return Role::kFollower;
  // Copies: a channels-last Concat or Slice is the same copy over the stored order.
  if ((n.domain().empty() && (op == "Concat" || op == "Slice")) || (n.domain() == "kiln" && op == "SampledConcat"))
    return Role::kFollower;
  return Role::kRowMajor;
}

// [K,C,R,S] stored KRSC: element (k,c,r,s) moves to ((k*R + r)*S + s)*C + c.
Tensor repack_nhwc(const Tensor& t) {
  Tensor out(t.dtype(), t.dims());
  const auto& d = t.dims();
  const int64_t K = d[0], C = d[1], RS = d[2] * d[3];
  const size_t es = dtype_size(t.dtype());
  const auto* src = static_cast<const unsigned char*>(t.raw());
  auto* dst = static_cast<unsigned char*>(out.raw());
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < RS; ++p)
        std::memcpy(dst + ((k * RS + p) * C + c) * es, src + ((k * C + c) * RS + p) * es, es);
  return out;
}

class Assigner {
 public:
  Assigner(ir::Graph& g, const LayoutSupport& supported) : g_(g), supported_(supported) {}

  void run() {
    for (ir::Node* n : g_.node_list()) {  // topological order; nodes added below are Reformats
      // Already channels-last before this step: the input's Cast after absorb_input_transposes.
      if (n->num_outputs() == 1 && is_nhwc(n->output(0))) continue;
      Role role = role_of(*n);
      if (role != Role::kRowMajor && try_channels_last(*n, role)) continue;
      for (size_t i = 0; i < n->num_inputs(); ++i)
        if (is_nhwc(n->input(i))) n->set_input(i, in_layout(n->input(i), Layout::kRowMajor));
    }
    restore_graph_outputs();
    fold_casts_into_reformats();
  }

  ChannelsLastStats stats;

 private:
  // Runs `n` channels-last if its inputs allow and a kernel takes it; converts inputs as needed.
  bool try_channels_last(ir::Node& n, Role role) {
    std::vector<size_t> convert;  // row-major inputs that must become channels-last
    if (role == Role::kConvolution) {
      for (size_t i : {size_t{0}, size_t{1}, size_t{3}})
        if (ir::Value* v = n.input(i); v && !is_nhwc(v) && !neutral(v)) convert.push_back(i);
    } else {
      bool any = false;  // followers follow: only where an input already is channels-last
      for (const ir::Value* v : n.inputs()) any |= is_nhwc(v);
      if (!any) return false;
      // A Slice's starts/ends/axes/steps are index lists, not images.
      const size_t data_inputs = n.op_type() == "Slice" ? 1 : n.num_inputs();
      for (size_t i = 0; i < data_inputs; ++i) {
        ir::Value* v = n.input(i);
        if (!v || is_nhwc(v) || neutral(v)) continue;
        if (!float4d(v)) return false;  // e.g. a [C,H,W] operand: no channels-last form
        convert.push_back(i);
      }
    }
    // Ask the kernels with the layouts as they would be.
    ir::Value* out = n.output(0);
    std::vector<std::pair<ir::Value*, Layout>> saved;
    for (size_t i : convert) saved.emplace_back(n.input(i), n.input(i)->type().layout);
    for (size_t i : convert) n.input(i)->type().layout = Layout::kNHWC;
    Layout out_before = out->type().layout;
    if (!neutral(out)) out->type().layout = Layout::kNHWC;
    bool ok = supported_(n);
    for (auto it = saved.rbegin(); it != saved.rend(); ++it) it->first->type().layout = it->second;
    if (!ok) {
      out->type().layout = out_before;
      return false;
    }
    for (size_t i : convert) n.set_input(i, in_layout(n.input(i), Layout::kNHWC));
    ++(role == Role::kConvolution ? stats.convolutions : stats.followers);
    return true;
  }

  // `v` in layout `want`: itself when already so (or neutral), else a repacked constant or the
  // output of a kiln::Reformat, made once per value and layout.
  ir::Value* in_layout(ir::Value* v, Layout want) {
    if (v->type().layout == want || neutral(v)) return v;
    auto key = std::make_pair(v, want);
    if (auto it = converted_.find(key); it != converted_.end()) return it->second;
    const char* suffix = want == Layout::kNHWC ? "_nhwc" : "_nchw";
    ir::Value* to;
    if (v->is_constant() && want == Layout::kNHWC) {
      to = g_.add_constant(g_.unique_name(v->name() + suffix), repack_nhwc(v->constant()));
      ++stats.repacked_weights;
    } else {
      to = g_.add_value(g_.unique_name(v->name() + suffix));
      g_.add_node("Reformat", {v}, {to}, g_.unique_name("reformat_" + v->name()), "kiln");
      ++stats.reformats;
    }
    to->type() = v->type();
    to->type().layout = want;
    converted_[key] = to;
    return to;
  }

  // Graph outputs are row-major: a channels-last output's producer writes a channels-last copy
  // that a Reformat turns back.
  void restore_graph_outputs() {
    for (ir::Value* out : std::vector<ir::Value*>(g_.outputs())) {
      if (!is_nhwc(out) || !out->producer()) continue;
      ir::Value* inner = g_.add_value(g_.unique_name(out->name() + "_nhwc"));
      inner->type() = out->type();
      for (ir::Node* c : g_.consumers(out))
        for (size_t i = 0; i < c->num_inputs(); ++i)
          if (c->input(i) == out) c->set_input(i, inner);
      ir::Node* producer = out->producer();
      for (size_t o = 0; o < producer->num_outputs(); ++o)
        if (producer->output(o) == out) g_.set_node_output(producer, o, inner);
      out->type().layout = Layout::kRowMajor;
      g_.add_node("Reformat", {inner}, {out}, g_.unique_name("reformat_" + out->name()), "kiln");
      ++stats.reformats;
    }
  }

  // Cast -> Reformat(to NHWC), the Cast read by nothing else (the graph input's precision cast):
  // the Cast writes channels-last itself where a kernel does both, saving one pass over the input.
  void fold_casts_into_reformats() {
    for (ir::Node* r : g_.node_list()) {
      if (r->domain() != "kiln" || r->op_type() != "Reformat" || !is_nhwc(r->output(0))) continue;
      ir::Value* v = r->input(0);
      ir::Node* cast = v->producer();
      if (!cast || !cast->domain().empty() || cast->op_type() != "Cast" || g_.consumers(v).size() != 1) continue;
      bool output = false;
      for (const ir::Value* o : g_.outputs()) output |= o == v;
      if (output) continue;
      v->type().layout = Layout::kNHWC;  // ask with the layout the Cast would write
      bool ok = supported_(*cast);
      v->type().layout = Layout::kRowMajor;
      if (!ok) continue;
      ir::Value* out = r->output(0);
      g_.remove_node(r);
      g_.set_node_output(cast, 0, out);
      --stats.reformats;
    }
  }

  ir::Graph& g_;
  const LayoutSupport& supported_;
  std::map<std::pair<ir::Value*, Layout>, ir::Value*> converted_;
};

}  // namespace

Result<ChannelsLastStats> assign_channels_last(ir::Graph& g, const LayoutSupport& supported, const PassLog& log) {
  if (!g.subgraphs().empty()) {
    if (log) log("channels-last: skipped (the model has subgraphs)");
    return ChannelsLastStats{};
  }
  const int absorbed = absorb_input_transposes(g, supported);
  Assigner a(g, supported);
  a.stats.absorbed_inputs = absorbed;
  a.run();
  g.remove_unused_values();  // the row-major originals of repacked weights
  KILN_RETURN_IF_ERROR(g.topological_sort());
  if (log)
    log("channels-last: " + std::to_string(a.stats.convolutions) + " convolutions and " +
        std::to_string(a.stats.followers) + " pooling/elementwise layers in NHWC, " +
        std::to_string(a.stats.reformats) + " reformats, " + std::to_string(a.stats.repacked_weights) +
        " weights repacked" +
        (absorbed ? ", " + std::to_string(absorbed) + " channels-last inputs read as they are" : std::string()));
  return a.stats;
}

}  // namespace kiln::passes
