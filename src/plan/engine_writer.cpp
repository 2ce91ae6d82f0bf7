// Engine writer: EngineDesc -> header + FlatBuffers metadata + weights section.
#include <cstring>
#include <fstream>
#include <unordered_set>

#include "plan/checksum.h"
#include "plan/engine_format.h"
#include "plan/engine_format_generated.h"

namespace kiln::plan {
namespace {

size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

void put_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void put_u64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }

std::shared_ptr<uint8_t> aligned_block(size_t bytes) {
  size_t rounded = align_up(bytes ? bytes : 1, kWeightsAlignment);
  void* p = std::aligned_alloc(kWeightsAlignment, rounded);
  if (!p) throw_error(StatusCode::kOutOfMemory, "cannot allocate " + std::to_string(bytes) + " bytes of weights");
  std::memset(p, 0, rounded);
  return std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); });
}

}  // namespace

const char* builder_version() { return "0.1.0"; }

Result<Weights> pack_weights(const ir::Graph& g) {
  std::vector<const ir::Value*> constants;
  std::unordered_set<const ir::Value*> seen;
  auto add = [&](const ir::Value* v) {
    if (v && v->is_constant() && seen.insert(v).second) constants.push_back(v);
  };
  for (const auto& node : g.nodes())
    for (const ir::Value* v : node->inputs()) add(v);
  for (const ir::Value* v : g.outputs()) add(v);
  Weights w;
  size_t total = 0;
  for (const ir::Value* v : constants) {
    const Tensor& t = v->constant();
    if (t.dtype() == DataType::kString)
      return unsupported("constant '" + v->name() + "' is a string tensor, which engines cannot hold yet");
    w.offsets[v] = total;
    total = align_up(total + t.nbytes(), kWeightsAlignment);
  }
  try {
    auto block = aligned_block(total);
    for (const ir::Value* v : constants) {
      const Tensor& t = v->constant();
      if (t.nbytes()) std::memcpy(block.get() + w.offsets[v], t.raw(), t.nbytes());
    }
    w.data = block;
    w.bytes = total;
  } catch (const Error& e) {
    return e.to_status();
  }
  return w;
}

Result<std::vector<uint8_t>> write_engine(const EngineDesc& desc) {
  if (!desc.graph) return internal_error("engine has no graph");
  const ir::Graph& g = *desc.graph;
  if (desc.layers.size() != g.nodes().size())
    return internal_error("engine has " + std::to_string(desc.layers.size()) + " layers for " +
                          std::to_string(g.nodes().size()) + " nodes");
  if (desc.memory.arena_bytes > kMaxArenaBytes)
    return Status(StatusCode::kOutOfMemory,
                  "the engine's activation memory plan needs " + std::to_string(desc.memory.arena_bytes) +
                      " bytes, more than the engine format's limit of " + std::to_string(kMaxArenaBytes) +
                      " (the model's shapes multiply past any GPU's memory)");
  if (desc.workspace_bytes > kMaxWorkspaceBytes)
    return Status(StatusCode::kOutOfMemory, "the engine's layer workspace of " +
                                                      std::to_string(desc.workspace_bytes) +
                                                      " bytes exceeds the engine format's limit of " +
                                                      std::to_string(kMaxWorkspaceBytes));
  flatbuffers::FlatBufferBuilder fbb(1 << 16);

  // Values: every one a node or the graph's I/O refers to, in a stable order.
  std::unordered_map<const ir::Value*, int> index;
  std::vector<const ir::Value*> values;
  auto note = [&](const ir::Value* v) {
    if (v && !index.count(v)) {
      index[v] = static_cast<int>(values.size());
      values.push_back(v);
    }
  };
  for (const ir::Value* v : g.inputs()) note(v);
  for (const auto& node : g.nodes()) {
    for (const ir::Value* v : node->inputs()) note(v);
    for (const ir::Value* v : node->outputs()) note(v);
  }
  for (const ir::Value* v : g.outputs()) note(v);
  std::unordered_set<const ir::Value*> bound(g.inputs().begin(), g.inputs().end());
  bound.insert(g.outputs().begin(), g.outputs().end());

  // Tensor attributes go after the packed constants in the weights section.
  std::vector<const Tensor*> attr_tensors;
  size_t weights_end = align_up(desc.weights.bytes, kWeightsAlignment);
  std::vector<size_t> attr_offsets;
  auto tensor_data = [&](const Tensor& t) -> Result<flatbuffers::Offset<fb::TensorData>> {
    if (t.dtype() == DataType::kString)
      return unsupported("string tensor attributes cannot be stored in an engine yet");
    size_t off = weights_end;
    attr_tensors.push_back(&t);
    attr_offsets.push_back(off);
    weights_end = align_up(off + t.nbytes(), kWeightsAlignment);
    return fb::CreateTensorData(fbb, static_cast<int32_t>(t.dtype()), fbb.CreateVector(t.dims()), off, t.nbytes());
  };

  std::vector<flatbuffers::Offset<fb::Value>> fb_values;
  for (const ir::Value* v : values) {
    const ir::ValueType& t = v->type();
    if (t.kind != ir::ValueKind::kTensor || !t.has_static_shape())
      return unsupported("value '" + v->name() + "' has type " + t.to_string() + ", which an engine cannot hold");
    fb::Storage storage = fb::Storage::Arena;
    uint64_t offset = 0, nbytes = 0;
    int32_t alias_of = -1;
    if (auto a = desc.memory.aliases.find(v); a != desc.memory.aliases.end()) {
      // The root is read by the view (or a view of it) before this value is written: noted earlier.
      auto root = index.find(a->second);
      if (root == index.end() || root->second >= index.at(v) || desc.memory.aliases.count(a->second) ||
          bound.count(v) || v->is_constant())
        return internal_error("value '" + v->name() + "' is an alias of '" + a->second->name() +
                              "', which the engine cannot express");
      storage = fb::Storage::Alias;
      alias_of = root->second;
      KILN_ASSIGN_OR_RETURN(nbytes, value_bytes(*v));
    } else if (v->is_constant()) {
      auto it = desc.weights.offsets.find(v);
      if (it == desc.weights.offsets.end()) return internal_error("constant '" + v->name() + "' was not packed");
      storage = fb::Storage::Weights;
      offset = it->second;
      nbytes = v->constant().nbytes();
    } else if (bound.count(v)) {
      storage = fb::Storage::Binding;
      KILN_ASSIGN_OR_RETURN(nbytes, value_bytes(*v));
    } else {
      const ValueSlot* slot = desc.memory.find(v);
      if (!slot) return internal_error("value '" + v->name() + "' has no place in the memory plan");
      offset = slot->offset;
      nbytes = slot->bytes;
    }
    fb_values.push_back(fb::CreateValue(fbb, fbb.CreateString(v->name()), static_cast<int32_t>(t.dtype),
                                        fbb.CreateVector(t.shape->static_dims()), static_cast<int32_t>(t.layout),
                                        storage, offset, nbytes, alias_of));
  }

  std::vector<flatbuffers::Offset<fb::Node>> fb_nodes;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const ir::Node& node = *g.nodes()[i];
    std::vector<int32_t> ins, outs;
    for (const ir::Value* v : node.inputs()) ins.push_back(v ? index.at(v) : -1);
    for (const ir::Value* v : node.outputs()) outs.push_back(v ? index.at(v) : -1);
    std::vector<flatbuffers::Offset<fb::Attr>> attrs;
    for (const auto& [name, a] : node.attrs().all()) {
      auto fname = fbb.CreateString(name);
      if (auto* x = std::get_if<int64_t>(&a)) {
        attrs.push_back(fb::CreateAttr(fbb, fname, fb::AttrKind::Int, *x));
      } else if (auto* x = std::get_if<float>(&a)) {
        attrs.push_back(fb::CreateAttr(fbb, fname, fb::AttrKind::Float, 0, *x));
      } else if (auto* x = std::get_if<std::string>(&a)) {
        auto bytes = fbb.CreateVector(reinterpret_cast<const uint8_t*>(x->data()), x->size());
        attrs.push_back(fb::CreateAttr(fbb, fname, fb::AttrKind::String, 0, 0, bytes));
      } else if (auto* x = std::get_if<std::vector<int64_t>>(&a)) {
        attrs.push_back(fb::CreateAttr(fbb, fname, fb::AttrKind::Ints, 0, 0, 0, fbb.CreateVector(*x)));
      } else if (auto* x = std::get_if<std::vector<float>>(&a)) {
        attrs.push_back(fb::CreateAttr(fbb, fname, fb::AttrKind::Floats, 0, 0, 0, 0, fbb.CreateVector(*x)));
      } else if (auto* x = std::get_if<std::vector<std::string>>(&a)) {
        attrs.push_back(fb::CreateAttr(fbb, fname, fb::AttrKind::Strings, 0, 0, 0, 0, 0, fbb.CreateVectorOfStrings(*x)));
      } else if (auto* x = std::get_if<Tensor>(&a)) {
        auto td = tensor_data(*x);
        if (!td.is_ok()) return td.status().with_context(node.describe() + " attribute '" + name + "'");
        std::vector<flatbuffers::Offset<fb::TensorData>> one = {td.value()};
        attrs.push_back(fb::CreateAttr(fbb, fname, fb::AttrKind::Tensor, 0, 0, 0, 0, 0, 0, fbb.CreateVector(one)));
      } else if (auto* x = std::get_if<std::vector<Tensor>>(&a)) {
        std::vector<flatbuffers::Offset<fb::TensorData>> many;
        for (const Tensor& t : *x) {
          auto td = tensor_data(t);
          if (!td.is_ok()) return td.status().with_context(node.describe() + " attribute '" + name + "'");
          many.push_back(td.value());
        }
        attrs.push_back(fb::CreateAttr(fbb, fname, fb::AttrKind::Tensors, 0, 0, 0, 0, 0, 0, fbb.CreateVector(many)));
      } else {
        return unsupported(node.describe() + " has attribute '" + name + "' of kind " + attribute_kind_name(a) +
                           ", which engine files cannot hold yet (subgraphs and type attributes)");
      }
    }
    const Layer& layer = desc.layers[i];
    fb_nodes.push_back(fb::CreateNode(fbb, fbb.CreateString(node.name()), fbb.CreateString(node.op_type()),
                                      fbb.CreateString(node.domain()), fbb.CreateVector(ins), fbb.CreateVector(outs),
                                      fbb.CreateVector(attrs), fbb.CreateVectorOfStrings(node.fused_from()),
                                      fbb.CreateString(layer.tactic), fbb.CreateString(layer.params),
                                      layer.workspace_bytes, fbb.CreateVector(layer.kernel_state)));
  }
  std::vector<int32_t> in_idx, out_idx;
  for (const ir::Value* v : g.inputs()) in_idx.push_back(index.at(v));
  for (const ir::Value* v : g.outputs()) out_idx.push_back(index.at(v));
  std::vector<flatbuffers::Offset<fb::Opset>> opsets;
  for (const auto& [domain, version] : g.opsets())
    opsets.push_back(fb::CreateOpset(fbb, fbb.CreateString(domain), version));
  const auto& t = desc.target;
  auto target = fb::CreateTarget(fbb, fbb.CreateString(t.backend), fbb.CreateString(t.device_name), t.compute_major,
                                 t.compute_minor, fbb.CreateString(t.cuda_version), fbb.CreateString(t.cudnn_version),
                                 fbb.CreateString(t.cublas_version));
  const auto& c = desc.config;
  auto config = fb::CreateBuildConfig(fbb, c.fp16, c.bf16, c.tf32, c.workspace_mib,
                                      fbb.CreateVectorOfStrings(c.disabled_passes), static_cast<int32_t>(c.io_dtype),
                                      static_cast<int32_t>(c.input_layout));
  auto engine = fb::CreateEngine(
      fbb, fbb.CreateString(desc.builder_version.empty() ? builder_version() : desc.builder_version), target, config,
      fbb.CreateString(g.name()), fbb.CreateVector(opsets), fbb.CreateVector(fb_values), fbb.CreateVector(fb_nodes),
      fbb.CreateVector(in_idx), fbb.CreateVector(out_idx), desc.memory.arena_bytes, desc.memory.naive_bytes,
      desc.memory.alignment, desc.workspace_bytes, weights_end, desc.source_node_count);
  fb::FinishEngineBuffer(fbb, engine);

  size_t meta_off = kEngineHeaderBytes, meta_size = fbb.GetSize();
  size_t weights_off = align_up(meta_off + meta_size, kWeightsAlignment);
  size_t file_size = weights_off + weights_end;
  std::vector<uint8_t> out;
  try {
    out.assign(file_size, 0);
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "cannot allocate " + std::to_string(file_size) + " bytes for the engine");
  }
  std::memcpy(out.data() + meta_off, fbb.GetBufferPointer(), meta_size);
  if (desc.weights.bytes) std::memcpy(out.data() + weights_off, desc.weights.data.get(), desc.weights.bytes);
  for (size_t i = 0; i < attr_tensors.size(); ++i)
    if (attr_tensors[i]->nbytes())
      std::memcpy(out.data() + weights_off + attr_offsets[i], attr_tensors[i]->raw(), attr_tensors[i]->nbytes());
  uint8_t* h = out.data();
  std::memcpy(h, kEngineMagic, 4);
  put_u32(h + 4, kEngineFormatVersion);
  put_u64(h + 16, meta_off);
  put_u64(h + 24, meta_size);
  put_u64(h + 32, weights_off);
  put_u64(h + 40, weights_end);
  put_u64(h + 48, file_size);
  put_u32(h + 56, kEngineHeaderBytes);
  put_u32(h + 60, 0);
  put_u64(h + 8, engine_checksum(h, file_size));
  return out;
}

Status write_engine_file(const EngineDesc& desc, const std::string& path) {
  KILN_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, write_engine(desc));
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return io_error("cannot open '" + path + "' for writing");
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) return io_error("cannot write '" + path + "'");
  return Status::ok();
}

}  // namespace kiln::plan
