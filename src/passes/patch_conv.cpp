// Patch convolution as a product: a 2-D Conv whose kernel equals its stride (no padding, no
// dilation, one group) reads each input pixel exactly once, so its im2col is a pure
// rearrangement and the convolution is one GEMM:
//   X [N,C,H,W] -> Reshape [N,C,Hp,k,Wp,l] -> Transpose(0,2,4,1,3,5) -> Reshape [N*Hp*Wp, C*k*l]
//   -> MatMul(W as [C*k*l, K]) [+ bias] -> Reshape [N,Hp,Wp,K] -> Transpose(0,3,1,2) = Y [N,K,Hp,Wp]
// (from a channels-last X = Transpose(S [N,H,W,C]): S -> Reshape [N,Hp,k,Wp,l,C] ->
// Transpose(0,1,3,2,4,5) -> rows (k, l, C), the weights in that order: one copy, not two)
// Why: ViT's 16x16/16 patch embedding ran at ~30 TFLOP/s through cuDNN (1.9 ms of ViT-B/16 at
// batch 256); as a product it runs at GEMM speed, and movement-collapse folds the output
// Transpose into ViT's own flatten + transpose (both become views).
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

// S when x = Transpose(S, perm [0,3,1,2]) with S of static dims `nhwc`, else nullptr.
ir::Value* nhwc_source(const ir::Value* x, const std::vector<int64_t>& nhwc) {
  const ir::Node* t = x->producer();
  if (!t || !t->domain().empty() || t->op_type() != "Transpose" || !t->input(0)) return nullptr;
  if (t->attrs().get_ints("perm", {}) != std::vector<int64_t>{0, 3, 1, 2}) return nullptr;
  auto d = static_dims(t->input(0));
  return d && *d == nhwc && t->input(0)->type().dtype == x->type().dtype ? t->input(0) : nullptr;
}

class PatchConv : public Pass {
 public:
  const char* name() const override { return "patch-conv"; }

  bool matches(const ir::Graph&, const ir::Node& n) const override {
    return n.domain().empty() && n.op_type() == "Conv" && n.num_inputs() >= 2 && n.input(0) && n.input(1) &&
           n.output(0);
  }

  bool rewrite(ir::Graph& g, ir::Node& conv, const PassLog& log) override {
    ir::Value* x = conv.input(0);
    ir::Value* w = conv.input(1);
    ir::Value* b = conv.num_inputs() > 2 ? conv.input(2) : nullptr;
    auto xd = static_dims(x);
    auto wd = static_dims(w);
    auto yd = static_dims(conv.output(0));
    if (!xd || !wd || !yd || xd->size() != 4 || wd->size() != 4 || !w->is_constant()) return false;
    if (b && !b->is_constant()) return false;
    const auto& a = conv.attrs();
    const int64_t kh = (*wd)[2], kw = (*wd)[3];
    if (kh * kw < 2) return false;  // 1x1 stride 1 already is a product (cuda.cublaslt.conv1x1)
    if (a.get_int("group", 1) != 1 || a.get_string("auto_pad", "NOTSET") != "NOTSET") return false;
    if (a.get_ints("strides", {1, 1}) != std::vector<int64_t>{kh, kw}) return false;
    if (a.get_ints("dilations", {1, 1}) != std::vector<int64_t>{1, 1}) return false;
    if (a.get_ints("pads", {0, 0, 0, 0}) != std::vector<int64_t>{0, 0, 0, 0}) return false;
    if (a.has("kernel_shape") && a.get_ints("kernel_shape", {}) != std::vector<int64_t>{kh, kw}) return false;
    const int64_t n = (*xd)[0], c = (*xd)[1], h = (*xd)[2], wi = (*xd)[3], k = (*wd)[0];
    if ((*wd)[1] != c || h % kh != 0 || wi % kw != 0) return false;  // a remainder would need a Slice
    const int64_t hp = h / kh, wp = wi / kw, patch = c * kh * kw;
    auto wv = constant_values(w, k * patch);
    if (!wv) return false;
    // X = Transpose(S [N,H,W,C], perm 0,3,1,2) (a channels-last input, passes/input_layout.h): the
    // patches come from S directly, as rows (k, l, C), so the copy reads runs of l*C contiguous
    // elements instead of l at a stride of C; the weights follow that order.
    ir::Value* nhwc = nhwc_source(x, {n, h, wi, c});
    // W [K, C*k*l] -> [C*k*l, K], or [k*l*C, K] for an NHWC source.
    std::vector<double> wt(static_cast<size_t>(patch * k));
    for (int64_t o = 0; o < k; ++o)
      for (int64_t ci = 0; ci < c; ++ci)
        for (int64_t q = 0; q < kh * kw; ++q) {
          const int64_t row = nhwc ? q * c + ci : ci * kh * kw + q;
          wt[row * k + o] = (*wv)[o * patch + ci * kh * kw + q];
        }

    const std::string base = conv.name();
    std::vector<std::string> origin;
    append_origin(origin, &conv);
    ir::Value* y = conv.output(0);
    const DataType dt = w->type().dtype;
    g.remove_node(&conv);
    Replacement r(g, base, origin);
    ir::Value* v = nhwc ? r.add("Reshape", {nhwc, r.dims({n, hp, kh, wp, kw, c})}, nullptr, "_split")->output(0)
                        : r.add("Reshape", {x, r.dims({n, c, hp, kh, wp, kw})}, nullptr, "_split")->output(0);
    ir::Node* t = r.add("Transpose", {v}, nullptr, "_patches");
    t->attrs().set("perm", nhwc ? std::vector<int64_t>{0, 1, 3, 2, 4, 5} : std::vector<int64_t>{0, 2, 4, 1, 3, 5});
    v = r.add("Reshape", {t->output(0), r.dims({n * hp * wp, patch})}, nullptr, "_rows")->output(0);
    ir::Value* wm = g.add_constant(g.unique_name(w->name() + "_as_matrix"), make_float_tensor(dt, {patch, k}, wt));
    v = r.add("MatMul", {v, wm}, nullptr, "_matmul")->output(0);
    if (b) v = r.add("Add", {v, b}, nullptr, "_bias")->output(0);
    v = r.add("Reshape", {v, r.dims({n, hp, wp, k})}, nullptr, "_pixels")->output(0);
    ir::Node* back = r.add("Transpose", {v}, y, "_nchw");
    back->attrs().set("perm", std::vector<int64_t>{0, 3, 1, 2});
    if (log) log("patch-conv: " + base + " (" + std::to_string(kh) + "x" + std::to_string(kw) + " stride " +
                 std::to_string(kh) + "x" + std::to_string(kw) + ") -> Transpose + MatMul");
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_patch_conv() { return std::make_unique<PatchConv>(); }

}  // namespace kiln::passes
