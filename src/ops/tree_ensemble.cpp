// ai.onnx.ml TreeEnsemble (version 5): a forest of binary decision trees, each sample walked
// from every root to a leaf whose weight adds to (or bounds) its target. post_transform
// other than NONE is refused (the spec's reference ignores it).
#include <cmath>
#include <limits>
#include <set>

#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

enum Mode { kLeq = 0, kLt, kGte, kGt, kEq, kNeq, kMember };

struct Forest {
  std::vector<double> splits, leaf_weights;
  std::vector<int64_t> features, modes, true_ids, false_ids, true_leaf, false_leaf, leaf_targets, roots, missing_true;
  std::vector<std::set<double>> members;  // per node (MEMBER nodes only)
  int64_t n_targets = 0, aggregate = 1;
};

Forest forest_of(const ir::Attributes& a) {
  Forest f;
  f.splits = a.tensor("nodes_splits").to_f64();
  f.leaf_weights = a.tensor("leaf_weights").to_f64();
  f.features = a.get_ints("nodes_featureids");
  f.modes = a.tensor("nodes_modes").to_i64();
  f.true_ids = a.get_ints("nodes_truenodeids");
  f.false_ids = a.get_ints("nodes_falsenodeids");
  f.true_leaf = a.get_ints("nodes_trueleafs");
  f.false_leaf = a.get_ints("nodes_falseleafs");
  f.leaf_targets = a.get_ints("leaf_targetids");
  f.roots = a.get_ints("tree_roots");
  f.missing_true = a.get_ints("nodes_missing_value_tracks_true");
  f.n_targets = a.int_("n_targets");
  f.aggregate = a.get_int("aggregate_function", 1);
  if (a.get_int("post_transform", 0) != 0)
    throw_error(StatusCode::kUnsupported, "TreeEnsemble post_transform other than NONE is not supported");
  if (f.aggregate < 0 || f.aggregate > 3) throw_error(StatusCode::kInvalidModel, "unknown aggregate_function");
  size_t n = f.splits.size();
  auto fail = [](const std::string& m) { throw_error(StatusCode::kInvalidModel, "TreeEnsemble: " + m); };
  if (f.features.size() != n || f.modes.size() != n || f.true_ids.size() != n || f.false_ids.size() != n ||
      f.true_leaf.size() != n || f.false_leaf.size() != n || (!f.missing_true.empty() && f.missing_true.size() != n))
    fail("node attributes differ in length");
  if (f.leaf_targets.size() != f.leaf_weights.size()) fail("leaf attributes differ in length");
  if (f.n_targets < 1) fail("n_targets must be positive");
  for (int64_t t : f.leaf_targets)
    if (t < 0 || t >= f.n_targets) fail("leaf target " + std::to_string(t) + " is out of range");
  for (size_t i = 0; i < n; ++i) {
    if (f.modes[i] < kLeq || f.modes[i] > kMember) fail("unknown node mode " + std::to_string(f.modes[i]));
    if (f.features[i] < 0) fail("negative feature id");
    auto check = [&](int64_t id, bool leaf) {
      if (id < 0 || id >= static_cast<int64_t>(leaf ? f.leaf_weights.size() : n)) fail("node or leaf id out of range");
    };
    check(f.true_ids[i], f.true_leaf[i] != 0);
    check(f.false_ids[i], f.false_leaf[i] != 0);
  }
  for (int64_t r : f.roots)
    if (r < 0 || r >= static_cast<int64_t>(n)) fail("tree root out of range");
  f.members.resize(n);
  if (a.has("membership_values")) {
    std::vector<double> mv = a.tensor("membership_values").to_f64();
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
      if (f.modes[i] != kMember) continue;
      while (k < mv.size() && !std::isnan(mv[k])) f.members[i].insert(mv[k++]);
      if (k >= mv.size()) fail("membership_values has too few sets");
      ++k;  // the NaN ending the set
    }
  } else {
    for (int64_t m : f.modes)
      if (m == kMember) fail("MEMBER nodes need membership_values");
  }
  return f;
}

bool goes_true(const Forest& f, size_t node, double x) {
  if (std::isnan(x) && !f.missing_true.empty() && f.missing_true[node]) return true;
  double s = f.splits[node];
  switch (f.modes[node]) {
    case kLeq: return x <= s;
    case kLt: return x < s;
    case kGte: return x >= s;
    case kGt: return x > s;
    case kEq: return x == s;
    case kNeq: return x != s;
    default: return f.members[node].count(x) != 0;
  }
}

void tree_ensemble_cpu(KernelContext& ctx) {
  Forest f = forest_of(ctx.attrs());
  const Tensor& x = ctx.input(0);
  if (x.rank() != 2) ctx.fail("input must be [N, F], is " + x.describe());
  int64_t rows = x.dim(0), feats = x.dim(1);
  for (int64_t id : f.features)
    if (id >= feats) ctx.fail("feature id " + std::to_string(id) + " is out of range for " + x.describe());
  std::vector<double> in = x.to_f64();
  double init = f.aggregate == 2 ? std::numeric_limits<double>::max()
                : f.aggregate == 3 ? std::numeric_limits<double>::lowest() : 0.0;
  std::vector<double> res(static_cast<size_t>(rows * f.n_targets), init);
  size_t max_steps = f.splits.size() + 1;  // a longer walk means a cycle
  for (int64_t r = 0; r < rows; ++r) {
    const double* row = in.data() + r * feats;
    for (int64_t root : f.roots) {
      size_t node = static_cast<size_t>(root);
      int64_t leaf = -1;
      bool degenerate = f.true_leaf[node] && f.false_leaf[node] && f.true_ids[node] == f.false_ids[node];
      if (degenerate) leaf = f.true_ids[node];
      for (size_t step = 0; leaf < 0; ++step) {
        if (step > max_steps) ctx.fail("the trees contain a cycle");
        bool t = goes_true(f, node, row[f.features[node]]);
        int64_t next = t ? f.true_ids[node] : f.false_ids[node];
        if (t ? f.true_leaf[node] : f.false_leaf[node]) leaf = next;
        else node = static_cast<size_t>(next);
      }
      double w = f.leaf_weights[static_cast<size_t>(leaf)];
      double& o = res[static_cast<size_t>(r * f.n_targets + f.leaf_targets[static_cast<size_t>(leaf)])];
      switch (f.aggregate) {
        case 0: o += w / static_cast<double>(f.roots.size()); break;
        case 1: o += w; break;
        case 2: o = std::min(o, w); break;
        default: o = std::max(o, w); break;
      }
    }
  }
  Tensor& out = ctx.allocate_output(0, x.dtype(), {rows, f.n_targets});
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (size_t i = 0; i < res.size(); ++i) {
      if constexpr (std::is_same_v<T, double>) out.data<T>()[i] = res[i];
      else out.data<T>()[i] = T(static_cast<float>(res[i]));
    }
  });
}

void infer_tree_ensemble(InferenceContext& ctx) {
  Forest f = forest_of(ctx.attrs());
  DataType dt = ctx.input_dtype(0);
  if (dt != DataType::kUndefined && dt != DataType::kFloat32 && dt != DataType::kFloat64 && dt != DataType::kFloat16)
    ctx.fail("input must be float, double or float16");
  std::optional<Shape> out;
  if (const Shape* s = ctx.input_shape(0)) {
    if (s->rank() != 2) ctx.fail("input must be [N, F], is " + s->to_string());
    out = Shape({(*s)[0], Dim(f.n_targets)});
  }
  ctx.set_output(0, dt, out);
}

}  // namespace

KILN_REGISTER_OP(TreeEnsemble, {"ai.onnx.ml", "TreeEnsemble", {5}, infer_tree_ensemble, tree_ensemble_cpu});

}  // namespace kiln::ops
