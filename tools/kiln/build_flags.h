// The builder options `kiln build` and `kiln bench` (for .onnx models) share: one declaration of
// the flags and one place that turns them into a BuilderConfig.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "runtime/builder.h"

namespace kiln::cli {

struct BuildFlags {
  explicit BuildFlags(std::string default_backend) : backend(std::move(default_backend)) {}
  std::string backend;  // "cpu" or "cuda"
  bool fp16 = false, bf16 = false, tf32 = false, allow_cpu_fallback = false;
  std::vector<std::string> disabled_passes, disabled_tactics;
  std::string io_dtype = "float32", input_layout = "nchw";
};

// --backend, --fp16, --bf16, --tf32, --disable-pass, --disable-tactic, --allow-cpu-fallback,
// --io-dtype, --input-layout.
void add_build_flags(CLI::App* cmd, BuildFlags& flags);

// Copies the flags into `config`; an error for an unknown backend, I/O dtype or layout.
Status apply_build_flags(const BuildFlags& flags, runtime::BuilderConfig& config);

}  // namespace kiln::cli
