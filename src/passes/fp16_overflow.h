// FP16 overflow protection for --fp16 builds: before precision lowering, run the optimized
// float32 graph once on the CPU reference kernels with sample inputs, record each float32
// value's largest finite |x| (and whether inf/nan appears), and name the nodes that must stay
// float32 because they read or write a value beyond float16's range (with a safety margin).
// lower_precision(..., float32_nodes) then leaves those nodes as float32 islands.
//
// Cost control (the CPU reference is slow): the scan runs node by node, frees each value after
// its last reader, stops at a wall-clock budget (the nodes measured so far still count), and is
// skipped up front when the graph's estimated work exceeds max_gflop. Builds with --shape dims
// run the scan on a probe: a copy of the model made before the dims are bound, with every
// --shape dim bound to 1 and optimized the same way; its values are matched to the real
// graph's by name (magnitudes rarely depend on batch size).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace kiln::passes {

// Values above this magnitude are taken as float16 overflow (float16's largest is 65504; the
// margin leaves room for inputs larger than the sample's).
inline constexpr double kFloat16SafeMax = 32768.0;

struct ValueRange {
  double max_abs = 0;      // largest finite |x|
  bool nonfinite = false;  // inf or nan seen
};

struct RangeScan {
  std::map<std::string, ValueRange> ranges;  // float32 values by name (graph inputs included)
  size_t nodes_run = 0, nodes_total = 0;
  bool complete = false;  // false: the time budget ran out after nodes_run nodes
  double ms = 0;
};

// Runs g (no subgraphs) on the CPU reference kernels with `inputs` (by graph input name) and
// records the range of every float32 tensor value. Fails when a node has no CPU kernel or a
// kernel fails.
Result<RangeScan> scan_value_ranges(const ir::Graph& g, const std::map<std::string, RuntimeValue>& inputs,
                                    double time_budget_s);

// A rough operation count of g in GFLOP (convolutions and matrix products by their MACs, every
// other node by the elements it touches); values without static shapes count zero.
double estimate_gflop(const ir::Graph& g);

struct OverflowNode {
  const ir::Node* node;
  std::string message;  // "layer 'X' (Mul) keeps float32: ..."
};

// The nodes of g that read or write a float32 value whose scanned range exceeds `threshold`
// or holds inf/nan; values are looked up in scan.ranges by name (unmeasured ones count as in
// range). *unmatched (optional) gets the number of node outputs the scan has no range for.
std::vector<OverflowNode> out_of_range_nodes(const ir::Graph& g, const RangeScan& scan,
                                             double threshold = kFloat16SafeMax, size_t* unmatched = nullptr);

// A copy of g (values, constants shared, nodes, attributes, opsets); g must have no subgraphs.
std::unique_ptr<ir::Graph> clone_graph(const ir::Graph& g);

struct OverflowCheckOptions {
  std::map<std::string, RuntimeValue> sample_inputs;  // empty: seeded random inputs
  uint64_t seed = 20240611;
  double threshold = kFloat16SafeMax;
  double time_budget_s = 60;
  double max_gflop = 100;
  std::function<void(const std::string&)> log;   // informational (may be empty)
  std::function<void(const std::string&)> warn;  // one line per kept layer (may be empty)
};

struct OverflowCheckResult {
  std::set<const ir::Node*> keep;  // nodes of the checked graph to leave in float32
  bool ran = false;                // false: skipped (summary says why)
  std::string summary;             // one line for logs
};

// The whole check on the optimized graph g. probe (optional) is the reduced-size optimized copy
// described above; the scan runs on it when given (and sample_inputs is empty). Never fails the
// build for reasons of its own: a scan that cannot run is reported in summary with ran=false.
OverflowCheckResult check_fp16_overflow(const ir::Graph& g, const ir::Graph* probe, const OverflowCheckOptions& options);

}  // namespace kiln::passes
