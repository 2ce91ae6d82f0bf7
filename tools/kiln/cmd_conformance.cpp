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
  bool quiet = false;
};

enum class Outcome { kPass, kFail, kUnsupported };

struct TestResult {
  std::string name;
  Outcome outcome;
  std::string detail;
  double max_abs_error = 0;
};

TestResult run_case(const fs::path& dir) {
  TestResult r{dir.filename().string(), Outcome::kFail, "", 0};
  double rtol = 1e-3, atol = 1e-7;
  if (std::ifstream tol(dir / "tolerance.json"); tol) {
    auto j = nlohmann::json::parse(tol, nullptr, false);
    if (j.is_object()) {
      rtol = j.value("rtol", rtol);
      atol = j.value("atol", atol);
    }
  }
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
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
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
      fs::path p = set / ("output_" + std::to_string(i) + ".pb");
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
  if (o.backend != "cpu")
    return report(unsupported("conformance --backend " + o.backend + " is not available yet; only 'cpu' is"));
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
  for (const auto& dir : cases) {
    TestResult r;
    try {
      r = run_case(dir);
    } catch (const std::exception& e) {
      r = {dir.filename().string(), Outcome::kFail, std::string("uncaught exception: ") + e.what(), 0};
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
    out << "# ONNX node tests the CPU backend passes; make test fails when one of them stops passing.\n";
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
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return code;
}

}  // namespace

void add_conformance_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("conformance", "Run the ONNX backend node tests");
  auto o = std::make_shared<ConformanceOptions>();
  cmd->add_option("--backend", o->backend, "backend to test (cpu)");
  cmd->add_option("--data-dir", o->data_dir, "folder of node tests (one folder per test)");
  cmd->add_option("--json", o->json_path, "write the results as JSON to this file");
  cmd->add_option("--filter", o->filter, "run only tests whose name matches this regex");
  cmd->add_option("--expect", o->expect_path, "fail if a test listed in this file does not pass");
  cmd->add_option("--write-expected", o->write_expected_path, "write the passing tests to this file");
  cmd->add_flag("--quiet", o->quiet, "print only failures and the summary");
  cmd->callback([o, &exit_code] { exit_code = conformance(*o); });
}

}  // namespace kiln::cli
