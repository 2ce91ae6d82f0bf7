// kiln build model.onnx -o model.kiln: optimize, lower, plan and write an engine file.
#include <chrono>
#include <cstdio>
#include <unistd.h>

#include "commands.h"
#include "onnx/importer.h"
#include "runtime/builder.h"

namespace kiln::cli {
namespace {

struct BuildOptions {
  std::string model, output, backend = "cpu";
  std::string target_arch;  // build for this GPU architecture without a GPU (sm_90)
  bool fp16 = false, bf16 = false, tf32 = false, verbose = false;
  int64_t workspace_mib = 1024;
  std::vector<std::string> disabled_passes;
  std::vector<std::string> disabled_tactics;
  std::vector<std::string> shapes;  // NAME=DIM
};

int build(const BuildOptions& o) {
  auto t0 = std::chrono::steady_clock::now();
  auto ms_since = [](auto t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  };
  runtime::BuilderConfig config;
  if (o.backend == "cpu") config.backend = runtime::Backend::kCpu;
  else if (o.backend == "cuda") config.backend = runtime::Backend::kCuda;
  else return report(invalid_argument("--backend must be cpu or cuda, got '" + o.backend + "'"));
  config.fp16 = o.fp16;
  config.bf16 = o.bf16;
  config.tf32 = o.tf32;
  config.workspace_mib = o.workspace_mib;
  config.disabled_passes = o.disabled_passes;
  config.disabled_tactics = o.disabled_tactics;
  config.verbose = o.verbose;
  for (const auto& spec : o.shapes) {
    auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || spec.find_first_not_of("0123456789", eq + 1) != std::string::npos ||
        eq + 1 == spec.size() || spec.size() - eq > 12)
      return report(invalid_argument("--shape takes NAME=DIM (e.g. batch=32), got '" + spec + "'"));
    config.dims[spec.substr(0, eq)] = std::stoll(spec.substr(eq + 1));
  }
  config.log = [](const std::string& m) { std::fprintf(stderr, "[build] %s\n", m.c_str()); };
  const bool tty = isatty(STDERR_FILENO);
  config.progress = [tty](const std::string& phase, size_t done, size_t total) {
    if (!tty || total < 2) return;
    std::fprintf(stderr, "\r[build] %-9s %zu/%zu%s", phase.c_str(), done, total, done == total ? "\n" : "");
  };

  auto model = importer::import_model_file(o.model);
  if (!model.is_ok()) return report(model.status());
  if (o.verbose) std::fprintf(stderr, "[build] imported %s in %.1f ms\n", o.model.c_str(), ms_since(t0));
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
  std::string where = o.backend + (o.target_arch.empty() ? "" : ", " + o.target_arch + " without a GPU");
  std::printf("built %s -> %s (%s): %lld nodes -> %zu layers, weights %.2f MiB, arena %.2f MiB (naive %.2f MiB), %.1f ms\n",
              o.model.c_str(), o.output.c_str(), where.c_str(), static_cast<long long>(d.source_node_count),
              d.layers.size(), d.weights.bytes / 1048576.0, d.memory.arena_bytes / 1048576.0,
              d.memory.naive_bytes / 1048576.0, ms_since(t0));
  if (o.verbose) std::fprintf(stderr, "[build] wrote the engine in %.1f ms\n", ms_since(t1));
  return 0;
}

}  // namespace

void add_build_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("build", "Build an engine file from an ONNX model");
  auto o = std::make_shared<BuildOptions>();
  cmd->add_option("model", o->model, "model.onnx")->required();
  cmd->add_option("-o,--output", o->output, "engine file to write (model.kiln)")->required();
  cmd->add_option("--backend", o->backend, "cpu or cuda")->capture_default_str();
  cmd->add_option("--target-arch", o->target_arch,
                  "build for this GPU architecture (e.g. sm_90) without a GPU; the engine loads on a GPU of that "
                  "architecture with the same CUDA/cuDNN/cuBLAS versions");
  cmd->add_flag("--fp16", o->fp16, "allow float16 kernels");
  cmd->add_flag("--bf16", o->bf16, "allow bfloat16 kernels");
  cmd->add_flag("--tf32", o->tf32, "allow TF32 math for float32 (CUDA)");
  cmd->add_option("--workspace", o->workspace_mib, "the most scratch memory one layer may use, MiB")
      ->capture_default_str();
  cmd->add_option("--shape", o->shapes, "value of a symbolic input dim, NAME=DIM (repeatable), e.g. batch=32");
  cmd->add_option("--disable-pass", o->disabled_passes, "skip an optimization pass by name (repeatable)");
  cmd->add_option("--disable-tactic", o->disabled_tactics, "skip a kernel (tactic id) when choosing one per layer (repeatable)");
  cmd->add_flag("-v,--verbose", o->verbose, "print each phase, the chosen kernels and the memory plan");
  cmd->callback([o, &exit_code] { exit_code = build(*o); });
}

}  // namespace kiln::cli
