#include "passes/fp16_overflow.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <new>
#include <unordered_map>

#include "backends/cpu/interpreter.h"
#include "io/random_inputs.h"
#include "ops/kernel_context.h"
#include "ops/registry.h"

namespace kiln::passes {
namespace {

bool is_f32(const ir::Value* v) {
  return v && v->type().kind == ir::ValueKind::kTensor && v->type().dtype == DataType::kFloat32;
}

ValueRange range_of(const Tensor& t) {
  ValueRange r;
  const float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    float a = std::fabs(p[i]);
    if (!std::isfinite(a)) r.nonfinite = true;
    else if (a > r.max_abs) r.max_abs = a;
  }
  return r;
}

void merge(ValueRange& into, const ValueRange& r) {
  into.max_abs = std::max(into.max_abs, r.max_abs);
  into.nonfinite |= r.nonfinite;
}

std::string fmt(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", x);
  return buf;
}

double numel_of(const ir::Value* v) {
  if (!v || !v->type().has_static_shape()) return 0;
  double n = 1;
  for (int64_t d : v->type().shape->static_dims()) n *= static_cast<double>(d);
  return n;
}

}  // namespace

Result<RangeScan> scan_value_ranges(const ir::Graph& g, const std::map<std::string, RuntimeValue>& inputs,
                                    double time_budget_s) {
  if (!g.subgraphs().empty()) return unsupported("graphs with subgraphs are not scanned");
  const auto start = std::chrono::steady_clock::now();
  auto elapsed_s = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  const auto& registry = ops::OpRegistry::global();
  const auto& nodes = g.nodes();
  std::vector<int> versions(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    KILN_ASSIGN_OR_RETURN(versions[i], registry.resolve(*nodes[i], g.opset(nodes[i]->domain())));
    const ops::OpSchema* schema = registry.find(nodes[i]->domain(), nodes[i]->op_type());
    if (!schema || !schema->cpu) return unsupported(nodes[i]->describe() + " has no CPU reference kernel");
  }

  RangeScan scan;
  scan.nodes_total = nodes.size();
  std::unordered_map<const ir::Value*, RuntimeValue> values;
  std::map<std::string, int64_t> symbols;
  for (const ir::Value* in : g.inputs()) {
    auto it = inputs.find(in->name());
    if (it == inputs.end()) return invalid_argument("no sample value for input '" + in->name() + "'");
    KILN_RETURN_IF_ERROR(cpu::check_input(*in, it->second, symbols));
    values[in] = it->second;
    if (is_f32(in) && it->second.is_tensor()) scan.ranges[in->name()] = range_of(it->second.tensor());
  }
  std::unordered_map<const ir::Value*, size_t> last_use;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const ir::Value* v : nodes[i]->inputs())
      if (v) last_use[v] = i;
  ops::SubgraphRunner no_subgraphs = [](const ir::Graph&, const std::vector<RuntimeValue>&) -> std::vector<RuntimeValue> {
    throw_error(StatusCode::kUnsupported, "subgraphs are not scanned");
  };

  try {
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (elapsed_s() > time_budget_s) break;
      const ir::Node& node = *nodes[i];
      std::vector<RuntimeValue> constants;  // keeps constant inputs alive for this node
      constants.reserve(node.num_inputs());
      std::vector<const RuntimeValue*> node_inputs;
      for (const ir::Value* v : node.inputs()) {
        if (!v) {
          node_inputs.push_back(nullptr);
          continue;
        }
        auto it = values.find(v);
        if (it != values.end()) {
          node_inputs.push_back(&it->second);
        } else if (v->is_constant()) {
          constants.emplace_back(v->constant());
          node_inputs.push_back(&constants.back());
        } else {
          return invalid_model(node.describe() + " reads '" + v->name() + "', which has no value");
        }
      }
      const ops::OpSchema* schema = registry.find(node.domain(), node.op_type());
      ops::KernelContext ctx(node, versions[i], std::move(node_inputs), no_subgraphs);
      try {
        schema->cpu(ctx);
      } catch (const Error& e) {
        return Status(e.code(), node.describe() + ": " + e.what());
      }
      for (size_t o = 0; o < node.num_outputs(); ++o) {
        const ir::Value* out = node.output(o);
        if (!out) continue;
        RuntimeValue& r = ctx.outputs()[o];
        if (is_f32(out) && r.is_tensor() && r.tensor().dtype() == DataType::kFloat32)
          merge(scan.ranges[out->name()], range_of(r.tensor()));
        values[out] = std::move(r);
      }
      for (const ir::Value* v : node.inputs())
        if (v && last_use[v] == i) values.erase(v);
      scan.nodes_run = i + 1;
    }
  } catch (const Error& e) {
    return e.to_status();
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "out of host memory");
  }
  scan.complete = scan.nodes_run == scan.nodes_total;
  scan.ms = elapsed_s() * 1e3;
  return scan;
}

double estimate_gflop(const ir::Graph& g) {
  double flops = 0;
  for (const auto& n : g.nodes()) {
    const std::string& op = n->op_type();
    double out = numel_of(n->output(0));
    const ir::Value* w = n->input(1);
    if (op.find("Conv") != std::string::npos && w && w->type().has_static_shape() && w->type().shape->rank() >= 2) {
      auto dims = w->type().shape->static_dims();
      double per_output = dims[0] > 0 ? numel_of(w) / static_cast<double>(dims[0]) : 0;
      if (op.find("ConvTranspose") != std::string::npos) per_output = numel_of(w) / std::max<int64_t>(dims[1], 1);
      flops += 2 * out * per_output;
      continue;
    }
    const ir::Value* a = n->input(0);
    if ((op.find("MatMul") != std::string::npos || op.find("Gemm") != std::string::npos) && a &&
        a->type().has_static_shape() && a->type().shape->rank() >= 1) {
      auto dims = a->type().shape->static_dims();
      int64_t k = dims.back();
      if (op == "Gemm" && n->attrs().get_int("transA", 0) && dims.size() == 2) k = dims[0];
      flops += 2 * out * static_cast<double>(k);
      continue;
    }
    for (const ir::Value* v : n->inputs()) flops += numel_of(v);
    for (const ir::Value* v : n->outputs()) flops += numel_of(v);
  }
  return flops / 1e9;
}

std::vector<OverflowNode> out_of_range_nodes(const ir::Graph& g, const RangeScan& scan, double threshold,
                                             size_t* unmatched) {
  auto hot = [&](const ir::Value* v) -> const ValueRange* {
    if (!is_f32(v) || v->is_constant()) return nullptr;
    auto it = scan.ranges.find(v->name());
    if (it == scan.ranges.end()) return nullptr;
    return it->second.nonfinite || it->second.max_abs > threshold ? &it->second : nullptr;
  };
  auto what = [](const ValueRange& r) {
    if (r.nonfinite) return std::string("holds inf/nan in float32");
    return "max |value| " + fmt(r.max_abs) + " exceeds float16's range";
  };
  size_t missing = 0;
  std::vector<OverflowNode> result;
  for (const auto& n : g.nodes()) {
    std::string why;
    for (const ir::Value* v : n->outputs()) {
      if (is_f32(v) && !scan.ranges.count(v->name())) ++missing;
      if (const ValueRange* r = hot(v); r && why.empty())
        why = n->num_outputs() == 1 ? what(*r) : "output '" + v->name() + "' " + what(*r);
    }
    for (const ir::Value* v : n->inputs())
      if (const ValueRange* r = hot(v); r && why.empty()) why = "reads '" + v->name() + "', which " + what(*r);
    if (why.empty()) continue;
    std::string name = n->name().empty() && n->output(0) ? n->output(0)->name() : n->name();
    result.push_back({n.get(), "layer '" + name + "' (" + n->op_type() + ") keeps float32: " + why});
  }
  if (unmatched) *unmatched = missing;
  return result;
}

std::unique_ptr<ir::Graph> clone_graph(const ir::Graph& g) {
  auto copy = std::make_unique<ir::Graph>(g.name());
  for (const auto& [domain, version] : g.opsets()) copy->set_opset(domain, version);
  std::unordered_map<const ir::Value*, ir::Value*> map;
  for (const auto& v : g.values()) {
    ir::Value* c = copy->add_value(v->name(), v->type());
    if (v->is_constant()) c->set_constant(v->constant_ptr());
    map[v.get()] = c;
  }
  auto mapped = [&](const ir::Value* v) -> ir::Value* {
    if (!v) return nullptr;
    auto it = map.find(v);
    KILN_CHECK(it != map.end(), "clone_graph: value '" + v->name() + "' is not of this graph");
    return it->second;
  };
  for (const auto& n : g.nodes()) {
    std::vector<ir::Value*> ins, outs;
    for (const ir::Value* v : n->inputs()) ins.push_back(mapped(v));
    for (const ir::Value* v : n->outputs()) outs.push_back(mapped(v));
    ir::Node* c = copy->add_node(n->op_type(), ins, outs, n->name(), n->domain());
    c->attrs() = n->attrs();
    c->fused_from() = n->fused_from();
  }
  for (const ir::Value* v : g.inputs()) copy->inputs().push_back(mapped(v));
  for (const ir::Value* v : g.outputs()) copy->outputs().push_back(mapped(v));
  return copy;
}

OverflowCheckResult check_fp16_overflow(const ir::Graph& g, const ir::Graph* probe, const OverflowCheckOptions& o) {
  OverflowCheckResult result;
  auto log = [&](const std::string& m) {
    if (o.log) o.log(m);
  };
  auto skip = [&](const std::string& why) {
    result.summary = "fp16 overflow check skipped: " + why;
    log(result.summary);
    return result;
  };
  if (!g.subgraphs().empty()) return skip("the model has subgraphs");
  const ir::Graph* scanned = probe && o.sample_inputs.empty() ? probe : &g;
  double gflop = estimate_gflop(*scanned);
  if (gflop > o.max_gflop && scanned != &g) return skip("~" + fmt(gflop) + " GFLOP even at the smallest --shape dims");
  if (gflop > o.max_gflop)
    return skip("~" + fmt(gflop) + " GFLOP is too much for the CPU reference (limit " + fmt(o.max_gflop) +
                "); bind smaller dims or pass --no-overflow-check to silence this");
  // Random values for the inputs the caller gave none for.
  std::map<std::string, RuntimeValue> inputs = o.sample_inputs;
  auto random = io::random_inputs(*scanned, o.seed);
  if (!random.is_ok()) return skip("no sample inputs: " + random.status().message());
  for (auto& [name, value] : random.value()) inputs.emplace(name, std::move(value));
  auto scan = scan_value_ranges(*scanned, inputs, o.time_budget_s);
  if (!scan.is_ok()) {
    // The user's own inputs not fitting deserves more than a log line.
    if (!o.sample_inputs.empty() && o.warn) o.warn("fp16 overflow check skipped: " + scan.status().message());
    return skip(scan.status().message());
  }
  size_t unmatched = 0;
  auto hot = out_of_range_nodes(g, scan.value(), o.threshold, &unmatched);
  // One warning per layer up to a point; the rest go to the log (kiln build -v).
  constexpr size_t kMaxWarnings = 10;
  for (size_t i = 0; i < hot.size(); ++i) {
    result.keep.insert(hot[i].node);
    if (i < kMaxWarnings) {
      if (o.warn) o.warn(hot[i].message);
    } else {
      log(hot[i].message);
    }
  }
  if (hot.size() > kMaxWarnings && o.warn)
    o.warn(std::to_string(hot.size() - kMaxWarnings) + " more layers keep float32 for the same reason (--verbose lists them)");
  result.ran = true;
  const RangeScan& s = scan.value();
  result.summary = "fp16 overflow check: " + std::to_string(s.nodes_run) + "/" + std::to_string(s.nodes_total) +
                   " nodes run on the CPU reference" + (scanned == &g ? "" : " (at the smallest --shape dims)") +
                   " in " + fmt(s.ms) + " ms (~" + fmt(gflop) + " GFLOP), " + std::to_string(result.keep.size()) +
                   " layers keep float32";
  if (!s.complete) result.summary += "; stopped at the " + fmt(o.time_budget_s) + " s budget, later layers unchecked";
  if (unmatched) result.summary += "; " + std::to_string(unmatched) + " values unmeasured";
  log(result.summary);
  return result;
}

}  // namespace kiln::passes
