#include "engine_case.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "backends/cpu/interpreter.h"
#include "io/random_inputs.h"
#include "ops/shape_inference.h"
#include "runtime/builder.h"
#include "runtime/execution_context.h"

namespace kiln::gpu_test {

CaseInput random_input(DataType dt, std::vector<int64_t> dims) { return CaseInput{dt, std::move(dims), std::nullopt, false, false}; }
CaseInput given_input(Tensor value) {
  CaseInput in{value.dtype(), value.dims(), std::nullopt, false, false};
  in.value = std::move(value);
  return in;
}
CaseInput constant_input(Tensor value) {
  CaseInput in = given_input(std::move(value));
  in.constant = true;
  return in;
}

namespace {

// `declared`: output types to declare (the reference's), as a model file declares them; needed
// where shape inference cannot know an output shape (axes or pads from runtime inputs).
std::shared_ptr<ir::Graph> make_graph(const EngineCase& c, const std::vector<RuntimeValue>* declared = nullptr) {
  auto g = std::make_shared<ir::Graph>("case");
  g->set_opset("", c.opset);
  std::vector<ir::Value*> ins;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const CaseInput& in = c.inputs[i];
    if (in.omitted) {
      ins.push_back(nullptr);
    } else if (in.constant) {
      ins.push_back(g->add_constant("c" + std::to_string(i), *in.value));
    } else {
      ir::Value* v = g->add_value("x" + std::to_string(i), ir::ValueType::tensor(in.dtype, Shape::from_dims(in.dims)));
      g->inputs().push_back(v);
      ins.push_back(v);
    }
  }
  std::vector<ir::Value*> outs;
  for (size_t i = 0; i < c.num_outputs; ++i) {
    ir::ValueType type = ir::ValueType::unknown();
    if (declared && i < declared->size() && (*declared)[i].is_tensor())
      type = ir::ValueType::tensor((*declared)[i].tensor().dtype(), Shape::from_dims((*declared)[i].tensor().dims()));
    outs.push_back(g->add_value("y" + std::to_string(i), type));
  }
  ir::Node* node = g->add_node(c.op_type, ins, outs, "node");
  if (c.set_attrs) c.set_attrs(*node);
  for (ir::Value* o : outs) g->outputs().push_back(o);
  Status st = ops::infer_shapes(*g);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return g;
}

}  // namespace

void run_engine_case(const EngineCase& c) {
  SCOPED_TRACE(c.name);
  auto ref_graph = make_graph(c);

  // Inputs: given values, the rest random.
  auto random = io::random_inputs(*ref_graph, std::hash<std::string>{}(c.name));
  ASSERT_TRUE(random.is_ok()) << random.status().to_string();
  std::map<std::string, RuntimeValue> ref_inputs = *random;
  std::map<std::string, Tensor> engine_inputs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const CaseInput& in = c.inputs[i];
    if (in.omitted || in.constant) continue;
    std::string name = "x" + std::to_string(i);
    if (in.value) ref_inputs[name] = RuntimeValue(*in.value);
    engine_inputs[name] = ref_inputs.at(name).tensor();
  }
  auto interp = cpu::Interpreter::create(ref_graph);
  ASSERT_TRUE(interp.is_ok()) << interp.status().to_string();
  auto expected = (*interp)->run(ref_inputs);
  ASSERT_TRUE(expected.is_ok()) << expected.status().to_string();

  ir::Model model;
  model.graph = make_graph(c, &*expected);
  for (const ir::Value* o : model.graph->outputs())
    ASSERT_TRUE(o->type().has_static_shape()) << "output " << o->name() << " is " << o->type().to_string();
  runtime::BuilderConfig config;
  config.backend = runtime::Backend::kCuda;
  // KILN_GPU_TESTS_LOWER_ONLY=1: check only that the node lowers to the expected tactic (for
  // sm_90, no GPU needed), e.g. on a machine without a GPU.
  if (const char* lower_only = std::getenv("KILN_GPU_TESTS_LOWER_ONLY"); lower_only && *lower_only == '1') {
    auto target = runtime::target_for_arch(runtime::Backend::kCuda, "sm_90");
    ASSERT_TRUE(target.is_ok()) << target.status().to_string();
    auto desc = runtime::Builder::build_desc(model, config, *target);
    ASSERT_TRUE(desc.is_ok()) << desc.status().to_string();
    std::string chosen;
    for (const auto& layer : desc->layers) chosen += layer.tactic + " ";
    EXPECT_TRUE(c.tactic.empty() || chosen.find(c.tactic + " ") != std::string::npos)
        << "expected tactic " << c.tactic << ", the engine has: " << chosen;
    return;
  }
  auto engine = runtime::Builder::build(model, config);
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
  if (!c.tactic.empty()) {
    bool found = false;
    std::string chosen;
    for (const auto& layer : (*engine)->desc().layers) {
      chosen += layer.tactic + " ";
      found |= layer.tactic == c.tactic;
    }
    EXPECT_TRUE(found) << "expected tactic " << c.tactic << ", the engine has: " << chosen;
  }
  auto ctx = (*engine)->create_context();
  ASSERT_TRUE(ctx.is_ok()) << ctx.status().to_string();
  auto got = (*ctx)->run(engine_inputs);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  const auto& bindings = (*engine)->outputs();
  ASSERT_EQ(bindings.size(), c.num_outputs);
  for (size_t b = 0; b < bindings.size(); ++b) {
    size_t r = 0;
    while (r < ref_graph->outputs().size() && ref_graph->outputs()[r]->name() != bindings[b].name) ++r;
    ASSERT_LT(r, ref_graph->outputs().size()) << "no reference output " << bindings[b].name;
    const Tensor& ref = (*expected)[r].tensor();
    const Tensor& out = (*got)[b];
    ASSERT_EQ(out.dtype(), ref.dtype()) << bindings[b].name;
    ASSERT_EQ(out.dims(), ref.dims()) << bindings[b].name;
    auto a = out.to_f64(), e = ref.to_f64();
    double scale = 1e-6, worst = 0;
    for (double v : e)
      if (std::isfinite(v)) scale = std::max(scale, std::fabs(v));
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::isnan(e[i]) || std::isinf(e[i])) {
        EXPECT_TRUE(std::isnan(e[i]) ? std::isnan(a[i]) : a[i] == e[i])
            << bindings[b].name << " element " << i << ": got " << a[i] << ", reference " << e[i];
        continue;
      }
      ASSERT_FALSE(std::isnan(a[i])) << bindings[b].name << " element " << i << " is NaN (not written?)";
      worst = std::max(worst, std::fabs(a[i] - e[i]) / scale);
    }
    EXPECT_LE(worst, c.tolerance) << bindings[b].name << ": max error relative to max|ref| " << worst;
  }
}

}  // namespace kiln::gpu_test
