// kiln build model.onnx -o model.kiln: optimize, lower, plan and write an engine file.
#include <chrono>
#include <cstdio>
#include <sys/stat.h>
#include <unistd.h>

#include "build_flags.h"
#include "commands.h"
#include "io/npy.h"
#include "onnx/importer.h"
#include "plan/views.h"
#include "runtime/builder.h"
#include "runtime/io_format.h"

namespace kiln::cli {
namespace {

struct BuildOptions {
  std::string model, output;
  BuildFlags build{"cpu"};
  std::string target_arch;  // build for this GPU architecture without a GPU (sm_90)
  bool verbose = false;
  int64_t workspace_mib = 1024;
  std::vector<std::string> shapes;  // NAME=DIM
  bool no_overflow_check = false;
  std::vector<std::string> sample_inputs;  // NAME=FILE.npy or a folder of NAME.npy
};

// --sample-input: NAME=FILE.npy, or a folder holding NAME.npy for some of the model's inputs.
Status load_sample_inputs(const std::vector<std::string>& specs, const ir::Graph& g,
                          std::map<std::string, RuntimeValue>& out) {
  for (const auto& spec : specs) {
    struct stat st {};
    auto eq = spec.find('=');
    if (eq == std::string::npos && stat(spec.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      size_t found = 0;
      for (const ir::Value* in : g.inputs()) {
        std::string path = spec + "/" + in->name() + ".npy";
        if (stat(path.c_str(), &st) != 0) continue;
        auto t = io::read_npy(path);
        if (!t.is_ok()) return t.status();
        out[in->name()] = RuntimeValue(std::move(t).value());
        ++found;
      }
      if (!found) return invalid_argument("--sample-input " + spec + ": no INPUT_NAME.npy for any model input there");
      continue;
    }
    if (eq == std::string::npos || eq == 0)
      return invalid_argument("--sample-input takes NAME=FILE.npy or a folder of NAME.npy files, got '" + spec + "'");
    std::string name = spec.substr(0, eq);
    bool known = false;
    for (const ir::Value* in : g.inputs()) known |= in->name() == name;
    if (!known) return invalid_argument("--sample-input " + spec + ": the model has no input named '" + name + "'");
    auto t = io::read_npy(spec.substr(eq + 1));
    if (!t.is_ok()) return t.status();
    out[name] = RuntimeValue(std::move(t).value());
  }
  return Status::ok();
}

int build(const BuildOptions& o) {
  auto t0 = std::chrono::steady_clock::now();
  auto ms_since = [](auto t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  };
  runtime::BuilderConfig config;
  if (Status st = apply_build_flags(o.build, config); !st.is_ok()) return report(st);
  config.workspace_mib = o.workspace_mib;
  config.verbose = o.verbose;
  for (const auto& spec : o.shapes) {
    auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || spec.find_first_not_of("0123456789", eq + 1) != std::string::npos ||
        eq + 1 == spec.size() || spec.size() - eq > 12)
      return report(invalid_argument("--shape takes NAME=DIM (e.g. batch=32), got '" + spec + "'"));
    config.dims[spec.substr(0, eq)] = std::stoll(spec.substr(eq + 1));
  }
  config.log = [](const std::string& m) { std::fprintf(stderr, "[build] %s\n", m.c_str()); };
  config.warn = [](const std::string& m) { std::fprintf(stderr, "[build] warning: %s\n", m.c_str()); };
  config.overflow_check = !o.no_overflow_check;
  runtime::BuildReport build_report;
  config.report = &build_report;
  const bool tty = isatty(STDERR_FILENO);
  config.progress = [tty](const std::string& phase, size_t done, size_t total) {
    if (!tty || total < 2) return;
    std::fprintf(stderr, "\r[build] %-9s %zu/%zu%s", phase.c_str(), done, total, done == total ? "\n" : "");
  };

  auto model = importer::import_model_file(o.model);
  if (!model.is_ok()) return report(model.status());
  if (o.verbose) std::fprintf(stderr, "[build] imported %s in %.1f ms\n", o.model.c_str(), ms_since(t0));
  if (!o.sample_inputs.empty()) {
    if (!o.build.fp16 || o.no_overflow_check)
      return report(invalid_argument("--sample-input feeds the fp16 overflow check: it needs --fp16"));
    Status st = load_sample_inputs(o.sample_inputs, *model.value().graph, config.sample_inputs);
    if (!st.is_ok()) return report(st);
  }
  // With --target-arch: lower and plan for the named architecture without touching a device
  // (no kernels are created: that happens when the engine is loaded on the GPU).
  std::shared_ptr<runtime::Engine> engine;
  plan::EngineDesc offline;
  if (!o.target_arch.empty()) {
    if (config.backend == runtime::Backend::kCpu)
      return report(invalid_argument("--target-arch is for GPU backends (--backend cuda)"));
    auto target = runtime::target_for_arch(config.backend, o.target_arch);
    if (!target.is_ok()) return report(target.status());
    auto desc = runtime::Builder::build_desc(model.value(), config, target.value());
    if (!desc.is_ok()) return report(desc.status());
    offline = std::move(desc).value();
  } else {
    auto built = runtime::Builder::build(model.value(), config);
    if (!built.is_ok()) return report(built.status());
    engine = built.value();
  }
  auto t1 = std::chrono::steady_clock::now();
  Status st = engine ? engine->save(o.output) : plan::write_engine_file(offline, o.output);
  if (!st.is_ok()) return report(st);
  const auto& d = engine ? engine->desc() : offline;
  std::string where = o.build.backend + (o.target_arch.empty() ? "" : ", " + o.target_arch + " without a GPU");
  size_t views = 0;
  for (const auto& l : d.layers) views += l.tactic == plan::kAliasTactic;
  std::printf("built %s -> %s (%s): %lld nodes -> %zu layers (%zu views), weights %.2f MiB, arena %.2f MiB (naive %.2f MiB), %.1f ms\n",
              o.model.c_str(), o.output.c_str(), where.c_str(), static_cast<long long>(d.source_node_count),
              d.layers.size(), views, d.weights.bytes / 1048576.0, d.memory.arena_bytes / 1048576.0,
              d.memory.naive_bytes / 1048576.0, ms_since(t0));
  // Non-default I/O formats: what the caller passes and gets (runtime/io_format.h).
  if (d.config.io_dtype != DataType::kFloat32 || d.config.input_layout == ir::Layout::kNHWC) {
    std::string io;
    for (const ir::Value* v : d.graph->inputs())
      io += (io.empty() ? "inputs " : ", ") + v->name() + " " +
            runtime::binding_type(runtime::input_binding(*v, d.config.input_layout));
    std::string outs;
    for (const ir::Value* v : d.graph->outputs())
      outs += (outs.empty() ? "; outputs " : ", ") + v->name() + " " + v->type().to_string();
    std::printf("bindings: %s%s\n", io.c_str(), outs.c_str());
  }
  if (build_report.cpu_fallback_layers)
    std::printf("%lld layers run on the CPU (--allow-cpu-fallback): no CUDA-graph capture for this engine\n",
                static_cast<long long>(build_report.cpu_fallback_layers));
  if (!build_report.overflow_check.empty())
    std::printf("%s\n", build_report.overflow_check.c_str());
  if (o.verbose) std::fprintf(stderr, "[build] wrote the engine in %.1f ms\n", ms_since(t1));
  return 0;
}

}  // namespace

void add_build_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("build", "Build an engine file from an ONNX model");
  auto o = std::make_shared<BuildOptions>();
  cmd->add_option("model", o->model, "model.onnx")->required();
  cmd->add_option("-o,--output", o->output, "engine file to write (model.kiln)")->required();
  add_build_flags(cmd, o->build);
  cmd->add_option("--target-arch", o->target_arch,
                  "build for this GPU architecture (e.g. sm_90) without a GPU; the engine loads on a GPU of that "
                  "architecture with the same CUDA/cuDNN/cuBLAS versions");
  cmd->add_option("--workspace", o->workspace_mib, "the most scratch memory one layer may use, MiB")
      ->capture_default_str();
  cmd->add_option("--shape", o->shapes, "value of a symbolic input dim, NAME=DIM (repeatable), e.g. batch=32");
  cmd->add_flag("-v,--verbose", o->verbose, "print each phase, the chosen kernels and the memory plan");
  cmd->add_flag("--no-overflow-check", o->no_overflow_check,
                "--fp16: skip the check that keeps layers whose values exceed float16's range in float32");
  cmd->add_option("--sample-input", o->sample_inputs,
                  "--fp16 overflow check input in the model's form (float32, NCHW), NAME=FILE.npy or a folder of "
                  "NAME.npy (repeatable); default random");
  cmd->callback([o, &exit_code] { exit_code = build(*o); });
}

}  // namespace kiln::cli
