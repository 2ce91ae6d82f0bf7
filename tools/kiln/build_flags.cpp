#include "build_flags.h"

namespace kiln::cli {

void add_build_flags(CLI::App* cmd, BuildFlags& f) {
  cmd->add_option("--backend", f.backend, "cpu or cuda")->capture_default_str();
  cmd->add_flag("--fp16", f.fp16, "allow float16 kernels");
  cmd->add_flag("--bf16", f.bf16, "allow bfloat16 kernels");
  cmd->add_flag("--tf32", f.tf32, "allow TF32 math for float32 (CUDA)");
  cmd->add_option("--disable-pass", f.disabled_passes, "skip an optimization pass by name (repeatable)");
  cmd->add_option("--disable-tactic", f.disabled_tactics,
                  "skip a kernel (tactic id) when choosing one per layer (repeatable)");
  cmd->add_flag("--allow-cpu-fallback", f.allow_cpu_fallback,
                "CUDA: run nodes no CUDA kernel supports on the CPU reference inside the engine (slow; no CUDA graphs)");
  cmd->add_option("--io-dtype", f.io_dtype,
                  "dtype of the engine's float inputs and outputs: float32 (the model's), or the build precision "
                  "(float16 with --fp16, bfloat16 with --bf16: no casts at the boundary)")
      ->capture_default_str();
  cmd->add_option("--input-layout", f.input_layout,
                  "nchw (the model's) or nhwc: every rank-4 input is bound channels-last, [N,H,W,C]")
      ->capture_default_str();
}

Status apply_build_flags(const BuildFlags& f, runtime::BuilderConfig& c) {
  if (f.backend == "cpu") c.backend = runtime::Backend::kCpu;
  else if (f.backend == "cuda") c.backend = runtime::Backend::kCuda;
  else return invalid_argument("--backend must be cpu or cuda, got '" + f.backend + "'");
  c.fp16 = f.fp16;
  c.bf16 = f.bf16;
  c.tf32 = f.tf32;
  c.allow_cpu_fallback = f.allow_cpu_fallback;
  c.disabled_passes = f.disabled_passes;
  c.disabled_tactics = f.disabled_tactics;
  if (f.io_dtype == "float32") c.io_dtype = DataType::kFloat32;
  else if (f.io_dtype == "float16") c.io_dtype = DataType::kFloat16;
  else if (f.io_dtype == "bfloat16") c.io_dtype = DataType::kBFloat16;
  else return invalid_argument("--io-dtype must be float32, float16 or bfloat16, got '" + f.io_dtype + "'");
  if (f.input_layout == "nchw") c.input_layout = ir::Layout::kRowMajor;
  else if (f.input_layout == "nhwc") c.input_layout = ir::Layout::kNHWC;
  else return invalid_argument("--input-layout must be nchw or nhwc, got '" + f.input_layout + "'");
  return Status::ok();
}

}  // namespace kiln::cli
