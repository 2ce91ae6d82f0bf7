// BatchNormalization folding: BN(P(x)) with P a Conv, ConvTranspose, Gemm or MatMul with
// constant weights becomes P with scaled weights and a bias: per output channel c,
//   s = gamma[c] / sqrt(var[c] + eps),  W'[c] = W[c] * s,  b'[c] = (b[c] - mean[c]) * s + beta[c].
// The math is done in double. Declines (graph untouched) when any constant is missing or has an
// unexpected dtype or size, or when P's output is read by anything but the BN.
#include <cmath>
#include <functional>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

struct BnParams {
  std::vector<double> scale, shift;  // y = x * scale + shift per channel
};

std::optional<BnParams> bn_params(const ir::Node& bn, int64_t channels) {
  auto gamma = constant_values(bn.input(1), channels), beta = constant_values(bn.input(2), channels);
  auto mean = constant_values(bn.input(3), channels), var = constant_values(bn.input(4), channels);
  if (!gamma || !beta || !mean || !var) return std::nullopt;
  double eps = bn.attrs().get_float("epsilon", 1e-5f);
  BnParams p;
  for (int64_t c = 0; c < channels; ++c) {
    double s = (*gamma)[c] / std::sqrt((*var)[c] + eps);
    p.scale.push_back(s);
    p.shift.push_back((*beta)[c] - (*mean)[c] * s);
  }
  return p;
}

class BatchNormFolding : public Pass {
 public:
  const char* name() const override { return "batchnorm-folding"; }

  bool matches(const ir::Graph& g, const ir::Node& n) const override {
    if (!n.domain().empty() || n.op_type() != "BatchNormalization" || n.num_inputs() != 5) return false;
    const ir::Node* p = n.input(0) ? n.input(0)->producer() : nullptr;
    if (!p || !p->domain().empty() || p->owner() != &g) return false;
    const std::string& op = p->op_type();
    return op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "MatMul";
  }

  bool rewrite(ir::Graph& g, ir::Node& bn, const PassLog& log) override {
    if (bn.attrs().get_int("training_mode", 0) != 0 || bn.attrs().get_int("spatial", 1) != 1) return false;
    for (size_t i = 1; i < bn.num_outputs(); ++i)
      if (bn.output(i) && (is_graph_output(g, bn.output(i)) || !g.consumers(bn.output(i)).empty())) return false;
    ir::Node* p = bn.input(0)->producer();
    if (single_consumer(g, bn.input(0)) != &bn || p->num_outputs() != 1) return false;
    ir::Value* w = p->input(1);
    auto wv = constant_values(w);
    if (!wv || !p->input(0)) return false;
    const auto& wd = w->constant().dims();
    DataType dt = w->constant().dtype();
    const std::string op = p->op_type();

    // Output channels, and for each weight element the channel it feeds.
    int64_t channels = 0;
    std::function<int64_t(int64_t)> channel_of;
    ir::Value* bias_in = nullptr;
    if (op == "Conv") {
      if (wd.size() < 3) return false;
      channels = wd[0];
      int64_t per = w->constant().numel() / channels;
      channel_of = [per](int64_t i) { return i / per; };
      bias_in = p->input(2);
    } else if (op == "ConvTranspose") {
      if (wd.size() < 3) return false;
      int64_t group = p->attrs().get_int("group", 1), per_group = wd[1];
      channels = per_group * group;
      int64_t inner = w->constant().numel() / (wd[0] * wd[1]), in_per_group = wd[0] / group;
      if (in_per_group <= 0) return false;
      channel_of = [=](int64_t i) {
        int64_t ci = i / (per_group * inner), j = (i / inner) % per_group;
        return (ci / in_per_group) * per_group + j;
      };
      bias_in = p->input(2);
    } else {
      if (wd.size() != 2) return false;
      auto out = static_dims(p->output(0));
      if (!out || out->size() != 2) return false;  // BN's channel axis 1 is the last one only at rank 2
      bool trans_b = op == "Gemm" && p->attrs().get_int("transB", 0) != 0;
      channels = trans_b ? wd[0] : wd[1];
      int64_t n_cols = wd[1];
      channel_of = trans_b ? std::function<int64_t(int64_t)>([n_cols](int64_t i) { return i / n_cols; })
                           : std::function<int64_t(int64_t)>([n_cols](int64_t i) { return i % n_cols; });
      if (op == "Gemm") bias_in = p->input(2);
    }
    auto bn_p = bn_params(bn, channels);
    if (!bn_p) return false;

    // The existing bias, broadcast to one value per channel.
    std::vector<double> bias(channels, 0.0);
    if (bias_in) {
      auto b = constant_values(bias_in);
      if (!b) return false;
      if (b->size() == static_cast<size_t>(channels)) bias = *b;
      else if (b->size() == 1) bias.assign(channels, (*b)[0]);
      else return false;
      if (op == "Conv" || op == "ConvTranspose") {
        if (bias_in->constant().rank() != 1) return false;
      } else if (bias_in->constant().rank() > 1 && bias_in->constant().dim(bias_in->constant().rank() - 1) != channels &&
                 b->size() != 1) {
        return false;
      }
    }
    if (op == "Gemm") {
      double alpha = p->attrs().get_float("alpha", 1.0f), beta = p->attrs().get_float("beta", 1.0f);
      for (double& v : *wv) v *= alpha;
      for (double& v : bias) v *= beta;
    }
    for (size_t i = 0; i < wv->size(); ++i) (*wv)[i] *= bn_p->scale[channel_of(static_cast<int64_t>(i))];
    for (int64_t c = 0; c < channels; ++c) bias[c] = bias[c] * bn_p->scale[c] + bn_p->shift[c];

    ir::Value* new_w = g.add_constant(g.unique_name(w->name() + "_bnfolded"), make_float_tensor(dt, wd, *wv));
    ir::Value* new_b = g.add_constant(g.unique_name(bn.name() + "_bias"), make_float_tensor(dt, {channels}, bias));
    std::vector<ir::Value*> ins = p->inputs();
    ins.resize(3);
    ins[1] = new_w;
    ins[2] = new_b;
    ir::Value* out = bn.output(0);
    std::string what = p->describe() + " + " + bn.describe();
    ir::Node* fused = nullptr;
    std::string bn_name = bn.name();
    std::vector<std::string> bn_fused = bn.fused_from();
    g.remove_node(&bn);
    if (op == "MatMul") {
      fused = replace_node(g, p, "FusedMatMul", "kiln", ins, {out});
      g.set_opset("kiln", 1);
    } else {
      fused = replace_node(g, p, op, "", ins, {out});
    }
    if (op == "Gemm") {
      fused->attrs().set("alpha", 1.0f);
      fused->attrs().set("beta", 1.0f);
    }
    if (fused->fused_from().empty()) fused->fused_from().push_back(fused->name());
    if (bn_fused.empty()) fused->fused_from().push_back(bn_name);
    else fused->fused_from().insert(fused->fused_from().end(), bn_fused.begin(), bn_fused.end());
    if (log) log("batchnorm-folding: folded " + what);
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_batchnorm_folding() { return std::make_unique<BatchNormFolding>(); }

}  // namespace kiln::passes
