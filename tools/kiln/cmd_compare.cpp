// kiln compare model.onnx model.kiln: runs the model on the CPU reference and the engine on its
// backend with the same inputs and compares every output. Inputs are made (or read) in the
// engine's binding form and converted to the model's for the reference (float16/bfloat16
// widened, channels-last transposed back: runtime/io_format.h), so both see the same values;
// the engine's outputs are widened to the model's dtype before the comparison.
#include <cstdio>
#include <map>

#include "backends/cpu/interpreter.h"
#include "commands.h"
#include "io/compare.h"
#include "onnx/importer.h"
#include "runtime/engine.h"
#include "runtime/execution_context.h"
#include "runtime/io_format.h"

namespace kiln::cli {
namespace {

struct CompareOptions {
  std::string model, engine;
  std::vector<std::string> inputs;
  double rtol = 1e-4, atol = 1e-5;
  uint64_t seed = 1;
};

const ir::Value* find_named(const std::vector<ir::Value*>& values, const std::string& name) {
  for (const ir::Value* v : values)
    if (v->name() == name) return v;
  return nullptr;
}

// The engine's inputs in the model's form, for the CPU reference.
Result<std::map<std::string, RuntimeValue>> reference_inputs(const runtime::Engine& engine, const ir::Graph& model,
                                                             const std::map<std::string, Tensor>& inputs) {
  std::map<std::string, RuntimeValue> out;
  for (const auto& b : engine.inputs()) {
    const ir::Value* m = find_named(model.inputs(), b.name);
    if (!m) return invalid_argument("the engine's input '" + b.name + "' is not an input of the model");
    KILN_ASSIGN_OR_RETURN(Tensor t, runtime::to_model_form(inputs.at(b.name), b, m->type().dtype));
    out[b.name] = RuntimeValue(std::move(t));
  }
  return out;
}

// Classifier logits ([N, C] floats): how many rows pick the same class.
void print_top1(const std::string& name, const RuntimeValue& rv, const Tensor& gt) {
  if (!rv.is_tensor() || !is_float(gt.dtype()) || gt.rank() != 2 || gt.dim(1) <= 1 || rv.tensor().dims() != gt.dims())
    return;
  auto a = rv.tensor().to_f64(), b = gt.to_f64();
  const int64_t rows = gt.dim(0), cols = gt.dim(1);
  int64_t agree = 0;
  for (int64_t row = 0; row < rows; ++row) {
    auto arg = [&](const std::vector<double>& v) {
      int64_t best = 0;
      for (int64_t k = 1; k < cols; ++k)
        if (v[static_cast<size_t>(row * cols + k)] > v[static_cast<size_t>(row * cols + best)]) best = k;
      return best;
    };
    agree += arg(a) == arg(b);
  }
  std::printf("  %-28s top-1 agreement %lld/%lld\n", name.c_str(), static_cast<long long>(agree),
              static_cast<long long>(rows));
}

int compare(const CompareOptions& o) {
  auto model = importer::import_model_file(o.model);
  if (!model.is_ok()) return report(model.status());
  auto interp = cpu::Interpreter::create(model->graph);
  if (!interp.is_ok()) return report(interp.status());
  auto engine = runtime::Engine::load(o.engine);
  if (!engine.is_ok()) return report(engine.status());
  auto inputs = engine_inputs(*engine.value(), o.inputs, o.seed);
  if (!inputs.is_ok()) return report(inputs.status());
  auto ref_inputs = reference_inputs(*engine.value(), *model->graph, inputs.value());
  if (!ref_inputs.is_ok()) return report(ref_inputs.status());
  auto ref = (*interp)->run(ref_inputs.value());
  if (!ref.is_ok()) return report(ref.status().with_context("running the model on the CPU reference"));
  auto ctx = engine.value()->create_context();
  if (!ctx.is_ok()) return report(ctx.status());
  auto got = ctx.value()->run(inputs.value());
  if (!got.is_ok()) return report(got.status().with_context("running the engine"));

  std::printf("comparing %s (CPU reference) with %s (%s), rtol %g atol %g\n", o.model.c_str(), o.engine.c_str(),
              engine.value()->desc().target.backend.c_str(), o.rtol, o.atol);
  std::printf("  %-28s %-22s %12s %12s  %s\n", "output", "type", "max abs err", "max rel err", "result");
  bool all_ok = true;
  const auto& ref_outputs = model->graph->outputs();
  const auto& bindings = engine.value()->outputs();
  for (size_t i = 0; i < bindings.size(); ++i) {
    size_t r = 0;
    while (r < ref_outputs.size() && ref_outputs[r]->name() != bindings[i].name) ++r;
    if (r == ref_outputs.size()) {
      std::printf("  %-28s the model has no such output  FAIL\n", bindings[i].name.c_str());
      all_ok = false;
      continue;
    }
    // A float16/bfloat16 output binding is compared in the model's dtype.
    auto widened = runtime::to_model_form(got.value()[i], bindings[i], ref_outputs[r]->type().dtype);
    if (!widened.is_ok()) return report(widened.status());
    const Tensor& gt = widened.value();
    io::Comparison c = io::compare_values(ref.value()[r], RuntimeValue(gt), o.rtol, o.atol);
    all_ok &= c.ok;
    std::printf("  %-28s %-22s %12.4g %12.4g  %s\n", bindings[i].name.c_str(), got.value()[i].describe().c_str(),
                c.max_abs_error, c.max_rel_error, c.ok ? "PASS" : "FAIL");
    if (!c.ok && !c.message.empty()) std::printf("    %s\n", c.message.c_str());
    print_top1(bindings[i].name, ref.value()[r], gt);
  }
  if (bindings.size() != ref_outputs.size()) {
    std::printf("  the model has %zu outputs, the engine %zu  FAIL\n", ref_outputs.size(), bindings.size());
    all_ok = false;
  }
  std::printf("%s\n", all_ok ? "PASS" : "FAIL");
  return all_ok ? 0 : 1;
}

}  // namespace

void add_compare_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("compare", "Run a model (CPU reference) and its engine on the same inputs and "
                                            "compare every output");
  auto o = std::make_shared<CompareOptions>();
  cmd->add_option("model", o->model, "model.onnx")->required();
  cmd->add_option("engine", o->engine, "model.kiln")->required();
  cmd->add_option("--input", o->inputs,
                  "an input as name=file.npy in the engine's binding form (repeatable); the rest are random");
  cmd->add_option("--rtol", o->rtol, "relative tolerance")->capture_default_str();
  cmd->add_option("--atol", o->atol, "absolute tolerance")->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed for random inputs")->capture_default_str();
  cmd->callback([o, &exit_code] { exit_code = compare(*o); });
}

}  // namespace kiln::cli
