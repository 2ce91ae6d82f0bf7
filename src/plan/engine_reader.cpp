// Engine reader: never trusts a byte it has not checked. Order: header, sizes, checksum,
// FlatBuffers verifier, then every index, dtype, size and offset while rebuilding the graph.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <unordered_set>

#include "plan/checksum.h"
#include "plan/engine_format.h"
#include "plan/engine_format_generated.h"
#include "plan/views.h"

namespace kiln::plan {
namespace {

uint32_t get_u32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
uint64_t get_u64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

Status bad(const std::string& m) { return invalid_argument("invalid engine file: " + m); }

std::string str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

// The verifier checks a vector's 4-byte length prefix, not that 8-byte elements are 8-byte
// aligned: read them bytewise (the fuzzer found this).
std::vector<int64_t> read_i64s(const flatbuffers::Vector<int64_t>* v) {
  std::vector<int64_t> out;
  if (!v) return out;
  out.resize(v->size());
  if (!out.empty()) std::memcpy(out.data(), v->Data(), out.size() * sizeof(int64_t));
  return out;
}

struct Reader {
  const uint8_t* weights = nullptr;
  size_t weights_bytes = 0;

  // dtype + dims + nbytes consistent; returns the element count's bytes.
  Result<size_t> check_tensor(const std::string& what, int32_t code, const flatbuffers::Vector<int64_t>* dims,
                              DataType* dtype, std::vector<int64_t>* out_dims) {
    auto dt = dtype_from_code(code);
    if (!dt || *dt == DataType::kUndefined || *dt == DataType::kString || dtype_size(*dt) == 0)
      return bad(what + " has unknown or unsupported dtype code " + std::to_string(code));
    *dtype = *dt;
    out_dims->clear();
    if (dims) {
      if (dims->size() > 64) return bad(what + " has rank " + std::to_string(dims->size()));
      *out_dims = read_i64s(dims);
    }
    auto count = checked_element_count(*out_dims);
    if (!count) return bad(what + " has invalid dims " + dims_to_string(*out_dims));
    size_t esize = dtype_size(*dt);
    if (static_cast<uint64_t>(*count) > (uint64_t{1} << 62) / esize) return bad(what + " is too large");
    return static_cast<size_t>(*count) * esize;
  }

  Result<Tensor> weights_tensor(const std::string& what, DataType dt, std::vector<int64_t> dims, uint64_t offset,
                                uint64_t nbytes) {
    if (offset > weights_bytes || nbytes > weights_bytes - offset)
      return bad(what + " lies outside the weights section (offset " + std::to_string(offset) + ", " +
                 std::to_string(nbytes) + " bytes, section " + std::to_string(weights_bytes) + " bytes)");
    // The writer aligns every tensor to 64 bytes; kernels rely on aligned loads (found by the
    // engine fuzzer: a misaligned float weight is undefined behaviour).
    if (offset % kWeightsAlignment)
      return bad(what + " is not 64-byte aligned in the weights section (offset " + std::to_string(offset) + ")");
    // Constants are never written: the view's const_cast is safe.
    return Tensor::view(dt, std::move(dims), const_cast<uint8_t*>(weights + offset));
  }
};

}  // namespace

std::string target_mismatch(const runtime::TargetInfo& built, const runtime::TargetInfo& running) {
  std::string diff;
  auto cmp = [&](const char* field, const std::string& a, const std::string& b) {
    if (a != b)
      diff += std::string(diff.empty() ? "" : "; ") + field + ": engine '" + a + "', this machine '" + b + "'";
  };
  cmp("backend", built.backend, running.backend);
  if (!diff.empty()) return diff;
  // An engine built for an architecture without a GPU (kiln build --target-arch) names no GPU:
  // any GPU of that compute capability with the same library versions runs it.
  if (!built.device_name.empty()) cmp("GPU", built.device_name, running.device_name);
  if (built.compute_major != running.compute_major || built.compute_minor != running.compute_minor)
    cmp("compute capability", std::to_string(built.compute_major) + "." + std::to_string(built.compute_minor),
        std::to_string(running.compute_major) + "." + std::to_string(running.compute_minor));
  cmp("CUDA", built.cuda_version, running.cuda_version);
  cmp("cuDNN", built.cudnn_version, running.cudnn_version);
  cmp("cuBLAS", built.cublas_version, running.cublas_version);
  return diff;
}

EngineBytes engine_bytes(std::vector<uint8_t> bytes) {
  // The weights section must be 64-byte aligned in memory: copy into an aligned block.
  size_t rounded = (bytes.size() + kWeightsAlignment - 1) / kWeightsAlignment * kWeightsAlignment;
  void* p = std::aligned_alloc(kWeightsAlignment, rounded ? rounded : kWeightsAlignment);
  EngineBytes b;
  if (!p) return b;  // read_engine reports the empty buffer
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  b.size = bytes.size();
  b.data = std::shared_ptr<const uint8_t>(static_cast<const uint8_t*>(p), [](const uint8_t* q) {
    std::free(const_cast<uint8_t*>(q));
  });
  return b;
}

Result<EngineBytes> map_engine_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open engine '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return io_error("'" + path + "' is not a regular file");
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return bad("'" + path + "' is empty");
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) return io_error("cannot map engine '" + path + "': " + std::strerror(errno));
  EngineBytes b;
  b.size = size;
  b.data = std::shared_ptr<const uint8_t>(static_cast<const uint8_t*>(p),
                                          [size](const uint8_t* q) { ::munmap(const_cast<uint8_t*>(q), size); });
  return b;
}

Result<EngineDesc> read_engine(const EngineBytes& bytes, const runtime::TargetInfo& running) {
  KILN_ASSIGN_OR_RETURN(EngineDesc desc, read_engine_any_target(bytes));
  std::string diff = target_mismatch(desc.target, running);
  if (!diff.empty())
    return invalid_argument("the engine was built for another target (" + diff + "); rebuild it on this machine");
  return desc;
}

Result<EngineDesc> read_engine_any_target(const EngineBytes& bytes, ReadTimings* timings) {
  // Timings only when asked: a steady-clock reading per step, stored as the step ends.
  auto clock = std::chrono::steady_clock::now();
  auto lap = [&](double ReadTimings::*field) {
    if (!timings) return;
    auto now = std::chrono::steady_clock::now();
    timings->*field = std::chrono::duration<double, std::milli>(now - clock).count();
    clock = now;
  };
  const uint8_t* p = bytes.data.get();
  const size_t n = bytes.size;
  if (!p || n < kEngineHeaderBytes)
    return bad("truncated: " + std::to_string(n) + " bytes, smaller than the " + std::to_string(kEngineHeaderBytes) +
               "-byte header");
  if (std::memcmp(p, kEngineMagic, 4) != 0) return bad("not a Kiln engine (the magic is not \"KILN\")");
  uint32_t version = get_u32(p + 4);
  if (version > kEngineFormatVersion)
    return invalid_argument("the engine's format version " + std::to_string(version) +
                            " is newer than this Kiln reads (" + std::to_string(kEngineFormatVersion) +
                            "); rebuild the engine or update Kiln");
  if (version == 0) return bad("format version 0");
  uint64_t meta_off = get_u64(p + 16), meta_size = get_u64(p + 24), w_off = get_u64(p + 32),
           w_size = get_u64(p + 40), file_size = get_u64(p + 48);
  if (get_u32(p + 56) != kEngineHeaderBytes) return bad("header size is not 64");
  if (file_size != n)
    return bad(file_size > n ? "truncated: the header says " + std::to_string(file_size) + " bytes, the file has " +
                                   std::to_string(n)
                             : "the header says " + std::to_string(file_size) + " bytes, the file has " +
                                   std::to_string(n));
  if (timings) clock = std::chrono::steady_clock::now();
  const bool checksum_ok = get_u64(p + 8) == engine_checksum(p, n);
  lap(&ReadTimings::checksum_ms);
  if (!checksum_ok) return bad("checksum mismatch: the file is corrupt");
  if (meta_off != kEngineHeaderBytes || meta_size > n - meta_off || meta_size < 8 || w_off % kWeightsAlignment ||
      w_off < meta_off + meta_size || w_off > n || w_size != n - w_off)
    return bad("section offsets are inconsistent");
  if (reinterpret_cast<uintptr_t>(p + w_off) % kWeightsAlignment)
    return bad("the weights section is not 64-byte aligned in memory");

  const uint8_t* meta = p + meta_off;
  flatbuffers::Verifier verifier(meta, meta_size, /*max_depth=*/64, /*max_tables=*/10'000'000);
  if (timings) clock = std::chrono::steady_clock::now();
  const bool verified = fb::VerifyEngineBuffer(verifier);
  lap(&ReadTimings::verify_ms);
  if (!verified) return bad("the metadata fails the FlatBuffers verifier");
  const fb::Engine* e = fb::GetEngine(meta);

  Reader r;
  r.weights = p + w_off;
  r.weights_bytes = w_size;
  if (e->weights_bytes() != w_size) return bad("weights size disagrees with the header");

  EngineDesc desc;
  desc.builder_version = str(e->builder_version());
  if (const fb::Target* t = e->target()) {
    desc.target = {str(t->backend()), str(t->device_name()), t->compute_major(), t->compute_minor(),
                   str(t->cuda_version()), str(t->cudnn_version()), str(t->cublas_version())};
  } else {
    return bad("no target");
  }
  if (const fb::BuildConfig* c = e->config()) {
    desc.config.fp16 = c->fp16();
    desc.config.bf16 = c->bf16();
    desc.config.tf32 = c->tf32();
    desc.config.workspace_mib = c->workspace_mib();
    if (c->disabled_passes())
      for (const auto* s : *c->disabled_passes()) desc.config.disabled_passes.push_back(str(s));
    desc.config.io_dtype = static_cast<DataType>(c->io_dtype());
    if (desc.config.io_dtype != DataType::kFloat32 && desc.config.io_dtype != DataType::kFloat16 &&
        desc.config.io_dtype != DataType::kBFloat16)
      return bad("the I/O dtype " + std::to_string(c->io_dtype()) + " is not float32, float16 or bfloat16");
    if (c->input_layout() != static_cast<int>(ir::Layout::kRowMajor) && c->input_layout() != static_cast<int>(ir::Layout::kNHWC))
      return bad("the input layout " + std::to_string(c->input_layout()) + " is unknown");
    desc.config.input_layout = static_cast<ir::Layout>(c->input_layout());
  }
  desc.workspace_bytes = e->workspace_bytes();
  if (desc.workspace_bytes > kMaxWorkspaceBytes) return bad("workspace is implausibly large");
  desc.source_node_count = e->source_node_count();
  desc.memory.arena_bytes = e->arena_bytes();
  desc.memory.naive_bytes = e->arena_naive_bytes();
  desc.memory.alignment = e->arena_alignment();
  if (desc.memory.arena_bytes > kMaxArenaBytes) return bad("arena is implausibly large");
  desc.weights.data = std::shared_ptr<const uint8_t>(bytes.data, p + w_off);
  desc.weights.bytes = w_size;

  try {
    auto g = std::make_shared<ir::Graph>(e->graph_name() ? e->graph_name()->str() : "main");
    if (e->opsets())
      for (const fb::Opset* o : *e->opsets()) g->set_opset(str(o->domain()), o->version());
    if (!e->values()) return bad("no values");
    std::vector<ir::Value*> values;
    std::vector<fb::Storage> storage;
    std::vector<uint64_t> nbytes;
    std::vector<int32_t> alias_root;  // by value index: the aliased value's index, -1 for none
    for (flatbuffers::uoffset_t i = 0; i < e->values()->size(); ++i) {
      const fb::Value* fv = e->values()->Get(i);
      std::string name = str(fv->name());
      std::string what = "value '" + name + "'";
      if (name.empty()) return bad("value " + std::to_string(i) + " has no name");
      DataType dt;
      std::vector<int64_t> dims;
      KILN_ASSIGN_OR_RETURN(size_t expect, r.check_tensor(what, fv->dtype(), fv->dims(), &dt, &dims));
      if (fv->nbytes() != expect) return bad(what + " has " + std::to_string(fv->nbytes()) + " bytes, its type needs " +
                                             std::to_string(expect));
      if (fv->layout() < 0 || fv->layout() > static_cast<int>(ir::Layout::kNHWC)) return bad(what + " has an unknown layout");
      ir::ValueType type = ir::ValueType::tensor(dt, Shape::from_dims(dims));
      type.layout = static_cast<ir::Layout>(fv->layout());
      ir::Value* v = g->add_value(name, type);
      if (fv->storage() != fb::Storage::Alias && fv->alias_of() != -1)
        return bad(what + " names a value it aliases but is not an alias");
      switch (fv->storage()) {
        case fb::Storage::Weights: {
          KILN_ASSIGN_OR_RETURN(Tensor t, r.weights_tensor(what, dt, dims, fv->offset(), fv->nbytes()));
          v->set_constant(std::make_shared<const Tensor>(std::move(t)));
          desc.weights.offsets[v] = fv->offset();
          break;
        }
        case fb::Storage::Arena: {
          if (fv->offset() > desc.memory.arena_bytes || fv->nbytes() > desc.memory.arena_bytes - fv->offset())
            return bad(what + " lies outside the activation arena");
          if (fv->offset() % kWeightsAlignment)  // the planner aligns to 256; 64 is what kernels need
            return bad(what + " is not 64-byte aligned in the activation arena");
          ValueSlot slot;
          slot.value = v;
          slot.offset = fv->offset();
          slot.bytes = fv->nbytes();
          desc.memory.index[v] = desc.memory.slots.size();
          desc.memory.slots.push_back(slot);
          break;
        }
        case fb::Storage::Binding: break;
        case fb::Storage::Alias: {
          // The bytes of an earlier value that is no alias itself, of the same size.
          const int32_t root = fv->alias_of();
          if (version < 2) return bad(what + " is an alias, which format version 1 does not have");
          if (root < 0 || static_cast<size_t>(root) >= values.size())
            return bad(what + " is an alias of value " + std::to_string(root) + ", not an earlier value");
          if (storage[root] == fb::Storage::Alias) return bad(what + " is an alias of an alias");
          if (fv->offset() != 0) return bad(what + " is an alias with an offset");
          if (nbytes[root] != fv->nbytes())
            return bad(what + " has " + std::to_string(fv->nbytes()) + " bytes, the value it aliases " +
                       std::to_string(nbytes[root]));
          desc.memory.aliases[v] = values[root];
          alias_root.resize(values.size() + 1, -1);
          alias_root[values.size()] = root;
          break;
        }
        default: return bad(what + " has an unknown storage kind");
      }
      values.push_back(v);
      storage.push_back(fv->storage());
      nbytes.push_back(fv->nbytes());
    }
    alias_root.resize(values.size(), -1);
    // The value whose bytes idx is: itself unless it is an alias.
    auto root_index = [&](int32_t idx) { return alias_root[idx] >= 0 ? alias_root[idx] : idx; };
    auto value_at = [&](int32_t idx, const std::string& who) -> Result<ir::Value*> {
      if (idx == -1) return static_cast<ir::Value*>(nullptr);
      if (idx < 0 || static_cast<size_t>(idx) >= values.size())
        return bad(who + " refers to value " + std::to_string(idx) + " of " + std::to_string(values.size()));
      return values[idx];
    };
    std::vector<bool> defined(values.size(), false);
    for (size_t i = 0; i < values.size(); ++i) defined[i] = storage[i] == fb::Storage::Weights;
    if (e->inputs())
      for (int32_t idx : *e->inputs()) {
        KILN_ASSIGN_OR_RETURN(ir::Value * v, value_at(idx, "the input bindings"));
        if (!v || storage[idx] != fb::Storage::Binding) return bad("input binding " + std::to_string(idx) + " is not bound");
        g->inputs().push_back(v);
        defined[idx] = true;
      }
    if (e->nodes()) {
      for (flatbuffers::uoffset_t i = 0; i < e->nodes()->size(); ++i) {
        const fb::Node* fn = e->nodes()->Get(i);
        std::string who = "node " + std::to_string(i) + " ('" + str(fn->name()) + "')";
        if (str(fn->op_type()).empty()) return bad(who + " has no op type");
        // A view layer runs no kernel: its one output must be an alias of its input 0's bytes, and
        // only a view layer may define an alias (no kernel ever writes an alias's root).
        const bool view_layer = str(fn->tactic()) == kAliasTactic;
        std::vector<ir::Value*> ins, outs;
        if (fn->inputs())
          for (int32_t idx : *fn->inputs()) {
            KILN_ASSIGN_OR_RETURN(ir::Value * v, value_at(idx, who));
            if (v && !defined[idx]) return bad(who + " reads '" + v->name() + "' before it is produced");
            ins.push_back(v);
          }
        if (fn->outputs())
          for (int32_t idx : *fn->outputs()) {
            KILN_ASSIGN_OR_RETURN(ir::Value * v, value_at(idx, who));
            if (v && (defined[idx] || storage[idx] == fb::Storage::Weights))
              return bad(who + " writes '" + v->name() + "', which is already defined");
            if (v && !view_layer && storage[idx] == fb::Storage::Alias)
              return bad(who + " writes '" + v->name() + "', an alias of another value's bytes");
            outs.push_back(v);
          }
        if (view_layer) {
          const int32_t in0 = fn->inputs() && fn->inputs()->size() ? fn->inputs()->Get(0) : -1;
          const int32_t out = fn->outputs() && fn->outputs()->size() == 1 ? fn->outputs()->Get(0) : -1;
          if (in0 < 0 || out < 0 || storage[out] != fb::Storage::Alias || alias_root[out] != root_index(in0))
            return bad(who + " is a view layer whose output is not an alias of its input");
          if (fn->workspace_bytes() != 0) return bad(who + " is a view layer with a workspace");
        }
        ir::Node* node = g->add_node(str(fn->op_type()), ins, outs, str(fn->name()), str(fn->domain()));
        if (fn->outputs())
          for (int32_t idx : *fn->outputs())
            if (idx >= 0) defined[idx] = true;
        if (fn->fused_from())
          for (const auto* s : *fn->fused_from()) node->fused_from().push_back(str(s));
        if (fn->attrs()) {
          for (const fb::Attr* a : *fn->attrs()) {
            std::string an = str(a->name());
            std::string awho = who + " attribute '" + an + "'";
            switch (a->kind()) {
              case fb::AttrKind::Int: node->attrs().set(an, a->i()); break;
              case fb::AttrKind::Float: node->attrs().set(an, a->f()); break;
              case fb::AttrKind::String:
                node->attrs().set(an, a->s() ? std::string(a->s()->begin(), a->s()->end()) : std::string());
                break;
              case fb::AttrKind::Ints:
                node->attrs().set(an, read_i64s(a->ints()));
                break;
              case fb::AttrKind::Floats:
                node->attrs().set(an, a->floats() ? std::vector<float>(a->floats()->begin(), a->floats()->end())
                                                  : std::vector<float>());
                break;
              case fb::AttrKind::Strings: {
                std::vector<std::string> ss;
                if (a->strings())
                  for (const auto* s : *a->strings()) ss.push_back(str(s));
                node->attrs().set(an, ss);
                break;
              }
              case fb::AttrKind::Tensor:
              case fb::AttrKind::Tensors: {
                std::vector<Tensor> ts;
                if (a->tensors())
                  for (const fb::TensorData* td : *a->tensors()) {
                    DataType dt;
                    std::vector<int64_t> dims;
                    KILN_ASSIGN_OR_RETURN(size_t expect, r.check_tensor(awho, td->dtype(), td->dims(), &dt, &dims));
                    if (td->nbytes() != expect) return bad(awho + " has the wrong byte count");
                    KILN_ASSIGN_OR_RETURN(Tensor view, r.weights_tensor(awho, dt, dims, td->weights_offset(), td->nbytes()));
                    ts.push_back(view.clone());  // attributes own their data, like the importer's
                  }
                if (a->kind() == fb::AttrKind::Tensor) {
                  if (ts.size() != 1) return bad(awho + " should hold one tensor");
                  node->attrs().set(an, ts[0]);
                } else {
                  node->attrs().set(an, ts);
                }
                break;
              }
              default: return bad(awho + " has an unknown kind");
            }
          }
        }
        Layer layer;
        layer.tactic = str(fn->tactic());
        layer.params = str(fn->tactic_params());
        layer.workspace_bytes = fn->workspace_bytes();
        if (const auto* state = fn->kernel_state()) layer.kernel_state.assign(state->begin(), state->end());
        if (layer.tactic.empty()) return bad(who + " has no tactic");
        if (layer.workspace_bytes > desc.workspace_bytes) return bad(who + " needs more workspace than the engine has");
        desc.layers.push_back(std::move(layer));
      }
    }
    size_t max_layer_workspace = 0;
    for (const Layer& l : desc.layers) max_layer_workspace = std::max(max_layer_workspace, l.workspace_bytes);
    if (desc.workspace_bytes != max_layer_workspace)
      return bad("the workspace size disagrees with its layers' needs");
    if (e->outputs())
      for (int32_t idx : *e->outputs()) {
        KILN_ASSIGN_OR_RETURN(ir::Value * v, value_at(idx, "the output bindings"));
        if (!v || storage[idx] == fb::Storage::Arena || storage[idx] == fb::Storage::Alias)
          return bad("output binding " + std::to_string(idx) + " is not bound");
        if (!defined[idx]) return bad("output '" + v->name() + "' is never produced");
        g->outputs().push_back(v);
      }
    std::unordered_set<const ir::Value*> io(g->inputs().begin(), g->inputs().end());
    io.insert(g->outputs().begin(), g->outputs().end());
    std::unordered_set<const ir::Value*> outputs(g->outputs().begin(), g->outputs().end());
    for (size_t k = 0; k < values.size(); ++k) {
      if (storage[k] == fb::Storage::Binding && !io.count(values[k])) return bad("value '" + values[k]->name() + "' is bound but is neither an input nor an output");
      // A channels-last binding holds a rank-4 input's [N,H,W,C] bytes (format version 3).
      if (storage[k] == fb::Storage::Binding && values[k]->type().layout == ir::Layout::kNHWC) {
        if (version < 3) return bad("value '" + values[k]->name() + "' is a channels-last binding, which format version " + std::to_string(version) + " does not have");
        if (outputs.count(values[k]) || values[k]->type().shape->rank() != 4)
          return bad("value '" + values[k]->name() + "' is a channels-last binding but not a rank-4 input");
      }
    }
    desc.graph = std::move(g);
    lap(&ReadTimings::parse_ms);
  } catch (const Error& err) {
    return bad(err.what());
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "out of memory while reading the engine");
  }
  return desc;
}

}  // namespace kiln::plan
