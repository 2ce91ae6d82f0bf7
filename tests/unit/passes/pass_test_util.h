// Pass tests: build a small model, import it twice (the copy to optimize and the reference),
// run the optimizer with chosen passes, then run both graphs on the CPU interpreter with the
// same random inputs and compare every output.
#pragma once
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "io/compare.h"
#include "io/random_inputs.h"
#include "passes/pass.h"
#include "passes/pass_manager.h"
#include "unit/onnx/model_builder.h"

namespace kiln::testing {

// A float32 initializer with random values in [lo, hi) (seeded by name).
inline void add_initializer(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
                            float lo = -1.0f, float hi = 1.0f) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  int64_t n = 1;
  for (int64_t d : dims) {
    t->add_dims(d);
    n *= d;
  }
  std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>{}(name)));
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < n; ++i) t->add_float_data(dist(rng));
}

inline void add_initializer_values(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
                                   const std::vector<float>& values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  for (float v : values) t->add_float_data(v);
}

inline void add_initializer_i64(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
                                const std::vector<int64_t>& values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : dims) t->add_dims(d);
  for (int64_t v : values) t->add_int64_data(v);
}

inline void float_input(onnx::ModelProto& m, const std::string& name, const std::vector<int64_t>& dims) {
  tensor_info(m.mutable_graph()->mutable_input(), name, onnx::TensorProto::FLOAT, dims);
}
inline void float_output(onnx::ModelProto& m, const std::string& name) {
  tensor_info(m.mutable_graph()->mutable_output(), name, onnx::TensorProto::FLOAT, {}, false);
}

// "Conv" for ai.onnx ops, "kiln::FusedConv" for others, per node in graph order.
inline std::vector<std::string> op_types(const ir::Graph& g) {
  std::vector<std::string> ops;
  for (const auto& n : g.nodes()) ops.push_back(n->domain().empty() ? n->op_type() : n->domain() + "::" + n->op_type());
  return ops;
}

inline int count_op(const ir::Graph& g, const std::string& op) {
  int c = 0;
  for (const auto& s : op_types(g)) c += s == op;
  return c;
}

// Disables every pass except those named.
inline passes::PassOptions only_passes(const std::vector<std::string>& keep) {
  passes::PassOptions o;
  for (const std::string& name : passes::pass_names())
    if (std::find(keep.begin(), keep.end(), name) == keep.end()) o.disabled.push_back(name);
  return o;
}

struct Optimized {
  ir::Model before, after;
  std::vector<std::string> log;
};

// Imports `m` twice, optimizes one copy with `options`, runs both on the same random inputs
// and expects every output to agree within rtol (fp32: 1e-4). Returns both graphs.
inline Optimized optimize_and_compare(const onnx::ModelProto& m, passes::PassOptions options = {},
                                      double rtol = 1e-4, double atol = 1e-5) {
  Optimized r;
  auto before = import(m);
  EXPECT_TRUE(before.is_ok()) << before.status().to_string();
  auto after = import(m);
  EXPECT_TRUE(after.is_ok()) << after.status().to_string();
  if (!before.is_ok() || !after.is_ok()) return r;
  r.before = std::move(before.value());
  r.after = std::move(after.value());
  options.log = [&r](const std::string& line) { r.log.push_back(line); };
  Status s = passes::optimize(*r.after.graph, options);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  if (!s.is_ok()) return r;
  auto inputs = io::random_inputs(*r.before.graph, 1234);
  EXPECT_TRUE(inputs.is_ok()) << inputs.status().to_string();
  auto ref = cpu::Interpreter::create(r.before.graph);
  auto opt = cpu::Interpreter::create(r.after.graph);
  EXPECT_TRUE(ref.is_ok()) << ref.status().to_string();
  EXPECT_TRUE(opt.is_ok()) << opt.status().to_string();
  if (!inputs.is_ok() || !ref.is_ok() || !opt.is_ok()) return r;
  auto want = ref.value()->run(inputs.value());
  auto got = opt.value()->run(inputs.value());
  EXPECT_TRUE(want.is_ok()) << want.status().to_string();
  EXPECT_TRUE(got.is_ok()) << got.status().to_string();
  if (!want.is_ok() || !got.is_ok()) return r;
  EXPECT_EQ(want.value().size(), got.value().size());
  for (size_t i = 0; i < want.value().size() && i < got.value().size(); ++i) {
    auto c = io::compare_values(want.value()[i], got.value()[i], rtol, atol);
    EXPECT_TRUE(c.ok) << "output " << i << ": " << c.message << " (max rel " << c.max_rel_error << ")";
  }
  // Graph output names are stable.
  for (size_t i = 0; i < r.before.graph->outputs().size(); ++i)
    EXPECT_EQ(r.before.graph->outputs()[i]->name(), r.after.graph->outputs()[i]->name());
  return r;
}

}  // namespace kiln::testing
