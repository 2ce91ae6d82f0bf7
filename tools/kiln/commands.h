// The kiln CLI's subcommands. Each add_* registers its options on the app and a callback that
// sets the exit code; errors print one line "kiln: error: ..." and exit with 1.
#pragma once
#include <CLI/CLI.hpp>

#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "runtime/engine.h"

namespace kiln::cli {

void add_run_command(CLI::App& app, int& exit_code);
void add_inspect_command(CLI::App& app, int& exit_code);
void add_conformance_command(CLI::App& app, int& exit_code);
void add_build_command(CLI::App& app, int& exit_code);
void add_compare_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);

// Engine files (.kiln) in `run` and `inspect` (engine_commands.cpp).
bool is_engine_file(const std::string& path);  // starts with the "KILN" magic
// load_profile: where the load time goes (file, checksum, parse, weights, kernels, first context).
int inspect_engine(const std::string& path, bool dot, bool load_profile = false);
struct EngineRunFlags {
  bool verbose = false;      // load time, and how the last call launched its layers
  bool cuda_graphs = true;   // false: --no-cuda-graph
  int repeat = 1;            // calls of run(); the outputs are the last call's
};
int run_engine(const std::string& path, const std::vector<std::string>& inputs, uint64_t seed,
               const std::string& output_dir, const EngineRunFlags& flags);

// Engine inputs from name=file.npy specs (dtype and dims as the binding takes them, else an
// error naming both), the others random (engine_commands.cpp; run and compare).
Result<std::map<std::string, Tensor>> engine_inputs(const runtime::Engine& engine,
                                                    const std::vector<std::string>& specs, uint64_t seed);

// Shared by run and compare (cmd_run.cpp).
void print_summary(const std::string& name, const RuntimeValue& value);
int write_outputs(const std::string& dir, const std::vector<std::pair<std::string, Tensor>>& outputs);

// Prints the error and returns the exit code for it.
int report(const Status& status);

}  // namespace kiln::cli
