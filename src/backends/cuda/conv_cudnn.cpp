// cuda.cudnn.conv: 2-D convolutions (groups, dilations, strides, asymmetric pads, bias) and
// kiln::FusedConv (bias + residual + activation) through the cuDNN graph API (cuDNN frontend
// headers). The whole epilogue goes into the cuDNN graph when cuDNN supports the fusion;
// otherwise the plan covers conv + bias and our epilogue kernel finishes the rest.
// The execution plan is built when the kernel is created (engine load). Tensors are NCHW, or
// channels-last (NHWC activations, KRSC weights) when the layout pass chose it (docs/LAYOUT.md):
// cuDNN's tensor-core kernels want channels-last.
//
// cuda.cudnn.conv_padded (preferred where it applies): the same convolution with 1 to 3 input
// channels, channels-last float16/bfloat16, group 1, constant weights, run on inputs padded to 4
// channels. A 3-channel pixel is 6 bytes, too narrow for cuDNN's 8/16-byte vector loads: the
// ResNet stem (7x7/2, 3 -> 64, batch 256) took 0.59 ms on the H100 as is and 0.40 ms with a
// zero fourth channel (bench/NOTES.md). The kernel keeps the weights padded [K,R,S,4] on the
// device and, per call, copies the input into the workspace as [N,H,W,4] (channel_pad.h) before
// cuDNN runs. Workspace: the padded input first (N*H*W*4*2 bytes, rounded up to 256), cuDNN's
// plan in the rest of the same 1 GiB bound cuda.cudnn.conv reports. Its stored plans carry a
// fingerprint of their own. `--disable-tactic cuda.cudnn.conv_padded` gives the plain form back.
#include <cudnn_frontend.h>

#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "backends/cuda/channel_pad.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_handles.h"
#include "backends/cuda/epilogue.h"
#include "backends/cuda/tactic_util.h"
#include "plan/checksum.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

namespace fe = cudnn_frontend;

// The most workspace one convolution may use; plans that need more are not considered.
constexpr size_t kMaxWorkspace = size_t{1} << 30;

// Fixed tensor uids, so that an execution plan restored from the engine file (which has no
// tensor objects) executes with the same variant pack.
constexpr int64_t kUidX = 1, kUidW = 2, kUidB = 3, kUidZ = 4, kUidY = 5;
// First byte of a serialized kernel: which graph form the plan computes.
constexpr uint8_t kStateFusedEpilogue = 1, kStatePostEpilogue = 2;
// A serialized kernel: that byte, the fingerprint of the convolution (8 bytes), then the plan.
constexpr size_t kStateHeader = 9;

struct ConvGeometry {
  int64_t n, c, h, w, k, r, s, oh, ow, groups;
  std::vector<int64_t> pad_begin, pad_end, stride, dilation;
  bool bias = false;
  bool residual = false;  // kiln::FusedConv's Z
  Epilogue epilogue;
  bool nhwc = false;  // every tensor channels-last (or layout-neutral)
  // The padded form (cuda.cudnn.conv_padded): the node's input channel count, `c` being the
  // padded count cuDNN sees; 0 for the plain form.
  int64_t padded_from = 0;
};

// Strides of packed [N,C,H,W] dims stored NCHW, or NHWC when channels_last.
std::vector<int64_t> packed_strides(const std::vector<int64_t>& d, bool channels_last) {
  if (channels_last) return {d[1] * d[2] * d[3], 1, d[3] * d[1], d[1]};
  return {d[1] * d[2] * d[3], d[2] * d[3], d[3], 1};
}

fe::DataType_t fe_type(DataType dt) {
  switch (dt) {
    case DataType::kFloat16: return fe::DataType_t::HALF;
    case DataType::kBFloat16: return fe::DataType_t::BFLOAT16;
    default: return fe::DataType_t::FLOAT;
  }
}

// Reads the node's geometry; false when the form is not one this tactic handles.
bool geometry(const ir::Node& n, ConvGeometry& g) {
  bool fused = n.domain() == "kiln" && n.op_type() == "FusedConv";
  if (!fused && (n.op_type() != "Conv" || !n.domain().empty())) return false;
  if (!all_static(n) || !n.input(0) || !n.input(1)) return false;
  auto x = dims_of(n.input(0)), wt = dims_of(n.input(1)), y = dims_of(n.output(0));
  if (x.size() != 4 || wt.size() != 4 || y.size() != 4) return false;
  DataType dt = dtype_of(n.output(0));
  if (!is_kernel_float(dt) || dtype_of(n.input(0)) != dt || dtype_of(n.input(1)) != dt) return false;
  g = {x[0], x[1], x[2], x[3], wt[0], wt[2], wt[3], y[2], y[3], n.attrs().get_int("group", 1), {}, {}, {}, {}, false, false, {}, false, 0};
  // Channels-last: X, W, Y (and Z) each stored NHWC or layout-neutral (the same bytes either way).
  g.nhwc = any_nhwc(n);
  if (g.nhwc)
    for (size_t i : {size_t{0}, size_t{1}, size_t{3}})
      if (const ir::Value* v = n.input(i); v && !is_nhwc(v) && !layout_neutral(dims_of(v))) return false;
  if (g.nhwc && !is_nhwc(n.output(0)) && !layout_neutral(y)) return false;
  if (fused) {
    if (!epilogue_from_node(n, g.epilogue)) return false;
    if (const ir::Value* z = n.input(3)) {
      if (dims_of(z) != y || dtype_of(z) != dt) return false;
      g.residual = true;
    }
  }
  if (g.groups < 1 || g.c != wt[1] * g.groups || g.k % g.groups != 0) return false;
  g.stride = n.attrs().get_ints("strides", {1, 1});
  g.dilation = n.attrs().get_ints("dilations", {1, 1});
  if (g.stride.size() != 2 || g.dilation.size() != 2) return false;
  std::string auto_pad = n.attrs().get_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    auto pads = n.attrs().get_ints("pads", {0, 0, 0, 0});
    if (pads.size() != 4) return false;
    g.pad_begin = {pads[0], pads[1]};
    g.pad_end = {pads[2], pads[3]};
  } else if (auto_pad == "VALID") {
    g.pad_begin = g.pad_end = {0, 0};
  } else {  // SAME_UPPER / SAME_LOWER: total padding from the output size
    int64_t in[2] = {g.h, g.w}, out[2] = {g.oh, g.ow}, kernel[2] = {g.r, g.s};
    for (int i = 0; i < 2; ++i) {
      int64_t total = std::max<int64_t>(0, (out[i] - 1) * g.stride[i] + (kernel[i] - 1) * g.dilation[i] + 1 - in[i]);
      int64_t small = total / 2, large = total - small;
      g.pad_begin.push_back(auto_pad == "SAME_UPPER" ? small : large);
      g.pad_end.push_back(auto_pad == "SAME_UPPER" ? large : small);
    }
  }
  if (const ir::Value* b = n.input(2)) {
    auto bd = dims_of(b);
    if (bd.size() != 1 || bd[0] != g.k || dtype_of(b) != dt) return false;
    g.bias = true;
  }
  return true;
}

// Plans restored from engine files, by their stored bytes: layers of the same geometry (ResNet's
// repeated blocks) share one deserialized plan instead of each loading it again. Entries are
// weak: a plan lives as long as a kernel uses it. Kernels already share a plan between
// contexts, so sharing it between layers adds no new concurrent use.
struct RestoredPlan {
  std::shared_ptr<fe::graph::Graph> graph;
  size_t workspace = 0;
};

class RestoredPlanCache {
 public:
  static RestoredPlanCache& global() {
    static RestoredPlanCache cache;
    return cache;
  }
  std::optional<RestoredPlan> find(const std::vector<uint8_t>& state) {
    std::lock_guard<std::mutex> guard(lock_);
    auto it = plans_.find(state);
    if (it == plans_.end()) return std::nullopt;
    auto graph = it->second.graph.lock();
    if (!graph) return std::nullopt;
    return RestoredPlan{std::move(graph), it->second.workspace};
  }
  void add(const std::vector<uint8_t>& state, const RestoredPlan& plan) {
    std::lock_guard<std::mutex> guard(lock_);
    for (auto it = plans_.begin(); it != plans_.end();) it = it->second.graph.expired() ? plans_.erase(it) : std::next(it);
    plans_[state] = Entry{plan.graph, plan.workspace};
  }

 private:
  struct Entry {
    std::weak_ptr<fe::graph::Graph> graph;
    size_t workspace = 0;
  };
  std::mutex lock_;
  std::map<std::vector<uint8_t>, Entry> plans_;
};

class ConvKernel : public runtime::Kernel {
 public:
  // fuse_epilogue: put residual and activation into the cuDNN graph (else run them after).
  // max_workspace: the most workspace the plan may need.
  Status init(const ConvGeometry& g, DataType dt, bool fuse_epilogue, bool allow_tf32, size_t max_workspace) {
    set_geometry(g, dt);
    graph_ = std::make_shared<fe::graph::Graph>();
    graph_->set_io_data_type(fe_type(dt))
        .set_intermediate_data_type(fe::DataType_t::FLOAT)
        .set_compute_data_type(fe::DataType_t::FLOAT);
    std::vector<int64_t> xd = {g.n, g.c, g.h, g.w}, wd = {g.k, g.c / g.groups, g.r, g.s}, yd = {g.n, g.k, g.oh, g.ow};
    x_ = graph_->tensor(fe::graph::Tensor_attributes().set_name("x").set_uid(kUidX).set_dim(xd).set_stride(packed_strides(xd, g.nhwc)));
    w_ = graph_->tensor(fe::graph::Tensor_attributes().set_name("w").set_uid(kUidW).set_dim(wd).set_stride(packed_strides(wd, g.nhwc)));
    auto conv = fe::graph::Conv_fprop_attributes()
                    .set_pre_padding(g.pad_begin)
                    .set_post_padding(g.pad_end)
                    .set_stride(g.stride)
                    .set_dilation(g.dilation);
    y_ = graph_->conv_fprop(x_, w_, conv);
    if (g.bias) {
      b_ = graph_->tensor(fe::graph::Tensor_attributes().set_name("b").set_uid(kUidB).set_dim({1, g.k, 1, 1}).set_stride({g.k, 1, 1, 1}));
      y_ = graph_->pointwise(y_, b_, fe::graph::Pointwise_attributes().set_mode(fe::PointwiseMode_t::ADD));
    }
    post_epilogue_ = g.residual || g.epilogue.act != PointwiseOp::kIdentity;
    if (fuse_epilogue && post_epilogue_) {
      if (g.residual) {
        z_ = graph_->tensor(fe::graph::Tensor_attributes().set_name("z").set_uid(kUidZ).set_dim(yd).set_stride(packed_strides(yd, g.nhwc)));
        y_ = graph_->pointwise(y_, z_, fe::graph::Pointwise_attributes().set_mode(fe::PointwiseMode_t::ADD));
      }
      if (g.epilogue.act != PointwiseOp::kIdentity) {
        auto act = cudnn_activation(g.epilogue);
        if (!act) return unsupported("cuDNN has no fused form of activation " + g.epilogue.name);
        y_ = graph_->pointwise(y_, *act);
      }
      post_epilogue_ = false;
    }
    y_->set_output(true).set_uid(kUidY).set_dim(yd).set_stride(packed_strides(yd, g.nhwc)).set_data_type(fe_type(dt));
    auto handles = handles_for({});
    if (!handles.is_ok()) return handles.status();
    cudnnHandle_t handle = (*handles)->cudnn;
    std::lock_guard<std::mutex> guard(*(*handles)->lock);
    auto check = [](fe::error_t e, const char* step) -> Status {
      if (e.is_good()) return Status::ok();
      return unsupported(std::string("cuDNN ") + step + ": " + e.get_message());
    };
    KILN_RETURN_IF_ERROR(check(graph_->validate(), "validate"));
    KILN_RETURN_IF_ERROR(check(graph_->build_operation_graph(handle), "build_operation_graph"));
    KILN_RETURN_IF_ERROR(check(graph_->create_execution_plans({fe::HeurMode_t::A}), "create_execution_plans"));
    // Float32 stays float32 unless the build allows TF32 (tensor-core engines round inputs).
    if (dt == DataType::kFloat32 && !allow_tf32) graph_->deselect_numeric_notes({fe::NumericalNote_t::TENSOR_CORE});
    graph_->deselect_workspace_greater_than(static_cast<int64_t>(max_workspace));
    KILN_RETURN_IF_ERROR(check(graph_->check_support(handle), "check_support"));
    KILN_RETURN_IF_ERROR(check(graph_->build_plans(handle), "build_plans"));
    int64_t ws = 0;
    KILN_RETURN_IF_ERROR(check(graph_->get_workspace_size(ws), "get_workspace_size"));
    workspace_ = static_cast<size_t>(ws);
    return Status::ok();
  }

  // Restores the plan serialize() wrote; an error (then the caller builds the plan again) when
  // the state is not one for this geometry.
  Status init_from_state(const ConvGeometry& g, DataType dt, const std::vector<uint8_t>& state) {
    if (state.size() <= kStateHeader || (state[0] != kStateFusedEpilogue && state[0] != kStatePostEpilogue))
      return invalid_argument("not a cuda.cudnn.conv state");
    set_geometry(g, dt);
    uint64_t stored = 0;
    std::memcpy(&stored, state.data() + 1, sizeof(stored));
    if (stored != fingerprint_) return invalid_argument("the stored plan is for another convolution or cuDNN");
    post_epilogue_ = state[0] == kStatePostEpilogue;
    if (!post_epilogue_ && g.epilogue.act != PointwiseOp::kIdentity && !cudnn_activation(g.epilogue))
      return invalid_argument("the stored plan fuses an activation this build no longer trusts cuDNN with");
    if (auto shared = RestoredPlanCache::global().find(state)) {
      graph_ = std::move(shared->graph);
      workspace_ = shared->workspace;
      restored_ = true;
      return Status::ok();
    }
    auto handles = handles_for({});
    if (!handles.is_ok()) return handles.status();
    std::lock_guard<std::mutex> guard(*(*handles)->lock);
    graph_ = std::make_shared<fe::graph::Graph>();
    std::vector<uint8_t> plan(state.begin() + kStateHeader, state.end());
    try {
      // No warm-up: the frontend's default captures a throwaway execution per plan (a stream,
      // a cudaMalloc, a graph capture, a cudaFree that waits for the device) only to load the
      // kernel early. A freshly built plan does not do it, and the first enqueue loads it anyway.
      fe::error_t e = graph_->deserialize((*handles)->cudnn, plan, /*enforce_precompiled=*/false, /*run_warmup=*/false);
      if (!e.is_good()) return unsupported(std::string("cuDNN deserialize: ") + e.get_message());
      int64_t ws = 0;
      e = graph_->get_workspace_size(ws);
      if (!e.is_good()) return unsupported(std::string("cuDNN get_workspace_size: ") + e.get_message());
      workspace_ = static_cast<size_t>(ws);
    } catch (const std::exception& ex) {  // the blob is parsed as UBJSON
      return invalid_argument(std::string("cuDNN plan in the engine file: ") + ex.what());
    }
    RestoredPlanCache::global().add(state, RestoredPlan{graph_, workspace_});
    restored_ = true;
    return Status::ok();
  }

  bool restored_from_state() const override { return restored_; }

  std::vector<uint8_t> serialize() const override {
    std::vector<uint8_t> plan;
    if (!graph_ || !graph_->serialize(plan, /*serialize_structure=*/false).is_good()) return {};
    std::vector<uint8_t> state(kStateHeader);
    state[0] = post_epilogue_ ? kStatePostEpilogue : kStateFusedEpilogue;
    std::memcpy(state.data() + 1, &fingerprint_, sizeof(fingerprint_));
    state.insert(state.end(), plan.begin(), plan.end());
    return state;
  }

  size_t workspace() const { return workspace_; }

  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (launch.workspace_bytes < workspace_) return internal_error("cuda.cudnn.conv: workspace too small");
    KILN_ASSIGN_OR_RETURN(CudaHandles* handles, handles_for(launch));
    std::unique_lock<std::mutex> guard;
    if (handles->lock) guard = std::unique_lock<std::mutex>(*handles->lock);
    KILN_CUDNN_CHECK(cudnnSetStream(handles->cudnn, static_cast<cudaStream_t>(launch.stream)));
    std::unordered_map<int64_t, void*> pack = {{kUidX, in[0].data}, {kUidW, in[1].data}, {kUidY, out[0].data}};
    if (bias_) pack[kUidB] = in[2].data;
    if (residual_ && !post_epilogue_) pack[kUidZ] = in[3].data;
    fe::error_t e = graph_->execute(handles->cudnn, pack, launch.workspace);
    if (!e.is_good()) return internal_error(std::string("cuDNN execute: ") + e.get_message());
    if (post_epilogue_)
      return launch_epilogue(out[0].data, residual_ ? in[3].data : nullptr, n_out_, dt_, epilogue_,
                             static_cast<cudaStream_t>(launch.stream));
    return Status::ok();
  }

 private:
  void set_geometry(const ConvGeometry& g, DataType dt) {
    bias_ = g.bias;
    dt_ = dt;
    epilogue_ = g.epilogue;
    residual_ = g.residual;
    n_out_ = g.n * g.k * g.oh * g.ow;
    fingerprint_ = fingerprint(g, dt);
  }

  // What a stored plan must have been built for: the convolution's every dimension, its dtype,
  // layout and epilogue, and the cuDNN version. A plan is opaque bytes, so this is what stops a
  // plan of another layer (or another cuDNN) from running on this layer's buffers.
  static uint64_t fingerprint(const ConvGeometry& g, DataType dt) {
    std::vector<int64_t> f = {1,  // this list's version
                              static_cast<int64_t>(cudnnGetVersion()), static_cast<int64_t>(dt),
                              g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.oh, g.ow, g.groups, g.bias, g.residual, g.nhwc,
                              static_cast<int64_t>(g.epilogue.act)};
    for (const auto* v : {&g.pad_begin, &g.pad_end, &g.stride, &g.dilation}) {
      f.push_back(static_cast<int64_t>(v->size()));
      f.insert(f.end(), v->begin(), v->end());
    }
    // The padded form adds the node's channel count (a longer list): its plans and those of the
    // plain form (stored before this form existed, too) never pass for each other, not even
    // for a node with 4 channels.
    if (g.padded_from) f.push_back(g.padded_from);
    return plan::xxh64(f.data(), f.size() * sizeof(int64_t), 0);
  }

  std::shared_ptr<fe::graph::Graph> graph_;
  // The cuDNN pointwise node for an activation, where we trust cuDNN's fused form. Only ReLU
  // and clipped ReLU: with SIGMOID_FWD fused, a cuDNN 9.19 plan for a [2,32,1,1] -> [2,8,1,1]
  // convolution left part of its output unwritten (tests/gpu/conv_forms_test.cpp caught it), so
  // the other activations run in our epilogue kernel.
  static std::optional<fe::graph::Pointwise_attributes> cudnn_activation(const Epilogue& e) {
    auto p = fe::graph::Pointwise_attributes();
    switch (e.act) {
      case PointwiseOp::kRelu: return p.set_mode(fe::PointwiseMode_t::RELU_FWD);
      case PointwiseOp::kClip:
        if (!std::isfinite(e.params.alpha) || !std::isfinite(e.params.beta)) return std::nullopt;
        return p.set_mode(fe::PointwiseMode_t::RELU_FWD).set_relu_lower_clip(e.params.alpha).set_relu_upper_clip(e.params.beta);
      default: return std::nullopt;
    }
  }

  std::shared_ptr<fe::graph::Tensor_attributes> x_, w_, b_, z_, y_;
  DataType dt_ = DataType::kFloat32;
  Epilogue epilogue_;
  bool residual_ = false, post_epilogue_ = false;
  int64_t n_out_ = 0;
  bool bias_ = false;
  bool restored_ = false;
  size_t workspace_ = 0;
  uint64_t fingerprint_ = 0;
};

// The kernel for geometry `g` whose plan needs at most `max_workspace`: the plan stored at build
// time when it is one for `g` (loading then skips cuDNN's heuristics and plan compilation), else
// a new plan, with the epilogue in the cuDNN graph where cuDNN takes it.
Result<std::unique_ptr<ConvKernel>> make_conv_kernel(const ConvGeometry& g, const runtime::KernelSpec& spec,
                                                     size_t max_workspace) {
  auto kernel = std::make_unique<ConvKernel>();
  DataType dt = dtype_of(spec.node->output(0));
  if (spec.state && !spec.state->empty() && kernel->init_from_state(g, dt, *spec.state).is_ok() &&
      kernel->workspace() <= max_workspace)
    return kernel;
  kernel = std::make_unique<ConvKernel>();
  bool tf32 = spec.params == "tf32";
  Status fused = kernel->init(g, dt, /*fuse_epilogue=*/true, tf32, max_workspace);
  if (!fused.is_ok()) {  // cuDNN lacks this fusion: conv + bias in cuDNN, the rest after
    kernel = std::make_unique<ConvKernel>();
    KILN_RETURN_IF_ERROR(kernel->init(g, dt, /*fuse_epilogue=*/false, tf32, max_workspace).with_context(spec.node->describe()));
  }
  if (kernel->workspace() > max_workspace)
    return unsupported(spec.node->describe() + ": the cuDNN plan needs more workspace than " +
                       std::to_string(max_workspace) + " bytes");
  return kernel;
}

class ConvTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.cudnn.conv"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool handles_channels_last() const override { return true; }
  bool supports(const ir::Node& n) const override {
    ConvGeometry g;
    return geometry(n, g);
  }
  size_t workspace_bytes(const runtime::KernelSpec& spec) const override {
    // The exact need is known once the plan is built; engines reserve this upper bound.
    return kMaxWorkspace;
  }
  std::vector<std::string> candidate_params(const ir::Node& n) const override {
    if (dtype_of(n.output(0)) == DataType::kFloat32) return {"", "tf32"};
    return {""};
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    ConvGeometry g;
    if (!geometry(*spec.node, g)) return unsupported(spec.node->describe() + ": not a supported convolution");
    KILN_ASSIGN_OR_RETURN(auto kernel, make_conv_kernel(g, spec, kMaxWorkspace));
    return std::unique_ptr<runtime::Kernel>(std::move(kernel));
  }
};

// ---- cuda.cudnn.conv_padded ----

// Bytes of the padded input at the start of the workspace, [N,H,W,4] 16-bit elements (a
// multiple of 256, so that cuDNN's part after it stays aligned).
size_t padded_input_bytes(const ConvGeometry& g) {
  size_t bytes = static_cast<size_t>(g.n * g.h * g.w) * kPaddedChannels * 2;
  return (bytes + 255) / 256 * 256;
}

// The geometry cuDNN sees for a node this form runs: `c` padded to 4, `padded_from` the node's.
// Only channels-last float16/bfloat16 (the padding kernel moves 16-bit elements; a float32
// 3-channel pixel is already 12 bytes), ungrouped, constant weights (padded once, at creation),
// and not 1x1 kernels (a product over 1-3 channels is bound by memory traffic, which padding
// only adds to; cuda.cublaslt.conv1x1 takes those). Channel counts 5-7 are not padded to 8: the
// only measurement (the stem padded 3 -> 8) found a slower cuDNN engine than the unpadded one.
bool padded_geometry(const ir::Node& n, ConvGeometry& g) {
  if (!geometry(n, g) || !g.nhwc || g.groups != 1 || g.c >= kPaddedChannels || g.r * g.s == 1) return false;
  DataType dt = dtype_of(n.output(0));
  if ((dt != DataType::kFloat16 && dt != DataType::kBFloat16) || !n.input(1)->is_constant()) return false;
  g.padded_from = g.c;
  g.c = kPaddedChannels;
  // Keep most of the workspace bound for cuDNN's plan.
  return padded_input_bytes(g) <= kMaxWorkspace / 2;
}

class PaddedConvKernel : public runtime::Kernel {
 public:
  PaddedConvKernel(const ConvGeometry& g, std::unique_ptr<ConvKernel> conv)
      : conv_(std::move(conv)), rows_(g.n * g.h * g.w), channels_(static_cast<int>(g.padded_from)),
        input_bytes_(padded_input_bytes(g)) {}
  ~PaddedConvKernel() override {
    if (weights_) cudaFree(weights_);
  }

  // The node's weights [K,C,R,S], stored KRSC (channels-last, or layout-neutral when C == 1),
  // uploaded as [K,R,S,4] with zero fourth (third, second) channels.
  Status upload_weights(const Tensor& w) {
    const size_t es = dtype_size(w.dtype()), c = static_cast<size_t>(channels_);
    if (es != 2 || w.rank() != 4 || w.dims()[1] != channels_) return internal_error("cuda.cudnn.conv_padded: unexpected weights");
    const size_t taps = static_cast<size_t>(w.numel()) / c;
    std::vector<unsigned char> padded(taps * kPaddedChannels * es, 0);
    const auto* src = static_cast<const unsigned char*>(w.raw());
    for (size_t t = 0; t < taps; ++t) std::memcpy(padded.data() + t * kPaddedChannels * es, src + t * c * es, c * es);
    KILN_CUDA_CHECK(cudaMalloc(&weights_, padded.size()));
    KILN_CUDA_CHECK(cudaMemcpy(weights_, padded.data(), padded.size(), cudaMemcpyHostToDevice));
    return Status::ok();
  }

  size_t workspace() const { return input_bytes_ + conv_->workspace(); }
  bool restored_from_state() const override { return conv_->restored_from_state(); }
  std::vector<uint8_t> serialize() const override { return conv_->serialize(); }

  // Pads the input into the workspace, then runs cuDNN on it with the padded weights and the
  // rest of the workspace, all on the launch's stream.
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (launch.workspace_bytes < workspace()) return internal_error("cuda.cudnn.conv_padded: workspace too small");
    void* padded = launch.workspace;
    KILN_RETURN_IF_ERROR(launch_pad_channels(in[0].data, padded, rows_, channels_, static_cast<cudaStream_t>(launch.stream)));
    std::vector<runtime::TensorRef> conv_in = in;
    conv_in[0].data = padded;
    conv_in[1].data = weights_;
    runtime::LaunchContext rest = launch;
    rest.workspace = static_cast<unsigned char*>(launch.workspace) + input_bytes_;
    rest.workspace_bytes = launch.workspace_bytes - input_bytes_;
    return conv_->enqueue(conv_in, out, rest);
  }

 private:
  std::unique_ptr<ConvKernel> conv_;  // planned for the padded channel count
  int64_t rows_;                      // input pixels, N*H*W
  int channels_;                      // the node's input channels (1-3)
  size_t input_bytes_;                // the padded input's share of the workspace
  void* weights_ = nullptr;           // [K,R,S,4]
};

class PaddedConvTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.cudnn.conv_padded"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool handles_channels_last() const override { return true; }
  int preference() const override { return 1; }  // over cuda.cudnn.conv
  bool supports(const ir::Node& n) const override {
    ConvGeometry g;
    return padded_geometry(n, g);
  }
  // The same bound as cuda.cudnn.conv: the padded input first, cuDNN's plan in the rest.
  size_t workspace_bytes(const runtime::KernelSpec& spec) const override { return kMaxWorkspace; }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    ConvGeometry g;
    if (!padded_geometry(*spec.node, g))
      return unsupported(spec.node->describe() + ": not a convolution cuda.cudnn.conv_padded takes");
    KILN_ASSIGN_OR_RETURN(auto conv, make_conv_kernel(g, spec, kMaxWorkspace - padded_input_bytes(g)));
    auto kernel = std::make_unique<PaddedConvKernel>(g, std::move(conv));
    KILN_RETURN_IF_ERROR(kernel->upload_weights(spec.node->input(1)->constant()).with_context(spec.node->describe()));
    return std::unique_ptr<runtime::Kernel>(std::move(kernel));
  }
};

}  // namespace

KILN_REGISTER_TACTIC(CudnnConv, std::make_unique<ConvTactic>());
KILN_REGISTER_TACTIC(CudnnConvPadded, std::make_unique<PaddedConvTactic>());

}  // namespace kiln::cuda
