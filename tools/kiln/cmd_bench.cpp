// kiln bench model.kiln|model.onnx: latency percentiles and throughput of an engine on its
// backend, inputs already on the device (as MLPerf's offline numbers are), CUDA-graph replay on
// CUDA by default. An .onnx model is built first with the given options.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "build_flags.h"
#include "commands.h"
#include "io/random_inputs.h"
#include "onnx/importer.h"
#include "plan/views.h"
#include "runtime/builder.h"
#include "runtime/cpu_fallback.h"
#include "runtime/engine.h"
#include "runtime/execution_context.h"
#ifdef KILN_HAVE_CUDA
#include "backends/cuda/stream_timer.h"
#endif

namespace kiln::cli {
namespace {

struct BenchOptions {
  std::string model, json_path;
  BuildFlags build{"cuda"};  // for .onnx models
  bool no_graph = false, profile = false;
  int warmup = 20, iterations = 200;
  int64_t batch = 0;  // binds the symbolic dim "batch" (and the first symbolic dim otherwise)
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

Result<std::shared_ptr<runtime::Engine>> load_or_build(const BenchOptions& o, double& build_ms) {
  bool is_engine = o.model.size() > 5 && o.model.compare(o.model.size() - 5, 5, ".kiln") == 0;
  if (is_engine) return runtime::Engine::load(o.model);
  KILN_ASSIGN_OR_RETURN(ir::Model model, importer::import_model_file(o.model));
  runtime::BuilderConfig config;
  KILN_RETURN_IF_ERROR(apply_build_flags(o.build, config));
  if (o.batch > 0)
    for (const ir::Value* in : model.graph->inputs())
      if (in->type().shape)
        for (const Dim& d : in->type().shape->dims())
          if (d.is_symbolic()) config.dims[d.symbol_name()] = o.batch;
  auto t0 = std::chrono::steady_clock::now();
  auto engine = runtime::Builder::build(model, config);
  build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return engine;
}

int bench(const BenchOptions& o) {
  double build_ms = 0;
  auto engine = load_or_build(o, build_ms);
  if (!engine.is_ok()) return report(engine.status());
  runtime::Engine& e = **engine;
  runtime::Device& dev = e.device();
  auto ctx = e.create_context();
  if (!ctx.is_ok()) return report(ctx.status());
  // Bench captures one call itself (time_on_stream) and replays it, or launches layer by layer
  // with --no-cuda-graph: the context's own graphs stay off so the two modes stay distinct.
  (*ctx)->set_cuda_graphs(false);
  // Inputs and outputs live on the device for the whole run.
  std::vector<runtime::DeviceBuffer> buffers;
  std::vector<runtime::TensorRef> ins, outs;
  auto stream = dev.create_stream();
  if (!stream.is_ok()) return report(stream.status());
  int64_t batch = 1;
  uint64_t seed = 1;
  for (const auto& b : e.inputs()) {
    Tensor host = io::random_tensor(b.dtype, b.dims, seed++);
    auto buf = runtime::DeviceBuffer::allocate(e.device_ptr(), host.nbytes());
    if (!buf.is_ok()) return report(buf.status());
    Status st = dev.copy_host_to_device(buf->data(), host.raw(), host.nbytes(), *stream);
    if (!st.is_ok()) return report(st);
    ins.push_back({b.dtype, b.dims, ir::Layout::kRowMajor, buf->data()});
    if (!b.dims.empty()) batch = std::max<int64_t>(batch, b.dims[0]);
    buffers.push_back(std::move(buf).value());
  }
  for (const auto& b : e.outputs()) {
    size_t bytes = dtype_size(b.dtype);
    for (int64_t d : b.dims) bytes *= static_cast<size_t>(d);
    auto buf = runtime::DeviceBuffer::allocate(e.device_ptr(), bytes);
    if (!buf.is_ok()) return report(buf.status());
    outs.push_back({b.dtype, b.dims, ir::Layout::kRowMajor, buf->data()});
    buffers.push_back(std::move(buf).value());
  }
  if (Status st = dev.synchronize(*stream); !st.is_ok()) return report(st);
  auto enqueue = [&](void* s) { return (*ctx)->enqueue(ins, outs, s); };
  std::vector<double> ms;
  bool used_graph = false;
  double memory_mib = -1;
#ifdef KILN_HAVE_CUDA
  if (dev.backend() == runtime::Backend::kCuda) {
    // Layers on the CPU synchronize the stream, which a capture does not allow.
    const size_t on_cpu = runtime::cpu_fallback_layers(e.desc());
    if (on_cpu && !o.no_graph)
      std::printf("note: %zu layers run on the CPU (cuda.cpu_fallback): CUDA-graph capture is off\n", on_cpu);
    auto t = cuda::time_on_stream(enqueue, *stream, o.warmup, o.iterations, !o.no_graph && !on_cpu);
    if (!t.is_ok()) return report(t.status());
    ms = t->ms;
    used_graph = t->used_graph;
    if (auto used = cuda::gpu_memory_in_use(); used.is_ok()) memory_mib = *used / 1048576.0;
  }
#endif
  if (ms.empty()) {  // CPU: wall clock around each synchronous call
    for (int i = 0; i < o.warmup; ++i)
      if (Status st = enqueue(*stream); !st.is_ok()) return report(st);
    for (int i = 0; i < o.iterations; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      if (Status st = enqueue(*stream); !st.is_ok()) return report(st);
      if (Status st = dev.synchronize(*stream); !st.is_ok()) return report(st);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  nlohmann::json profile_rows = nlohmann::json::array();  // every layer, for --json
#ifdef KILN_HAVE_CUDA
  if (o.profile && dev.backend() == runtime::Backend::kCuda) {
    // One more call, layer by layer between events (no CUDA graph), median of 5.
    const auto& layers = e.desc().layers;
    std::vector<std::vector<double>> runs;
    for (int r = 0; r < 5; ++r) {
      cuda::LayerProfiler prof(layers.size());
      (*ctx)->set_layer_hook([&](size_t l, bool after, runtime::Stream s) { prof.record(l, after, s); });
      Status st = enqueue(*stream);
      (*ctx)->set_layer_hook(nullptr);
      if (!st.is_ok()) return report(st);
      auto ms_per_layer = prof.finish(*stream);
      if (!ms_per_layer.is_ok()) return report(ms_per_layer.status());
      runs.push_back(*ms_per_layer);
    }
    std::vector<std::pair<double, size_t>> order;
    std::map<std::string, double> by_tactic;
    double total = 0;
    for (size_t l = 0; l < layers.size(); ++l) {
      std::vector<double> v;
      for (const auto& r : runs) v.push_back(r[l]);
      double m = percentile(v, 50);
      order.push_back({m, l});
      by_tactic[layers[l].tactic] += m;
      const auto& graph_nodes = e.desc().graph->nodes();
      profile_rows.push_back({{"layer", l}, {"ms", m}, {"tactic", layers[l].tactic},
                              {"node", l < graph_nodes.size() ? graph_nodes[l]->describe() : ""}});
      total += m;
    }
    std::sort(order.rbegin(), order.rend());
    const auto& nodes = e.desc().graph->nodes();
    std::printf("  profile (layer by layer, sum %.3f ms)\n", total);
    for (size_t i = 0; i < std::min<size_t>(order.size(), 15); ++i) {
      size_t l = order[i].second;
      std::printf("    %8.4f ms %5.1f%%  %-24s %s\n", order[i].first, 100 * order[i].first / total, layers[l].tactic.c_str(),
                  l < nodes.size() ? nodes[l]->describe().c_str() : "");
    }
    for (const auto& [tactic, ms] : by_tactic)
      std::printf("    total %-24s %8.4f ms %5.1f%%\n", tactic.c_str(), ms, 100 * ms / total);
  }
#endif
  dev.destroy_stream(*stream);
  double p50 = percentile(ms, 50), p90 = percentile(ms, 90), p99 = percentile(ms, 99);
  size_t views = 0;  // layers that run no kernel (plan/views.h)
  for (const auto& l : e.desc().layers) views += l.tactic == plan::kAliasTactic;
  std::printf("%s on %s (%s, batch %lld, %zu layers, %zu of them views%s)\n", o.model.c_str(), dev.name().c_str(),
              runtime::backend_name(dev.backend()), static_cast<long long>(batch), e.desc().layers.size(), views,
              used_graph ? ", CUDA graph" : "");
  if (build_ms > 0) std::printf("  build       %.1f ms\n", build_ms);
  std::printf("  latency     p50 %.4f ms  p90 %.4f ms  p99 %.4f ms  (%d iterations after %d warm-up)\n", p50, p90, p99,
              o.iterations, o.warmup);
  std::printf("  throughput  %.1f inferences/s  (%.1f batches/s)\n", batch * 1000.0 / p50, 1000.0 / p50);
  std::printf("  memory      arena %.1f MiB, weights %.1f MiB", (*ctx)->arena_bytes() / 1048576.0,
              e.desc().weights.bytes / 1048576.0);
  if (memory_mib >= 0) std::printf(", GPU in use %.0f MiB", memory_mib);
  std::printf("\n");
  if (!o.json_path.empty()) {
    nlohmann::json j = {{"model", o.model}, {"device", dev.name()}, {"batch", batch}, {"p50_ms", p50},
                        {"p90_ms", p90}, {"p99_ms", p99}, {"throughput", batch * 1000.0 / p50},
                        {"cuda_graph", used_graph}, {"build_ms", build_ms}, {"layers", e.desc().layers.size()},
                        {"view_layers", views}};
    if (!profile_rows.empty()) j["profile"] = profile_rows;
    std::ofstream(o.json_path) << j.dump(1) << "\n";
  }
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("bench", "Time an engine (or build one from an ONNX model with the build flags, then time it)");
  auto o = std::make_shared<BenchOptions>();
  cmd->add_option("model", o->model, "model.kiln, or model.onnx to build first")->required();
  cmd->add_option("--batch", o->batch, "value for the model's symbolic input dims (.onnx)");
  cmd->add_option("--iterations", o->iterations, "timed runs")->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "untimed runs first")->capture_default_str();
  cmd->add_flag("--profile", o->profile, "also time each layer (CUDA) and print the costliest (all of them in --json)");
  cmd->add_flag("--no-cuda-graph", o->no_graph, "launch layer by layer instead of replaying a CUDA graph");
  cmd->add_option("--json", o->json_path, "write the numbers as JSON");
  add_build_flags(cmd, o->build);  // apply to .onnx models
  cmd->callback([o, &exit_code] {
    if (o->iterations < 1 || o->warmup < 0) {
      exit_code = report(invalid_argument("--iterations must be >= 1 and --warmup >= 0"));
      return;
    }
    exit_code = bench(*o);
  });
}

}  // namespace kiln::cli
