// kiln conformance: runs the ONNX backend node tests (written out by
// tests/conformance/gen_node_tests.py) and prints PASS / FAIL / UNSUPPORTED per test.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "backends/cpu/interpreter.h"
#include "commands.h"
#include "io/compare.h"
#include "onnx/importer.h"
#include "onnx/test_data.h"
#include "runtime/builder.h"
#include "runtime/execution_context.h"

namespace kiln::cli {
namespace fs = std::filesystem;
namespace {

struct ConformanceOptions {
  std::string data_dir = "build/onnx-node-tests";
  std::string backend = "cpu";
  std::string json_path;
  std::string filter;
  std::string expect_path;          // fail when a listed test does not pass
  std::string write_expected_path;  // write the list of passing tests
  std::string target_arch;          // GPU backends: lower only, for this arch, without a GPU
  bool engine = false;              // cpu: build and run engines as GPU backends do (not the interpreter)
  bool quiet = false;
};

// How a GPU backend runs the tests: engines built in-process on one device (or, with
// --target-arch, only lowered), fp32 tolerances a little looser than the CPU's.
struct GpuRun {
  runtime::Backend backend = runtime::Backend::kCuda;
  std::shared_ptr<runtime::Device> device;  // null: lower only
  runtime::TargetInfo target;
  double min_rtol = 1e-3, min_atol = 1e-4;
};

enum class Outcome { kPass, kFail, kUnsupported };

struct TestResult {
  std::string name;
  Outcome outcome;
  std::string detail;
  double max_abs_error = 0;
};

std::vector<fs::path> data_sets(const fs::path& dir) {
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  return sets;
}

// A test on a GPU backend: build an engine for the model (kUnsupported from the builder or a
// tactic: the model has a node with no kernel there, or something engines do not hold), run
// every data set through one ExecutionContext and compare with the expected outputs.
fs::path set_path(const fs::path& set, size_t i) { return set / ("output_" + std::to_string(i) + ".pb"); }

TestResult run_gpu_case(const fs::path& dir, const GpuRun& gpu, double rtol, double atol) {
  TestResult r{dir.filename().string(), Outcome::kFail, "", 0};
  auto model = importer::import_model_file((dir / "model.onnx").string());
  if (!model.is_ok()) {
    r.outcome = model.status().code() == StatusCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFail;
    r.detail = model.status().message();
    return r;
  }
  auto sets = data_sets(dir);
  if (sets.empty()) {
    r.detail = "no test data sets";
    return r;
  }
  // The model's inputs, read before the graph is optimized (the builder rewrites it in place).
  std::vector<std::pair<std::string, ir::ValueKind>> in_names;
  for (const ir::Value* v : model->graph->inputs()) in_names.push_back({v->name(), v->type().kind});
  std::vector<std::pair<std::string, ir::ValueKind>> out_names;
  for (const ir::Value* v : model->graph->outputs()) out_names.push_back({v->name(), v->type().kind});
  auto read_inputs = [&](const fs::path& set, std::map<std::string, Tensor>& inputs) -> Status {
    for (size_t i = 0; i < in_names.size(); ++i) {
      fs::path p = set / ("input_" + std::to_string(i) + ".pb");
      if (!fs::exists(p)) return unsupported("an omitted optional input (engines bind every input)");
      KILN_ASSIGN_OR_RETURN(RuntimeValue v, importer::read_value_pb(p.string(), in_names[i].second));
      if (!v.is_tensor()) return unsupported("input '" + in_names[i].first + "' is not a tensor (engines hold tensors only)");
      inputs[in_names[i].first] = v.tensor();
    }
    return Status::ok();
  };
  std::map<std::string, Tensor> first;
  Status st = read_inputs(sets[0], first);
  if (!st.is_ok()) {
    r.outcome = st.code() == StatusCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFail;
    r.detail = st.message();
    return r;
  }
  runtime::BuilderConfig config;
  config.backend = gpu.backend;
  // Symbolic input dims take the sizes of the first data set (engines have static shapes).
  for (const ir::Value* v : model->graph->inputs()) {
    const auto& shape = v->type().shape;
    if (v->type().kind != ir::ValueKind::kTensor || !shape || !first.count(v->name())) continue;
    const Tensor& t = first.at(v->name());
    if (t.rank() != shape->rank()) continue;
    for (size_t d = 0; d < shape->rank(); ++d)
      if ((*shape)[d].is_symbolic()) config.dims[(*shape)[d].symbol_name()] = t.dim(static_cast<int64_t>(d));
  }
  std::shared_ptr<runtime::Engine> engine;
  if (!gpu.device) {
    auto desc = runtime::Builder::build_desc(model.value(), config, gpu.target);
    if (!desc.is_ok()) {
      r.outcome = desc.status().code() == StatusCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFail;
      r.detail = desc.status().message();
      return r;
    }
    r.outcome = Outcome::kPass;  // lowered: every node has a kernel
    return r;
  }
  auto built = runtime::Builder::build(model.value(), config, gpu.device);
  if (!built.is_ok()) {
    r.outcome = built.status().code() == StatusCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFail;
    r.detail = built.status().message();
    return r;
  }
  engine = built.value();
  auto ctx = engine->create_context();
  if (!ctx.is_ok()) {
    r.detail = ctx.status().message();
    return r;
  }
  for (size_t s = 0; s < sets.size(); ++s) {
    std::map<std::string, Tensor> inputs;
    if (s == 0) inputs = first;
    else if (Status rs = read_inputs(sets[s], inputs); !rs.is_ok()) {
      r.detail = rs.message();
      return r;
    }
    bool same_shapes = true;
    for (const auto& b : engine->inputs())
      if (!inputs.count(b.name) || inputs.at(b.name).dims() != b.dims || inputs.at(b.name).dtype() != b.dtype)
        same_shapes = false;
    if (!same_shapes) {
      if (s == 0) {
        r.detail = "the test's inputs do not match the engine's bindings";
        return r;
      }
      continue;  // another shape than the engine was built for: only the first set counts
    }
    std::map<std::string, Tensor> bound;  // the optimizer may have dropped an unused input
    for (const auto& bi : engine->inputs()) bound[bi.name] = inputs.at(bi.name);
    auto outputs = ctx.value()->run(bound);
    if (!outputs.is_ok()) {
      r.detail = outputs.status().message();
      return r;
    }
    const auto& bindings = engine->outputs();
    for (size_t i = 0; i < out_names.size(); ++i) {
      fs::path p = set_path(sets[s], i);
      if (!fs::exists(p)) continue;
      auto expected = importer::read_value_pb(p.string(), out_names[i].second);
      if (!expected.is_ok()) {
        r.detail = expected.status().message();
        return r;
      }
      size_t b = 0;
      while (b < bindings.size() && bindings[b].name != out_names[i].first) ++b;
      if (b == bindings.size() || b >= outputs->size()) {
        r.detail = "the engine has no output '" + out_names[i].first + "'";
        return r;
      }
      auto cmp = io::compare_values(*expected, RuntimeValue((*outputs)[b]), rtol, atol);
      r.max_abs_error = std::max(r.max_abs_error, cmp.max_abs_error);
      if (!cmp.ok) {
        r.detail = "output '" + out_names[i].first + "': " + cmp.message;
        return r;
      }
    }
  }
  r.outcome = Outcome::kPass;
  return r;
}

TestResult run_case(const fs::path& dir, const GpuRun* gpu) {
  TestResult r{dir.filename().string(), Outcome::kFail, "", 0};
  double rtol = 1e-3, atol = 1e-7;
  if (std::ifstream tol(dir / "tolerance.json"); tol) {
    auto j = nlohmann::json::parse(tol, nullptr, false);
    if (j.is_object()) {
      rtol = j.value("rtol", rtol);
      atol = j.value("atol", atol);
    }
  }
  if (gpu) return run_gpu_case(dir, *gpu, std::max(rtol, gpu->min_rtol), std::max(atol, gpu->min_atol));
  auto model = importer::import_model_file((dir / "model.onnx").string());
  if (!model.is_ok()) {
    r.outcome = model.status().code() == StatusCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFail;
    r.detail = model.status().message();
    return r;
  }
  auto interp = cpu::Interpreter::create(model->graph);
  if (!interp.is_ok()) {
    r.outcome = interp.status().code() == StatusCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFail;
    r.detail = interp.status().message();
    return r;
  }
  const ir::Graph& g = *model->graph;
  std::vector<fs::path> sets = data_sets(dir);
  if (sets.empty()) {
    r.detail = "no test data sets";
    return r;
  }
  for (const auto& set : sets) {
    std::vector<RuntimeValue> inputs;
    for (size_t i = 0; i < g.inputs().size(); ++i) {
      fs::path p = set / ("input_" + std::to_string(i) + ".pb");
      if (!fs::exists(p)) {
        inputs.emplace_back();  // an omitted optional input
        continue;
      }
      auto v = importer::read_value_pb(p.string(), g.inputs()[i]->type().kind);
      if (!v.is_ok()) {
        r.detail = v.status().message();
        return r;
      }
      inputs.push_back(std::move(v).value());
    }
    auto outputs = (*interp)->run(inputs);
    if (!outputs.is_ok()) {
      r.outcome = outputs.status().code() == StatusCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFail;
      r.detail = outputs.status().message();
      return r;
    }
    for (size_t i = 0; i < g.outputs().size(); ++i) {
      fs::path p = set_path(set, i);
      if (!fs::exists(p)) continue;
      auto expected = importer::read_value_pb(p.string(), g.outputs()[i]->type().kind);
      if (!expected.is_ok()) {
        r.detail = expected.status().message();
        return r;
      }
      auto cmp = io::compare_values(*expected, (*outputs)[i], rtol, atol);
      r.max_abs_error = std::max(r.max_abs_error, cmp.max_abs_error);
      if (!cmp.ok) {
        r.detail = "output '" + g.outputs()[i]->name() + "': " + cmp.message;
        return r;
      }
    }
  }
  r.outcome = Outcome::kPass;
  return r;
}

int conformance(const ConformanceOptions& o) {
  std::unique_ptr<GpuRun> gpu;
  if (o.backend == "cuda") {
    gpu = std::make_unique<GpuRun>();
    if (!o.target_arch.empty()) {
      auto target = runtime::target_for_arch(gpu->backend, o.target_arch);
      if (!target.is_ok()) return report(target.status());
      gpu->target = target.value();
    } else {
      auto device = runtime::make_device(gpu->backend);
      if (!device.is_ok()) return report(device.status());
      gpu->device = device.value();
    }
  } else if (o.backend != "cpu") {
    return report(invalid_argument("--backend must be cpu or cuda, got '" + o.backend + "'"));
  } else if (o.engine) {  // the engine path of GPU backends, on the CPU, with the tests' own tolerances
    gpu = std::make_unique<GpuRun>();
    gpu->backend = runtime::Backend::kCpu;
    auto device = runtime::make_device(runtime::Backend::kCpu);
    if (!device.is_ok()) return report(device.status());
    gpu->device = device.value();
    gpu->min_rtol = gpu->min_atol = 0;
  } else if (!o.target_arch.empty()) {
    return report(invalid_argument("--target-arch is for GPU backends (--backend cuda)"));
  }
  if (gpu)
    std::printf("conformance on %s: %s; fp32 tolerance at least rtol %g, atol %g (GPU math differs from the "
                "reference's); UNSUPPORTED = a node with no %s kernel, or a model engines cannot hold\n",
                o.backend.c_str(),
                gpu->device ? ("engines built and run on " + gpu->device->name()).c_str()
                            : ("lowering only, for " + o.target_arch + " without a GPU: PASS means every node has a kernel").c_str(),
                gpu->min_rtol, gpu->min_atol, o.backend.c_str());
  if (!fs::is_directory(o.data_dir))
    return report(invalid_argument("no test data in '" + o.data_dir +
                                   "' (generate it with tests/conformance/gen_node_tests.py, or run make test)"));
  std::vector<fs::path> cases;
  std::regex filter(o.filter.empty() ? ".*" : o.filter);
  for (const auto& e : fs::directory_iterator(o.data_dir))
    if (e.is_directory() && std::regex_search(e.path().filename().string(), filter)) cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());
  std::vector<TestResult> results;
  int passed = 0, failed = 0, skipped = 0;
  auto start = std::chrono::steady_clock::now();
  if (gpu) std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a crash on the GPU still leaves the lines before it
  for (const auto& dir : cases) {
    TestResult r;
    try {
      r = run_case(dir, gpu.get());
    } catch (const std::exception& e) {
      r = {dir.filename().string(), Outcome::kFail, std::string("uncaught exception: ") + e.what(), 0};
    }
    // After a failure on the GPU, check that the device still works: a kernel fault poisons the
    // CUDA context and would fail every later test for no reason of their own.
    if (gpu && gpu->device && r.outcome == Outcome::kFail) {
      Status probe = Status::ok();
      auto p = gpu->device->allocate(256);
      if (!p.is_ok()) probe = p.status();
      else {
        probe = gpu->device->memset_zero(p.value(), 256, nullptr);
        if (probe.is_ok()) probe = gpu->device->synchronize(nullptr);
        gpu->device->free(p.value());
      }
      if (!probe.is_ok()) {
        std::printf("FAIL %s: %s\n", r.name.c_str(), r.detail.c_str());
        return report(internal_error("the GPU is unusable after " + r.name + " (" + probe.message() +
                                     "); stopping: later results would be meaningless"));
      }
    }
    const char* tag = r.outcome == Outcome::kPass ? "PASS" : r.outcome == Outcome::kFail ? "FAIL" : "UNSUPPORTED";
    (r.outcome == Outcome::kPass ? passed : r.outcome == Outcome::kFail ? failed : skipped)++;
    if (!o.quiet || r.outcome == Outcome::kFail) {
      if (r.outcome == Outcome::kPass) std::printf("PASS %s (max abs error %.3g)\n", r.name.c_str(), r.max_abs_error);
      else std::printf("%s %s: %s\n", tag, r.name.c_str(), r.detail.c_str());
    }
    results.push_back(std::move(r));
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int code = 0;
  if (!o.expect_path.empty()) {
    std::ifstream in(o.expect_path);
    if (!in) return report(io_error("cannot read '" + o.expect_path + "'"));
    std::set<std::string> expected;
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && line[0] != '#') expected.insert(line);
    int regressions = 0, new_passes = 0;
    for (const auto& r : results) {
      bool want = expected.count(r.name) != 0;
      if (want && r.outcome != Outcome::kPass) {
        std::printf("REGRESSION %s: expected to pass\n", r.name.c_str());
        ++regressions;
      } else if (!want && r.outcome == Outcome::kPass) {
        ++new_passes;
      }
    }
    if (new_passes) std::printf("%d tests pass that %s does not list yet\n", new_passes, o.expect_path.c_str());
    if (regressions) code = 1;
  }
  if (!o.write_expected_path.empty()) {
    std::ofstream out(o.write_expected_path);
    if (o.backend == "cpu") out << "# ONNX node tests the CPU backend passes; make test fails when one of them stops passing.\n";
    else if (gpu && !gpu->device)
      out << "# ONNX node tests whose every node lowers to a " << o.backend << " kernel (" << o.target_arch
          << ", no GPU); ctest conformance_cuda_lowering fails when one of them stops lowering.\n";
    else out << "# ONNX node tests the " << o.backend << " backend passes.\n";
    for (const auto& r : results)
      if (r.outcome == Outcome::kPass) out << r.name << "\n";
  }
  if (!o.json_path.empty()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& r : results)
      j.push_back({{"name", r.name},
                   {"result", r.outcome == Outcome::kPass ? "pass" : r.outcome == Outcome::kFail ? "fail" : "unsupported"},
                   {"detail", r.detail},
                   {"max_abs_error", r.max_abs_error}});
    std::ofstream(o.json_path) << j.dump(1) << "\n";
  }
  std::printf("conformance (%s, %.1f s): %.1f%% of %zu pass\n", o.backend.c_str(), secs,
              cases.empty() ? 0.0 : 100.0 * passed / cases.size(), cases.size());
  std::printf("%d passed, %d failed, %d %s\n", passed, failed, skipped,
              gpu ? ("unsupported on " + o.backend).c_str() : "skipped");
  return code;
}

}  // namespace

void add_conformance_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("conformance", "Run the ONNX backend node tests");
  auto o = std::make_shared<ConformanceOptions>();
  cmd->add_option("--backend", o->backend, "backend to test: cpu, or cuda (engines built in-process and run on the GPU)");
  cmd->add_option("--target-arch", o->target_arch,
                  "with --backend cuda: only lower each test's model for this architecture (e.g. sm_90), no GPU needed");
  cmd->add_option("--data-dir", o->data_dir, "folder of node tests (one folder per test)");
  cmd->add_option("--json", o->json_path, "write the results as JSON to this file");
  cmd->add_option("--filter", o->filter, "run only tests whose name matches this regex");
  cmd->add_option("--expect", o->expect_path, "fail if a test listed in this file does not pass");
  cmd->add_option("--write-expected", o->write_expected_path, "write the passing tests to this file");
  cmd->add_flag("--engine", o->engine, "with --backend cpu: build and run an engine per test (the GPU backends' path) "
                                       "instead of the interpreter");
  cmd->add_flag("--quiet", o->quiet, "print only failures and the summary");
  cmd->callback([o, &exit_code] { exit_code = conformance(*o); });
}

}  // namespace kiln::cli
