// The engine side of `kiln run` and `kiln inspect` (for .kiln files).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "backends/cpu/interpreter.h"
#include "commands.h"
#include "io/compare.h"
#include "io/npy.h"
#include "io/random_inputs.h"
#include "ir/printer.h"
#include "onnx/importer.h"
#include "plan/views.h"
#include "runtime/cpu_fallback.h"
#include "runtime/engine.h"
#include "runtime/execution_context.h"
#include "runtime/io_format.h"

namespace kiln::cli {
namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

std::string mib(size_t bytes) {
  char buf[32];
  if (bytes < 10 * 1024) std::snprintf(buf, sizeof buf, "%zu B", bytes);
  else if (bytes < 10 * 1048576) std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  else std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / 1048576.0);
  return buf;
}

std::string type_of(const ir::Value* v) { return v ? v->type().to_string() : "-"; }

double gb_per_s(size_t bytes, double ms) { return ms > 0 ? bytes / (ms * 1e6) : 0; }

const char* state_name(runtime::LayerLoadTime::State s) {
  switch (s) {
    case runtime::LayerLoadTime::State::kRestored: return "restored";
    case runtime::LayerLoadTime::State::kRebuilt: return "rebuilt (stored state unusable)";
    default: return "no stored state";
  }
}

// kiln inspect --load-profile: the steps of one load, the layers whose kernels took longest,
// the first execution context, and a second load (what is left once libraries have started).
// `e`: the engine (or the same engine loaded again) the profile is of.
void print_load_profile(const runtime::Engine& e, const runtime::LoadProfile& p, double device_start_ms,
                        const runtime::ContextProfile* ctx, const runtime::LoadProfile* again) {
  const auto& nodes = e.desc().graph->nodes();
  std::printf("load profile (steady clock; the device is synchronized before each reading)\n");
  std::printf("  %-28s %9.2f ms  (before the load: CUDA context, library handles)\n", "device start", device_start_ms);
  std::printf("  %-28s %9.2f ms  %s\n", "read (open + mmap)", p.read_ms, mib(p.file_bytes).c_str());
  std::printf("  %-28s %9.2f ms  %.1f GB/s\n", "checksum (XXH64)", p.checksum_ms, gb_per_s(p.file_bytes, p.checksum_ms));
  std::printf("  %-28s %9.2f ms\n", "verify (FlatBuffers)", p.verify_ms);
  std::printf("  %-28s %9.2f ms  %zu layers\n", "parse (graph, layers)", p.parse_ms, nodes.size());
  if (p.device_ms > 0) std::printf("  %-28s %9.2f ms\n", "device", p.device_ms);
  if (e.device().backend() == runtime::Backend::kCpu)
    std::printf("  %-28s %9.2f ms  %s used in place\n", "weights", p.weights_ms, mib(p.weights_bytes).c_str());
  else
    std::printf("  %-28s %9.2f ms  %s, %.1f GB/s (allocate, copy from the mapped file, synchronize)\n",
                "weights upload", p.weights_ms, mib(p.weights_bytes).c_str(), gb_per_s(p.weights_bytes, p.weights_ms));
  size_t restored = 0, rebuilt = 0;
  for (const auto& l : p.layers) {
    restored += l.state == runtime::LayerLoadTime::State::kRestored;
    rebuilt += l.state == runtime::LayerLoadTime::State::kRebuilt;
  }
  std::printf("  %-28s %9.2f ms  %zu layers: %zu restored their stored state, %zu rebuilt it, %zu had none\n",
              "kernel creation", p.kernels_ms, p.layers.size(), restored, rebuilt,
              p.layers.size() - restored - rebuilt);
  double parts = p.read_ms + p.checksum_ms + p.verify_ms + p.parse_ms + p.device_ms + p.weights_ms + p.kernels_ms;
  std::printf("  %-28s %9.2f ms  (target check, bindings, timers)\n", "other", p.total_ms - parts);
  std::printf("  %-28s %9.2f ms\n", "total load", p.total_ms);

  // By tactic, slowest first.
  struct Sum { size_t count = 0, restored = 0; double ms = 0; };
  std::map<std::string, Sum> by_tactic;
  for (const auto& l : p.layers) {
    Sum& s = by_tactic[l.tactic];
    ++s.count;
    s.restored += l.state == runtime::LayerLoadTime::State::kRestored;
    s.ms += l.ms;
  }
  std::vector<std::pair<std::string, Sum>> tactics(by_tactic.begin(), by_tactic.end());
  std::sort(tactics.begin(), tactics.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
  std::printf("kernel creation by tactic\n");
  for (const auto& [id, s] : tactics)
    std::printf("  %-32s %4zu layers %9.2f ms  %zu restored\n", id.c_str(), s.count, s.ms, s.restored);

  std::vector<const runtime::LayerLoadTime*> order;
  for (const auto& l : p.layers) order.push_back(&l);
  std::sort(order.begin(), order.end(), [](const auto* a, const auto* b) { return a->ms > b->ms; });
  std::set<std::string> seen;
  std::vector<bool> first_of_tactic(p.layers.size(), false);
  for (size_t i = 0; i < p.layers.size(); ++i) first_of_tactic[i] = seen.insert(p.layers[i].tactic).second;
  std::printf("slowest layers (* first layer of its tactic: includes the library's start-up)\n");
  for (size_t k = 0; k < order.size() && k < 10; ++k) {
    const runtime::LayerLoadTime& l = *order[k];
    const ir::Node& n = *nodes[l.layer];
    std::printf("  %4zu%s %-28s %-18s %-24s %8.3f ms  %s\n", l.layer, first_of_tactic[&l - p.layers.data()] ? "*" : " ",
                n.name().c_str(), n.op_type().c_str(), l.tactic.c_str(), l.ms, state_name(l.state));
  }
  if (ctx)
    std::printf("first execution context %9.2f ms: arena %s %.2f ms, workspace %s %.2f ms, stream %.2f ms, "
                "backend state %.2f ms\n",
                ctx->total_ms, mib(ctx->arena_bytes).c_str(), ctx->arena_ms, mib(ctx->workspace_bytes).c_str(),
                ctx->workspace_ms, ctx->stream_ms, ctx->backend_state_ms);
  if (again)
    std::printf("second load in this process %9.2f ms (kernel creation %.2f ms, weights %.2f ms): the rest of the "
                "first load is one-time start-up\n",
                again->total_ms, again->kernels_ms, again->weights_ms);
}

}  // namespace

// Engine inputs from name=file.npy specs (each as its binding takes it), the rest random
// (seeded, never zeros).
Result<std::map<std::string, Tensor>> engine_inputs(const runtime::Engine& engine,
                                                    const std::vector<std::string>& specs, uint64_t seed) {
  std::map<std::string, Tensor> inputs;
  for (const auto& spec : specs) {
    auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) return invalid_argument("--input takes name=file.npy, got '" + spec + "'");
    const std::string name = spec.substr(0, eq);
    const runtime::BindingInfo* binding = nullptr;
    for (const auto& b : engine.inputs())
      if (b.name == name) binding = &b;
    if (!binding) return invalid_argument("--input " + spec + ": the engine has no input named '" + name + "'");
    auto t = io::read_npy(spec.substr(eq + 1));
    if (!t.is_ok()) return t.status();
    // numpy has no bfloat16: uint16 files hold its raw bits (as --output-dir writes them).
    if (binding->dtype == DataType::kBFloat16 && t->dtype() == DataType::kUInt16) {
      Tensor bits(DataType::kBFloat16, t->dims());
      if (t->nbytes()) std::memcpy(bits.raw(), t->raw(), t->nbytes());
      t = std::move(bits);
    }
    if (t->dtype() != binding->dtype || t->dims() != binding->dims)
      return invalid_argument("--input " + spec + " is " + t->describe() + ", the engine's input '" + name +
                              "' takes " + runtime::binding_type(*binding));
    inputs[name] = std::move(t).value();
  }
  uint64_t k = 0;
  for (const auto& b : engine.inputs()) {
    ++k;
    if (!inputs.count(b.name)) inputs[b.name] = io::random_tensor(b.dtype, b.dims, seed * 1000003 + k);
  }
  return inputs;
}

bool is_engine_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  if (!f.read(magic, 4)) return false;
  return std::memcmp(magic, "KILN", 4) == 0;
}

int inspect_engine(const std::string& path, bool dot, bool load_profile) {
  // The device starts first (a CUDA context and the cuDNN/cuBLAS handles cost a few hundred ms
  // once per process), so "loaded in" is the engine's own cost: read, check, upload, prepare.
  double device_ms = 0;
  std::shared_ptr<runtime::Device> device;
  if (auto bytes = plan::map_engine_file(path); bytes.is_ok()) {
    if (auto peek = plan::read_engine_any_target(bytes.value()); peek.is_ok()) {
      auto t = std::chrono::steady_clock::now();
      auto backend = peek.value().target.backend == "cuda" ? runtime::Backend::kCuda : runtime::Backend::kCpu;
      if (auto dev = runtime::make_device(backend); dev.is_ok()) {
        device = dev.value();
        // Touch the context and the library handles the way a first context would.
        if (auto p = device->allocate(256); p.is_ok()) device->free(p.value());
        if (auto stream = device->create_stream(); stream.is_ok()) {
          if (auto state = device->create_backend_state(stream.value()); state.is_ok())
            device->destroy_backend_state(state.value());
          device->destroy_stream(stream.value());
        }
      }
      device_ms = ms_since(t);
    }
  }
  auto start = std::chrono::steady_clock::now();
  runtime::LoadProfile profile;
  auto engine = runtime::Engine::load(path, device, load_profile ? &profile : nullptr);
  if (!engine.is_ok()) return report(engine.status());
  double load_ms = ms_since(start);
  const runtime::Engine& e = *engine.value();
  const auto& d = e.desc();
  const ir::Graph& g = *d.graph;
  if (dot) {
    std::printf("%s", ir::to_dot(g).c_str());
    return 0;
  }
  std::printf("engine %s (loaded in %.2f ms; device start %.0f ms before)\n", path.c_str(), load_ms, device_ms);
  if (load_profile) {
    runtime::ContextProfile ctx_profile;
    if (auto ctx = e.create_context(&ctx_profile); !ctx.is_ok())
      return report(ctx.status().with_context("creating the first execution context"));
    // The first engine goes before the second load, which then shares nothing with it (kernels
    // of a live engine can share prepared state, e.g. restored cuDNN plans).
    std::move(engine).value().reset();
    runtime::LoadProfile again;
    auto second = runtime::Engine::load(path, device, &again);
    if (!second.is_ok()) return report(second.status().with_context("loading the engine a second time"));
    print_load_profile(*second.value(), profile, device_ms, &ctx_profile, &again);
    return 0;
  }
  std::printf("  built by kiln %s for %s", d.builder_version.c_str(), d.target.backend.c_str());
  if (d.target.backend != "cpu")
    std::printf(" (%s, sm_%d%d, CUDA %s, cuDNN %s, cuBLAS %s)",
                d.target.device_name.empty() ? "any GPU" : d.target.device_name.c_str(), d.target.compute_major,
                d.target.compute_minor, d.target.cuda_version.c_str(), d.target.cudnn_version.c_str(),
                d.target.cublas_version.c_str());
  std::printf("\n  config: fp16=%d bf16=%d tf32=%d workspace=%lld MiB", d.config.fp16, d.config.bf16, d.config.tf32,
              static_cast<long long>(d.config.workspace_mib));
  for (const auto& p : d.config.disabled_passes) std::printf(" --disable-pass %s", p.c_str());
  if (d.config.io_dtype != DataType::kFloat32) std::printf(" --io-dtype %s", std::string(dtype_name(d.config.io_dtype)).c_str());
  if (d.config.input_layout == ir::Layout::kNHWC) std::printf(" --input-layout nhwc");
  std::printf("\ninputs\n");
  for (const auto& b : e.inputs()) std::printf("  %-24s %s\n", b.name.c_str(), runtime::binding_type(b).c_str());
  std::printf("outputs\n");
  for (const auto& b : e.outputs()) std::printf("  %-24s %s\n", b.name.c_str(), runtime::binding_type(b).c_str());
  size_t views = 0;
  for (const auto& l : d.layers) views += l.tactic == plan::kAliasTactic;
  std::printf("layers: %zu (model had %lld nodes)", g.nodes().size(), static_cast<long long>(d.source_node_count));
  if (views) std::printf("; %zu are views that run no kernel (tactic %s)", views, plan::kAliasTactic);
  std::printf("\n");
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const ir::Node& n = *g.nodes()[i];
    size_t wbytes = 0;
    std::string ins;
    for (const ir::Value* v : n.inputs()) {
      if (v && v->is_constant()) wbytes += v->constant().nbytes();
      else ins += (ins.empty() ? "" : ", ") + type_of(v);
    }
    std::string outs;
    for (const ir::Value* v : n.outputs()) outs += (outs.empty() ? "" : ", ") + type_of(v);
    std::string precision = n.num_outputs() && n.output(0) ? std::string(dtype_name(n.output(0)->type().dtype)) : "-";
    std::printf("  %3zu %-28s %-14s %-16s %-8s %s -> %s", i, n.name().c_str(), n.op_type().c_str(),
                d.layers[i].tactic.c_str(), precision.c_str(), ins.c_str(), outs.c_str());
    if (wbytes) std::printf("  weights %s", mib(wbytes).c_str());
    if (d.layers[i].tactic == plan::kAliasTactic && n.num_outputs() == 1)
      std::printf("  = bytes of '%s'", d.memory.root_of(n.output(0))->name().c_str());
    if (!n.fused_from().empty()) {
      std::printf("  fused from:");
      for (const auto& f : n.fused_from()) std::printf(" %s", f.c_str());
    }
    std::printf("\n");
  }
  std::printf("weights: %s\n", mib(d.weights.bytes).c_str());
  double ratio = d.memory.naive_bytes ? 100.0 * d.memory.arena_bytes / d.memory.naive_bytes : 0;
  std::printf("memory plan: arena %s for %zu intermediates (+%zu aliases), naive sum %s (%.1f%%), alignment %zu\n",
              mib(d.memory.arena_bytes).c_str(), d.memory.slots.size(), d.memory.aliases.size(),
              mib(d.memory.naive_bytes).c_str(), ratio, d.memory.alignment);
  std::printf("workspace: %s\n", mib(d.workspace_bytes).c_str());
  if (size_t on_cpu = runtime::cpu_fallback_layers(d))
    std::printf("cpu fallback: %zu layers run on the CPU (%s); CUDA-graph capture is off for this engine\n", on_cpu,
                std::string(runtime::kCpuFallbackTactic).c_str());
  return 0;
}

int run_engine(const std::string& path, const std::vector<std::string>& specs, uint64_t seed,
               const std::string& output_dir, const EngineRunFlags& flags) {
  auto engine = runtime::Engine::load(path);
  if (!engine.is_ok()) return report(engine.status());
  if (flags.verbose) std::fprintf(stderr, "loaded %s in %.2f ms\n", path.c_str(), engine.value()->load_ms());
  auto inputs = engine_inputs(*engine.value(), specs, seed);
  if (!inputs.is_ok()) return report(inputs.status());
  auto ctx = engine.value()->create_context();
  if (!ctx.is_ok()) return report(ctx.status());
  ctx.value()->set_cuda_graphs(flags.cuda_graphs);
  // The first call runs layer by layer; on CUDA the second captures a CUDA graph and later
  // ones replay it (--repeat shows the difference).
  std::vector<double> times;
  Result<std::vector<Tensor>> outputs = std::vector<Tensor>{};
  for (int r = 0; r < std::max(flags.repeat, 1); ++r) {
    auto start = std::chrono::steady_clock::now();
    outputs = ctx.value()->run(inputs.value());
    times.push_back(ms_since(start));
    if (!outputs.is_ok()) return report(outputs.status());
  }
  std::printf("ran %s on %s in %.3f ms", path.c_str(), engine.value()->desc().target.backend.c_str(), times[0]);
  if (times.size() > 1) {
    std::vector<double> rest(times.begin() + 1, times.end());
    std::sort(rest.begin(), rest.end());
    std::printf(" (first call; %zu more: median %.3f ms, min %.3f ms)", rest.size(), rest[rest.size() / 2], rest[0]);
  }
  std::printf("\noutputs\n");
  if (flags.verbose) {
    using L = runtime::ExecutionContext::Launch;
    L last = ctx.value()->last_launch();
    std::fprintf(stderr, "last call: %s\n",
                 last == L::kReplayed ? "CUDA graph replayed" : last == L::kCaptured ? "CUDA graph captured" : "layer by layer");
    if (!ctx.value()->cuda_graph_error().empty())
      std::fprintf(stderr, "CUDA graphs off for this context: %s\n", ctx.value()->cuda_graph_error().c_str());
  }
  const auto& bindings = engine.value()->outputs();
  for (size_t i = 0; i < bindings.size(); ++i) print_summary(bindings[i].name, RuntimeValue(outputs.value()[i]));
  if (!output_dir.empty()) {
    std::vector<std::pair<std::string, Tensor>> named;
    for (size_t i = 0; i < bindings.size(); ++i) named.emplace_back(bindings[i].name, outputs.value()[i]);
    return write_outputs(output_dir, named);
  }
  return 0;
}

}  // namespace kiln::cli
