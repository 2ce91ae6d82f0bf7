#include "runtime/tactic.h"

#include <algorithm>

namespace kiln::runtime {

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::kCpu: return "cpu";
    case Backend::kCuda: return "cuda";
  }
  return "unknown";
}

int64_t TensorRef::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

size_t TensorRef::nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }

namespace {
thread_local ComputeCapability current_target_capability;
}  // namespace

ComputeCapability target_compute_capability() { return current_target_capability; }

ScopedTargetCapability::ScopedTargetCapability(int major, int minor) : saved_(current_target_capability) {
  current_target_capability = {major, minor};
}

ScopedTargetCapability::~ScopedTargetCapability() { current_target_capability = saved_; }

TacticRegistry& TacticRegistry::global() {
  static TacticRegistry registry;
  return registry;
}

void TacticRegistry::add(std::unique_ptr<Tactic> tactic) { tactics_.push_back(std::move(tactic)); }

const Tactic* TacticRegistry::find(std::string_view id) const {
  for (const auto& t : tactics_)
    if (t->id() == id) return t.get();
  return nullptr;
}

std::vector<const Tactic*> TacticRegistry::candidates(Backend backend, const ir::Node& node) const {
  std::vector<const Tactic*> out;
  bool channels_last = false;
  for (const ir::Value* v : node.inputs()) channels_last |= v && v->type().layout == ir::Layout::kNHWC;
  for (const ir::Value* v : node.outputs()) channels_last |= v && v->type().layout == ir::Layout::kNHWC;
  for (const auto& t : tactics_)
    if (t->backend() == backend && (!channels_last || t->handles_channels_last()) && t->supports(node))
      out.push_back(t.get());
  std::stable_sort(out.begin(), out.end(), [](const Tactic* a, const Tactic* b) { return a->preference() > b->preference(); });
  return out;
}

}  // namespace kiln::runtime
