// Movement collapse: a chain of data-movement ops (Reshape, Flatten, Squeeze, Unsqueeze,
// Transpose, Gather of one constant index) only re-indexes its source, so the whole chain is one
// strided view of the source: out[i] = src[offset + sum(i_k * stride_k)]. This pass rewrites the
// chain into the fewest copies that produce that view:
//   Reshape(src, factors) -> [Gather(the one factor the offset selects)] -> [Transpose] -> [Reshape]
// where Reshapes cost nothing (aliases in the memory plan) and Gather/Transpose each cost one
// copy. It fires only when that is fewer copies than the chain had.
// Why: torch 2.11 exports torchvision's ViT attention as qkv -> Reshape -> Unsqueeze ->
// Transpose(3,1,2,0,4) -> Squeeze -> Gather(i) -> Reshape -> Transpose -> Reshape per q, k, v:
// three copies of each; collapsed, each of q, k, v is one Gather and a Transpose that
// attention-fusion then absorbs into kiln::Attention's perms.
#include <algorithm>
#include <numeric>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace kiln::passes {
namespace {

// A strided view over a row-major source of `numel` elements.
struct View {
  std::vector<int64_t> dims, strides;
  int64_t offset = 0;
};

// How the chain indexes its source while it is being walked: each dim is a mixed-radix number
// over factors (size, stride), outer first. A dim can hold several factors that are not
// contiguous (torch's q.reshape(S, B*H, D) of a strided q merges B and H), which no single
// stride describes; later ops may split them again (the head-split Reshape), and only the end
// result must be a plain strided view.
struct Factor {
  int64_t size, stride;
};
struct Walk {
  std::vector<std::vector<Factor>> dims;  // size-1 factors are dropped; a size-1 dim is empty
  int64_t offset = 0;
};

Walk contiguous(const std::vector<int64_t>& dims) {
  Walk w;
  w.dims.resize(dims.size());
  int64_t s = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    if (dims[i] != 1) w.dims[i].push_back({dims[i], s});
    s *= dims[i];
  }
  return w;
}

// The walk seen through a reshape to `dims`: the factors, in order, regrouped by size; a factor
// is split where a new dim boundary falls inside it.
std::optional<Walk> reshape_walk(const Walk& w, const std::vector<int64_t>& dims) {
  std::vector<Factor> flat;
  for (const auto& d : w.dims) flat.insert(flat.end(), d.begin(), d.end());
  Walk out;
  out.offset = w.offset;
  size_t next = 0;
  for (int64_t n : dims) {
    std::vector<Factor> mine;
    int64_t have = 1;
    while (have < n) {
      if (next >= flat.size()) return std::nullopt;
      Factor f = flat[next];
      if (have * f.size <= n) {
        mine.push_back(f);
        have *= f.size;
        ++next;
        continue;
      }
      int64_t k = n / have;  // the outer part of f that completes this dim
      if (n % have != 0 || f.size % k != 0) return std::nullopt;
      mine.push_back({k, f.stride * (f.size / k)});
      flat[next] = {f.size / k, f.stride};
      have *= k;
    }
    if (have != n) return std::nullopt;
    out.dims.push_back(std::move(mine));
  }
  if (next != flat.size()) return std::nullopt;
  return out;
}

std::vector<int64_t> sizes(const Walk& w) {
  std::vector<int64_t> s;
  for (const auto& d : w.dims) {
    int64_t n = 1;
    for (const Factor& f : d) n *= f.size;
    s.push_back(n);
  }
  return s;
}

// The walk as a strided view, when every dim's factors are contiguous among themselves.
std::optional<View> as_view(const Walk& w) {
  View v;
  v.offset = w.offset;
  for (const auto& d : w.dims) {
    int64_t size = 1, stride = 1;
    for (size_t k = d.size(); k-- > 0;) {
      if (k + 1 < d.size() && d[k].stride != d[k + 1].stride * d[k + 1].size) return std::nullopt;
      if (k + 1 == d.size()) stride = d[k].stride;
      size *= d[k].size;
    }
    v.dims.push_back(size);
    v.strides.push_back(d.empty() ? 1 : stride);
  }
  return v;
}

bool is_movement(const ir::Node& n) {
  if (!n.domain().empty() || n.num_outputs() != 1 || !n.input(0) || !n.output(0)) return false;
  const std::string& op = n.op_type();
  if (op == "Gather") {
    const ir::Value* idx = n.input(1);
    if (!idx || !idx->is_constant() || idx->constant().numel() != 1) return false;
    DataType it = idx->constant().dtype();
    return it == DataType::kInt64 || it == DataType::kInt32;
  }
  return op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" || op == "Transpose" ||
         op == "Identity";
}

// w seen through movement node n (whose output has static dims); nothing when the chain stops
// being an index map this pass can follow.
std::optional<Walk> apply(const Walk& w, const ir::Node& n) {
  auto out = static_dims(n.output(0));
  if (!out) return std::nullopt;
  const std::string& op = n.op_type();
  const int64_t rank = static_cast<int64_t>(w.dims.size());
  std::optional<Walk> r;
  if (op == "Transpose") {
    std::vector<int64_t> perm = n.attrs().get_ints("perm", {});
    if (perm.empty())
      for (int64_t i = rank; i-- > 0;) perm.push_back(i);
    if (static_cast<int64_t>(perm.size()) != rank) return std::nullopt;
    r = Walk{};
    r->offset = w.offset;
    for (int64_t p : perm) {
      if (p < 0 || p >= rank) return std::nullopt;
      r->dims.push_back(w.dims[p]);
    }
  } else if (op == "Gather") {
    int64_t axis = n.attrs().get_int("axis", 0);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return std::nullopt;
    int64_t index = n.input(1)->constant().to_i64()[0];
    const int64_t size = sizes(w)[axis];
    if (index < 0) index += size;
    if (index < 0 || index >= size) return std::nullopt;
    r = w;
    const auto& fs = w.dims[axis];
    for (size_t k = fs.size(); k-- > 0;) {  // the index in mixed radix, inner factor last
      r->offset += (index % fs[k].size) * fs[k].stride;
      index /= fs[k].size;
    }
    if (n.input(1)->constant().rank() == 0) r->dims.erase(r->dims.begin() + axis);
    else r->dims[axis].clear();  // a one-element index list keeps the axis, size 1
  } else {
    r = reshape_walk(w, *out);  // Reshape, Flatten, Squeeze, Unsqueeze, Identity
  }
  if (!r || sizes(*r) != *out) return std::nullopt;
  return r;
}

// The canonical form of view v over a source of `numel` elements: the source's factorization
// (outer to inner), which factor (if any) the offset selects, and the order of the rest.
struct Canonical {
  std::vector<int64_t> factors;  // Reshape(src, factors)
  int64_t gather_axis = -1, gather_index = 0;
  std::vector<int64_t> perm;  // of the factors left after the Gather, to the output's order
  int copies() const {
    bool moved = false;
    for (size_t i = 0; i < perm.size(); ++i) moved |= perm[i] != static_cast<int64_t>(i);
    return (gather_axis >= 0) + moved;
  }
};

std::optional<Canonical> canonical(const View& v, int64_t numel) {
  // Visible factors: the output's dims other than 1, innermost (smallest stride) first.
  std::vector<size_t> axes;
  for (size_t i = 0; i < v.dims.size(); ++i)
    if (v.dims[i] != 1) axes.push_back(i);
  std::sort(axes.begin(), axes.end(), [&](size_t a, size_t b) { return v.strides[a] < v.strides[b]; });
  struct Factor {
    int64_t size, stride;
    int64_t axis;  // output axis, -1 for a factor the view does not span
  };
  std::vector<Factor> inner_first;
  int64_t expected = 1;
  for (size_t k = 0; k < axes.size(); ++k) {
    int64_t s = v.strides[axes[k]];
    if (s <= 0 || s % expected != 0 || (k > 0 && s == v.strides[axes[k - 1]])) return std::nullopt;
    if (s > expected) inner_first.push_back({s / expected, expected, -1});
    inner_first.push_back({v.dims[axes[k]], s, static_cast<int64_t>(axes[k])});
    expected = s * v.dims[axes[k]];
  }
  if (expected <= 0 || numel % expected != 0) return std::nullopt;
  if (numel > expected) inner_first.push_back({numel / expected, expected, -1});
  // The offset must select within hidden factors only, and at most one of them (one Gather).
  Canonical c;
  int64_t rest = v.offset;
  std::vector<int64_t> kept_axes;  // output axis of each factor left after the Gather, outer first
  for (size_t k = inner_first.size(); k-- > 0;) {
    const Factor& f = inner_first[k];
    int64_t index = rest / f.stride;
    rest %= f.stride;
    if (index >= f.size) return std::nullopt;
    c.factors.push_back(f.size);
    if (f.axis >= 0) {
      if (index != 0) return std::nullopt;
      kept_axes.push_back(f.axis);
    } else {
      if (c.gather_axis >= 0) return std::nullopt;  // two hidden factors: not one Gather
      c.gather_axis = static_cast<int64_t>(c.factors.size()) - 1;
      c.gather_index = index;
    }
  }
  if (rest != 0) return std::nullopt;
  // perm[j] = position (among kept factors) of the j-th visible output axis.
  for (size_t j = 0; j < v.dims.size(); ++j) {
    if (v.dims[j] == 1) continue;
    auto it = std::find(kept_axes.begin(), kept_axes.end(), static_cast<int64_t>(j));
    c.perm.push_back(static_cast<int64_t>(it - kept_axes.begin()));
  }
  return c;
}

class MovementCollapse : public Pass {
 public:
  const char* name() const override { return "movement-collapse"; }

  // The end of a chain: a movement op read by something else, whose input is a movement op.
  bool matches(const ir::Graph&, const ir::Node& n) const override {
    if (!is_movement(n)) return false;
    const ir::Node* p = n.input(0)->producer();
    return p && is_movement(*p);
  }

  bool rewrite(ir::Graph& g, ir::Node& end, const PassLog& log) override {
    ir::Value* y = end.output(0);
    auto readers = g.consumers(y);
    if (readers.empty() && !is_graph_output(g, y)) return false;  // dead: left to dead-node-elimination
    for (const ir::Node* c : readers)
      if (is_movement(*c)) return false;  // not the end of the chain
    // Walk up to the source.
    std::vector<ir::Node*> chain{&end};
    while (chain.size() < 32) {
      ir::Node* p = chain.back()->input(0)->producer();
      if (!p || p->owner() != &g || !is_movement(*p)) break;
      chain.push_back(p);
    }
    std::reverse(chain.begin(), chain.end());
    // The whole chain, else the longest prefix that ends at a copy and saves one: a chain whose
    // end is no strided view of its source (a Reshape merging axes that a copy orders first)
    // can still lose its earlier copies, e.g. a channels-last input's Transpose in front of
    // ViT's patchify (passes/input_layout.h). Each rewrite removes a copy, so this terminates.
    for (size_t len = chain.size(); len >= 2; --len) {
      const std::string& op = chain[len - 1]->op_type();
      if (len < chain.size() && op != "Transpose" && op != "Gather") continue;
      if (collapse(g, std::vector<ir::Node*>(chain.begin(), chain.begin() + static_cast<std::ptrdiff_t>(len)), log))
        return true;
    }
    return false;
  }

 private:
  // Rewrites chain (source first) into its canonical form when that has fewer copies.
  bool collapse(ir::Graph& g, const std::vector<ir::Node*>& chain, const PassLog& log) {
    ir::Node& end = *chain.back();
    ir::Value* y = end.output(0);
    ir::Value* src = chain.front()->input(0);
    auto src_dims = static_dims(src);
    if (!src_dims || !src->type().is_tensor()) return false;
    int old_copies = 0;
    Walk w = contiguous(*src_dims);
    for (ir::Node* n : chain) {
      if (n->output(0)->type().dtype != src->type().dtype) return false;
      auto next = apply(w, *n);
      if (!next) return false;
      // Each runs a copy kernel (one that moves only size-1 dims too).
      old_copies += n->op_type() == "Gather" || n->op_type() == "Transpose";
      w = *next;
    }
    auto view = as_view(w);
    if (!view) return false;
    const View& v = *view;
    const int64_t numel = std::accumulate(src_dims->begin(), src_dims->end(), int64_t{1}, std::multiplies<>());
    if (numel == 0) return false;
    auto c = canonical(v, numel);
    if (!c || c->copies() >= old_copies) return false;

    std::vector<std::string> origin;
    for (ir::Node* n : chain) append_origin(origin, n);
    const std::string base = end.name();
    const std::string what = end.describe();
    g.remove_node(&end);  // the rest of the chain goes with dead-node-elimination if unread
    Replacement r(g, base, origin);
    std::vector<int64_t> kept = c->factors;
    if (c->gather_axis >= 0) kept.erase(kept.begin() + c->gather_axis);
    std::vector<int64_t> transposed;
    for (int64_t p : c->perm) transposed.push_back(kept[p]);
    const bool gather = c->gather_axis >= 0;
    const bool transpose = c->copies() > (gather ? 1 : 0);
    const bool final_reshape = transposed != v.dims;
    ir::Value* x = r.add("Reshape", {src, r.dims(c->factors)}, nullptr, "_factors")->output(0);
    if (gather) {
      Tensor index(DataType::kInt64, {});
      index.data<int64_t>()[0] = c->gather_index;
      ir::Value* iv = g.add_constant(g.unique_name(base + "_index"), index);
      ir::Node* n = r.add("Gather", {x, iv}, (transpose || final_reshape) ? nullptr : y, "_select");
      n->attrs().set("axis", c->gather_axis);
      x = n->output(0);
    }
    if (transpose) {
      ir::Node* n = r.add("Transpose", {x}, final_reshape ? nullptr : y, "_order");
      n->attrs().set("perm", c->perm);
      x = n->output(0);
    }
    if (final_reshape || x != y) r.add("Reshape", {x, r.dims(v.dims)}, y, "_view");
    if (log)
      log("movement-collapse: " + std::to_string(chain.size()) + " movement ops ending at " + what + " -> " +
          std::to_string(c->copies()) + " copies (was " + std::to_string(old_copies) + ")");
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_movement_collapse() { return std::make_unique<MovementCollapse>(); }

}  // namespace kiln::passes
