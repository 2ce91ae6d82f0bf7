#include "plan/memory_planner.h"

#include <algorithm>
#include <numeric>
#include <unordered_set>

namespace kiln::plan {
namespace {

size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

// Union-find over in-place groups: a group is one buffer live from its first to last member.
int find_root(std::vector<int>& parent, int i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

}  // namespace

BufferPlan plan_buffers(const std::vector<BufferRequest>& requests, size_t alignment) {
  if (alignment == 0) alignment = 1;
  const int n = static_cast<int>(requests.size());
  BufferPlan plan;
  plan.placements.resize(n);

  // Merge in-place chains into groups.
  std::vector<int> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  std::vector<bool> taken(n, false);
  for (int i = 0; i < n; ++i) {
    int j = requests[i].reuse_of;
    if (j < 0 || j >= n || j == i || taken[j]) continue;
    // Only when the reused buffer dies exactly where this one is born, and only once.
    if (requests[j].last != requests[i].first || requests[j].first > requests[i].first) continue;
    taken[j] = true;
    parent[find_root(parent, i)] = find_root(parent, j);
  }
  struct Group { size_t bytes = 0; int first = 0, last = 0; bool used = false; size_t offset = 0; };
  std::vector<Group> groups(n);
  for (int i = 0; i < n; ++i) {
    plan.naive_bytes += align_up(requests[i].bytes, alignment);
    Group& g = groups[find_root(parent, i)];
    int last = std::max(requests[i].first, requests[i].last);
    if (!g.used) {
      g.used = true;
      g.first = requests[i].first;
      g.last = last;
    } else {
      g.first = std::min(g.first, requests[i].first);
      g.last = std::max(g.last, last);
    }
    g.bytes = std::max(g.bytes, align_up(requests[i].bytes, alignment));
  }
  // A group is a chain whose members are each born as the previous dies (each reused once),
  // so its members never hold different data at the same step.

  std::vector<int> order;
  for (int i = 0; i < n; ++i)
    if (groups[i].used && groups[i].bytes > 0) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    if (groups[a].bytes != groups[b].bytes) return groups[a].bytes > groups[b].bytes;
    return groups[a].first < groups[b].first;
  });

  std::vector<int> placed;
  for (int gi : order) {
    Group& g = groups[gi];
    std::vector<std::pair<size_t, size_t>> busy;  // [offset, end) of time-overlapping groups
    for (int pi : placed) {
      const Group& p = groups[pi];
      if (p.first <= g.last && g.first <= p.last) busy.emplace_back(p.offset, p.offset + p.bytes);
    }
    std::sort(busy.begin(), busy.end());
    size_t best = SIZE_MAX, best_gap = SIZE_MAX, cursor = 0;
    for (const auto& [begin, end] : busy) {
      if (begin > cursor) {
        size_t gap = begin - cursor;
        if (gap >= g.bytes && gap < best_gap) {
          best_gap = gap;
          best = cursor;
        }
      }
      cursor = std::max(cursor, end);
    }
    g.offset = best != SIZE_MAX ? best : cursor;
    plan.arena_bytes = std::max(plan.arena_bytes, g.offset + g.bytes);
    placed.push_back(gi);
  }
  for (int i = 0; i < n; ++i) {
    plan.placements[i].offset = groups[find_root(parent, i)].offset;
    plan.placements[i].bytes = requests[i].bytes;
  }
  return plan;
}

Result<size_t> value_bytes(const ir::Value& v) {
  const ir::ValueType& t = v.type();
  if (t.kind != ir::ValueKind::kTensor)
    return unsupported("value '" + v.name() + "' is " + t.to_string() + "; engines hold tensors only");
  if (!t.has_static_shape())
    return unsupported("value '" + v.name() + "' has shape " + t.to_string() +
                       ": dynamic shapes are not supported yet (arrive with optimization profiles)");
  size_t esize = dtype_size(t.dtype);
  if (esize == 0 || t.dtype == DataType::kString)
    return unsupported("value '" + v.name() + "' has dtype " + std::string(dtype_name(t.dtype)) +
                       ", which an engine cannot hold");
  auto count = checked_element_count(t.shape->static_dims());
  if (!count || static_cast<uint64_t>(*count) > SIZE_MAX / esize / 2)
    return invalid_argument("value '" + v.name() + "' of type " + t.to_string() + " is too large");
  return static_cast<size_t>(*count) * esize;
}

Result<MemoryPlan> plan_memory(const ir::Graph& g, size_t alignment, const InPlaceFn& in_place,
                               const ViewFn& is_view) {
  MemoryPlan plan;
  plan.alignment = alignment;
  std::unordered_set<const ir::Value*> external;
  for (const ir::Value* v : g.inputs()) external.insert(v);
  for (const ir::Value* v : g.outputs()) external.insert(v);

  const auto& nodes = g.nodes();
  std::vector<bool> view(nodes.size(), false);
  std::vector<BufferRequest> requests;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const ir::Node& node = *nodes[i];
    view[i] = is_view && is_view(node);
    if (view[i]) {
      const ir::Value* in = node.num_inputs() ? node.input(0) : nullptr;
      const ir::Value* out = node.num_outputs() == 1 ? node.output(0) : nullptr;
      if (!in || !out || external.count(out) || out->is_constant() || plan.index.count(out) || plan.aliases.count(out))
        return internal_error(node.describe() + " cannot be a view: it needs one input and one output that is no "
                              "graph input, output or constant");
      KILN_ASSIGN_OR_RETURN(size_t in_bytes, value_bytes(*in));
      KILN_ASSIGN_OR_RETURN(size_t out_bytes, value_bytes(*out));
      if (in_bytes != out_bytes)
        return internal_error(node.describe() + " cannot be a view: its output has " + std::to_string(out_bytes) +
                              " bytes, its input " + std::to_string(in_bytes));
      plan.aliases[out] = plan.root_of(in);
    } else {
      for (size_t o = 0; o < node.num_outputs(); ++o) {
        const ir::Value* v = node.output(o);
        if (!v || external.count(v) || v->is_constant() || plan.index.count(v) || plan.aliases.count(v)) continue;
        KILN_ASSIGN_OR_RETURN(size_t bytes, value_bytes(*v));
        plan.index[v] = plan.slots.size();
        ValueSlot slot;
        slot.value = v;
        slot.bytes = bytes;
        slot.first = slot.last = static_cast<int>(i);
        plan.slots.push_back(slot);
        requests.push_back({bytes, slot.first, slot.last, -1});
      }
    }
    // A read of an alias is a read of its root's bytes.
    for (const ir::Value* v : node.inputs()) {
      auto it = v ? plan.index.find(plan.root_of(v)) : plan.index.end();
      if (it == plan.index.end()) continue;
      ValueSlot& s = plan.slots[it->second];
      s.last = std::max(s.last, static_cast<int>(i));
      requests[it->second].last = s.last;
    }
  }
  if (in_place) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (view[i]) continue;  // no kernel, nothing written
      const ir::Node& node = *nodes[i];
      for (size_t o = 0; o < node.num_outputs(); ++o) {
        auto out_it = node.output(o) ? plan.index.find(node.output(o)) : plan.index.end();
        if (out_it == plan.index.end()) continue;
        for (size_t in = 0; in < node.num_inputs(); ++in) {
          const ir::Value* v = node.input(in);
          const ir::Value* root = v ? plan.root_of(v) : nullptr;
          auto in_it = root ? plan.index.find(root) : plan.index.end();
          if (in_it == plan.index.end()) continue;
          // The root's last use is the last use over all its aliases.
          const ValueSlot& src = plan.slots[in_it->second];
          if (src.last != static_cast<int>(i) || src.bytes != plan.slots[out_it->second].bytes) continue;
          // The same input read twice by this node (x*x) still allows in-place only if the
          // tactic says so; it decides. The same bytes read under another value (x + view of x,
          // other shapes, other indexing) never do: the tactic cannot see that they are shared.
          bool shared = false;
          for (size_t k = 0; k < node.num_inputs(); ++k)
            shared |= k != in && node.input(k) && node.input(k) != v && plan.root_of(node.input(k)) == root;
          if (shared || !in_place(node, in, o)) continue;
          requests[out_it->second].reuse_of = static_cast<int>(in_it->second);
          break;
        }
      }
    }
  }
  BufferPlan bp = plan_buffers(requests, alignment);
  for (size_t i = 0; i < plan.slots.size(); ++i) plan.slots[i].offset = bp.placements[i].offset;
  plan.arena_bytes = bp.arena_bytes;
  plan.naive_bytes = bp.naive_bytes;
  return plan;
}

}  // namespace kiln::plan
