// Memory planner: puts every intermediate value of a scheduled graph into one arena, so that
// values whose lifetimes overlap never share bytes and values that are dead reuse space.
// Graph inputs and outputs are bound to the caller's buffers and constants live in the
// weights section, so neither is planned here. Views (plan/views.h) get no bytes of their own:
// their output is an alias of their input's root, which lives until the alias's last use.
//
// Algorithm: lifetimes [first def, last use] in schedule order, then greedy-by-size best fit
// (largest buffers first; each goes into the smallest gap between buffers it overlaps in time,
// or on top). Offsets are aligned (256 bytes by default, enough for every GPU access width).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace kiln::plan {

// One buffer to place: live during steps [first, last] inclusive.
struct BufferRequest {
  size_t bytes = 0;
  int first = 0;
  int last = 0;
  // Index of an earlier request whose bytes this one may take over (in-place: the producer
  // may write its output over this input, whose last use is the producer's step); -1 for none.
  int reuse_of = -1;
};

struct Placement {
  size_t offset = 0;
  size_t bytes = 0;
};

struct BufferPlan {
  std::vector<Placement> placements;  // one per request, same order
  size_t arena_bytes = 0;             // peak: the arena's size
  size_t naive_bytes = 0;             // the sum of every request, each aligned
};

// Throws nothing; requests with last < first are treated as live only at `first`.
BufferPlan plan_buffers(const std::vector<BufferRequest>& requests, size_t alignment = 256);

// Whether node may write output `out` over input `in` (same bytes); optional, per tactic.
using InPlaceFn = std::function<bool(const ir::Node& node, size_t in, size_t out)>;
// Whether node's one output is a view of its input 0 (plan/views.h): the output then shares the
// input's bytes (an alias) and the node runs no kernel; optional.
using ViewFn = std::function<bool(const ir::Node& node)>;

struct ValueSlot {
  const ir::Value* value = nullptr;
  size_t offset = 0;
  size_t bytes = 0;
  int first = 0, last = 0;  // steps (node indices) of its lifetime
};

struct MemoryPlan {
  std::vector<ValueSlot> slots;  // the planned intermediates, in definition order
  std::unordered_map<const ir::Value*, size_t> index;  // value -> slot
  size_t arena_bytes = 0;
  size_t naive_bytes = 0;
  size_t alignment = 256;
  // Views' outputs: alias -> root, the value whose bytes they are. A root is a planned
  // intermediate, a graph input or output, or a constant, never itself an alias (chains are
  // followed); aliases have no slot. A planned root's lifetime covers every alias's last use.
  std::unordered_map<const ir::Value*, const ir::Value*> aliases;
  const ValueSlot* find(const ir::Value* v) const {
    auto it = index.find(v);
    return it == index.end() ? nullptr : &slots[it->second];
  }
  const ir::Value* root_of(const ir::Value* v) const {
    auto it = aliases.find(v);
    return it == aliases.end() ? v : it->second;
  }
};

// Plans the intermediates of g (nodes in g.nodes() order, which must be topological). Every
// planned value needs a static shape and a fixed-size dtype: an error names the value otherwise.
// In-place reuse (in_place) takes an input's root only where no alias of it is read later, and
// never a graph input's, an output's or a constant's bytes (those are not planned). A node that
// is_view says is a view must have one output that is no graph input or output, no constant,
// and as many bytes as its input: an internal error otherwise.
Result<MemoryPlan> plan_memory(const ir::Graph& g, size_t alignment = 256, const InPlaceFn& in_place = nullptr,
                               const ViewFn& is_view = nullptr);

// Bytes of a tensor of static type t (0 for empty tensors); an error on overflow or unknown size.
Result<size_t> value_bytes(const ir::Value& v);

}  // namespace kiln::plan
