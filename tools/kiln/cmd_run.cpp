// kiln run model.onnx|model.kiln: runs a model on the CPU reference (or an engine on its
// backend) with given (.npy) or random inputs.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "backends/cpu/interpreter.h"
#include "commands.h"
#include "io/npy.h"
#include "io/random_inputs.h"
#include "onnx/importer.h"

namespace kiln::cli {

void print_summary(const std::string& name, const RuntimeValue& v);

namespace {

struct RunOptions {
  std::string model;
  std::vector<std::string> inputs;  // name=file.npy
  bool random = false;
  uint64_t seed = 1;
  std::string output_dir;
  bool verbose = false;
  bool no_graph = false;
  int repeat = 1;
};

}  // namespace

void print_summary(const std::string& name, const RuntimeValue& v) {
  if (v.is_none()) {
    std::printf("  %-24s (none)\n", name.c_str());
    return;
  }
  if (v.is_sequence()) {
    std::printf("  %-24s sequence of %zu tensors\n", name.c_str(), v.sequence().items.size());
    return;
  }
  const Tensor& t = v.tensor();
  std::printf("  %-24s %s", name.c_str(), t.describe().c_str());
  if (t.dtype() != DataType::kString && t.dtype() != DataType::kComplex64 && t.dtype() != DataType::kComplex128 &&
      t.numel() > 0) {
    auto values = t.to_f64();
    double lo = values[0], hi = values[0], sum = 0;
    for (double x : values) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
      sum += x;
    }
    std::printf("  min %.6g  max %.6g  mean %.6g  first [", lo, hi, sum / values.size());
    for (size_t i = 0; i < std::min<size_t>(values.size(), 5); ++i) std::printf("%s%.6g", i ? ", " : "", values[i]);
    std::printf("%s]", values.size() > 5 ? ", ..." : "");
  }
  std::printf("\n");
}

int write_outputs(const std::string& dir, const std::vector<std::pair<std::string, Tensor>>& outputs) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return report(io_error("cannot create '" + dir + "': " + ec.message()));
  for (const auto& [name, t] : outputs) {
    std::string safe = name;
    for (char& c : safe)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') c = '_';
    std::string path = dir + "/" + safe + ".npy";
    Status st = io::write_npy(path, t);
    if (!st.is_ok()) return report(st);
    std::printf("wrote %s\n", path.c_str());
  }
  return 0;
}

namespace {

int run(const RunOptions& o) {
  if (is_engine_file(o.model)) return run_engine(o.model, o.inputs, o.seed, o.output_dir, {o.verbose, !o.no_graph, o.repeat});
  auto model = importer::import_model_file(o.model);
  if (!model.is_ok()) return report(model.status());
  std::map<std::string, RuntimeValue> inputs;
  if (o.random) {
    auto r = io::random_inputs(*model->graph, o.seed);
    if (!r.is_ok()) return report(r.status());
    inputs = std::move(r).value();
  }
  for (const auto& spec : o.inputs) {
    auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) return report(invalid_argument("--input takes name=file.npy, got '" + spec + "'"));
    auto t = io::read_npy(spec.substr(eq + 1));
    if (!t.is_ok()) return report(t.status());
    inputs[spec.substr(0, eq)] = RuntimeValue(std::move(t).value());
  }
  auto interp = cpu::Interpreter::create(model->graph);
  if (!interp.is_ok()) return report(interp.status());
  auto start = std::chrono::steady_clock::now();
  auto outputs = (*interp)->run(inputs);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!outputs.is_ok()) return report(outputs.status());
  std::printf("ran %s on cpu in %.3f ms\noutputs\n", o.model.c_str(), ms);
  const auto& graph_outputs = model->graph->outputs();
  for (size_t i = 0; i < graph_outputs.size(); ++i) print_summary(graph_outputs[i]->name(), (*outputs)[i]);
  if (!o.output_dir.empty()) {
    std::vector<std::pair<std::string, Tensor>> named;
    for (size_t i = 0; i < graph_outputs.size(); ++i)
      if ((*outputs)[i].is_tensor()) named.emplace_back(graph_outputs[i]->name(), (*outputs)[i].tensor());
    return write_outputs(o.output_dir, named);
  }
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("run", "Run a model on the CPU reference backend, or an engine (.kiln) on its backend");
  auto o = std::make_shared<RunOptions>();
  cmd->add_option("model", o->model, "model.onnx or model.kiln")->required();
  cmd->add_option("--input", o->inputs, "an input as name=file.npy (repeatable)");
  cmd->add_flag("--random-inputs", o->random, "fill inputs not given with random values");
  cmd->add_option("--seed", o->seed, "seed for --random-inputs");
  cmd->add_option("--output-dir", o->output_dir, "write each output as NAME.npy into this folder");
  cmd->add_flag("-v,--verbose", o->verbose, "print the engine load time and how the last call launched");
  cmd->add_flag("--no-cuda-graph", o->no_graph, "engines on CUDA: launch layer by layer instead of replaying a CUDA graph");
  cmd->add_option("--repeat", o->repeat, "engines: run this many times (the 2nd call captures a CUDA graph, later ones replay it)")
      ->capture_default_str();
  cmd->callback([o, &exit_code] {
    if (o->repeat < 1) {
      exit_code = report(invalid_argument("--repeat must be >= 1"));
      return;
    }
    exit_code = run(*o);
  });
}

}  // namespace kiln::cli
