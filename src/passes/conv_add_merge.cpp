// Two 1x1 convolutions added together become one over their inputs side by side:
//   Add(Conv(X1, W1, B1), Conv(X2, W2, B2, strides s))
//     -> Conv(Concat(X1, X2[:, :, ::s, ::s], axis 1), [W1 | W2], B1 + B2)
// (both 1x1, ungrouped, unpadded, undilated, constant weights; the first stride 1; each read
// only by the Add; C1 + C2 < K). For s > 1 the Concat is kiln::SampledConcat, which reads X2 at
// the pixels a strided 1x1 convolution reads, in the same copy.
// Exact up to summation order: each output is one dot product over C1 + C2 inputs instead of two
// dot products and an add.
// Why: ResNet's projection blocks add conv3(x) to downsample(x): the two products write and
// read back a full-size intermediate (layer1: 411 MB at batch 256); after the merge the input
// copy moves C1 + C2 channels instead, at the block's narrow width (layer1: 206 MB).
#include <algorithm>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

// A plain 1x1 convolution this rewrite takes; its stride in `stride` (equal on both axes).
bool plain_1x1(const ir::Graph& g, const ir::Node* c, int64_t& stride) {
  if (!c || !c->domain().empty() || c->op_type() != "Conv" || c->owner() != &g || c->num_outputs() != 1) return false;
  if (c->num_inputs() < 2 || !c->input(0) || !c->input(1) || !c->input(1)->is_constant()) return false;
  if (c->input(2) && !c->input(2)->is_constant()) return false;
  const Tensor& w = c->input(1)->constant();
  if (w.rank() != 4 || w.dim(2) != 1 || w.dim(3) != 1 || !is_float(w.dtype())) return false;
  if (c->attrs().get_int("group", 1) != 1) return false;
  const std::string auto_pad = c->attrs().get_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID") return false;
  for (int64_t p : c->attrs().get_ints("pads", {})) if (p != 0) return false;
  for (int64_t d : c->attrs().get_ints("dilations", {})) if (d != 1) return false;
  auto strides = c->attrs().get_ints("strides", {1, 1});
  if (strides.size() != 2 || strides[0] != strides[1] || strides[0] < 1) return false;
  stride = strides[0];
  auto x = static_dims(c->input(0)), y = static_dims(c->output(0));
  return x && y && x->size() == 4 && y->size() == 4;
}

// Weights [K, C1 + C2, 1, 1] and bias [K] (either bias may be absent), in the first's dtype.
std::optional<std::pair<Tensor, Tensor>> merged_constants(const ir::Node& a, const ir::Node& b) {
  const Tensor& wa = a.input(1)->constant();
  const Tensor& wb = b.input(1)->constant();
  if (wa.dtype() != wb.dtype() || wa.dim(0) != wb.dim(0)) return std::nullopt;
  const int64_t k = wa.dim(0), ca = wa.dim(1), cb = wb.dim(1);
  auto va = constant_values(a.input(1)), vb = constant_values(b.input(1));
  if (!va || !vb) return std::nullopt;
  std::vector<double> w;
  w.reserve(static_cast<size_t>(k * (ca + cb)));
  for (int64_t o = 0; o < k; ++o) {
    w.insert(w.end(), va->begin() + o * ca, va->begin() + (o + 1) * ca);
    w.insert(w.end(), vb->begin() + o * cb, vb->begin() + (o + 1) * cb);
  }
  std::vector<double> bias(static_cast<size_t>(k), 0.0);
  for (const ir::Node* c : {&a, &b}) {
    if (!c->input(2)) continue;
    auto v = constant_values(c->input(2), k);
    if (!v) return std::nullopt;
    for (int64_t o = 0; o < k; ++o) bias[o] += (*v)[o];
  }
  return std::make_pair(make_float_tensor(wa.dtype(), {k, ca + cb, 1, 1}, w),
                        make_float_tensor(wa.dtype(), {k}, bias));
}

class ConvAddMerge : public Pass {
 public:
  const char* name() const override { return "conv-add-merge"; }

  bool matches(const ir::Graph&, const ir::Node& n) const override {
    return n.domain().empty() && n.op_type() == "Add" && n.num_inputs() == 2 && n.input(0) && n.input(1) &&
           n.output(0) && n.input(0) != n.input(1);
  }

  bool rewrite(ir::Graph& g, ir::Node& add, const PassLog& log) override {
    ir::Node* a = add.input(0)->producer();
    ir::Node* b = add.input(1)->producer();
    int64_t sa = 0, sb = 0;
    if (!plain_1x1(g, a, sa) || !plain_1x1(g, b, sb)) return false;
    if (sa != 1) std::swap(a, b), std::swap(sa, sb);  // the unstrided one first
    if (sa != 1) return false;
    if (single_consumer(g, a->output(0)) != &add || single_consumer(g, b->output(0)) != &add) return false;
    auto ya = static_dims(a->output(0)), yb = static_dims(b->output(0)), xa = static_dims(a->input(0)),
         xb = static_dims(b->input(0));
    auto sum = static_dims(add.output(0));
    if (*ya != *yb || !sum || *sum != *ya) return false;
    if (a->input(0)->type().dtype != b->input(0)->type().dtype) return false;
    // The strided input sampled at the output's grid: rows and columns 0, s, 2s, ...
    const auto& x2 = *xb;
    if ((x2[2] - 1) / sb + 1 != (*ya)[2] || (x2[3] - 1) / sb + 1 != (*ya)[3]) return false;
    if ((*xa)[0] != x2[0] || (*xa)[2] != (*ya)[2] || (*xa)[3] != (*ya)[3]) return false;
    // Worth it when the inputs side by side are narrower than the output: the Concat copies
    // C1 + C2 channels where the two products wrote and read back K.
    if ((*xa)[1] + x2[1] >= (*ya)[1]) return false;
    auto constants = merged_constants(*a, *b);
    if (!constants) return false;

    const std::string what = add.describe() + " of " + a->describe() + " and " + b->describe();
    std::vector<std::string> origin;
    for (const ir::Node* n : {static_cast<const ir::Node*>(a), static_cast<const ir::Node*>(b),
                              static_cast<const ir::Node*>(&add)})
      append_origin(origin, n);
    Replacement r(g, add.name(), origin);
    ir::Node* concat = r.add("Concat", {a->input(0), b->input(0)}, nullptr, "_inputs");
    concat->attrs().set("axis", int64_t{1});
    if (sb > 1) {  // one copy that samples X2 (Slice + Concat would copy the sample twice)
      concat->set_op_type("SampledConcat", "kiln");
      concat->attrs().set("steps", std::vector<int64_t>{1, 1, 1, 1, 1, 1, sb, sb});
    }
    ir::Value* w = g.add_constant(g.unique_name(add.name() + "_merged_weight"), std::move(constants->first));
    ir::Value* bias = g.add_constant(g.unique_name(add.name() + "_merged_bias"), std::move(constants->second));
    ir::Value* y = add.output(0);
    g.remove_node(&add);
    g.remove_node(a);
    g.remove_node(b);
    ir::Node* conv = r.add("Conv", {concat->output(0), w, bias}, y, "_conv");
    conv->attrs().set("kernel_shape", std::vector<int64_t>{1, 1});
    conv->attrs().set("strides", std::vector<int64_t>{1, 1});
    if (log) log("conv-add-merge: " + what);
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_conv_add_merge() { return std::make_unique<ConvAddMerge>(); }

}  // namespace kiln::passes
