// cuda.cudnn.sdpa: kiln::Attention (docs/FUSED_OPS.md) in FP16/BF16 on tensor cores through the
// cuDNN frontend's fused scaled-dot-product attention (flash attention, inference: no stats).
// Q, K, V, the output and the optional additive mask (cuDNN's attention bias) are described by
// their strides, so the [B, S, H, D] layouts of the perm_* attributes need no copies. The node
// holds K transposed (KT); cuDNN wants the head axis of K contiguous, which holds when the fusion
// absorbed the key's Transpose; otherwise K is first copied to [B, H, Sk, D] in the workspace.
// A mask whose rows (Sk) are not 16-byte aligned is copied to padded rows likewise.
// Mask broadcasting has two forms (candidate params, both run by the GPU tests): "" reads the
// mask in place with stride 0 over the batch and query axes it broadcasts over (as PyTorch hands
// cuDNN an expanded mask); "dense-mask" first writes it as [1|B, 1|H, S, Sk] into the workspace
// (dims of 1 only on batch and heads, as ONNX Runtime's cuDNN attention does), in case cuDNN
// mishandles the stride-0 form.
//
// The plan is built when the kernel is created (engine load). When cuDNN refuses the graph there,
// the kernel of cuda.attention (the CUDA-core kernel, which takes every node this tactic takes)
// runs instead, so an engine never fails to load because of cuDNN. The tactic is registered in
// attention_tactic.cu, before cuda.attention, so it is preferred whenever it applies.
#include <cudnn_frontend.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "backends/cuda/attention_shape.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_handles.h"
#include "backends/cuda/tactic_util.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

namespace fe = cudnn_frontend;

// The most workspace cuDNN's plan may use; plans that need more are not considered.
// (Flash attention inference needs little or none; 32 MiB is what cuBLASLt matmuls reserve, so
// the engine's workspace does not grow for it.)
constexpr size_t kMaxCudnnWorkspace = size_t{32} << 20;
constexpr size_t kAlign = 256;
size_t align_up(size_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

// Byte strides of every dim of extent > 1 (but the contiguous one) must be multiples of 16 for
// cuDNN's vectorized loads; elements are 2 bytes here.
bool aligned(const int64_t dims[4], const int64_t strides[4]) {
  for (int i = 0; i < 4; ++i)
    if (dims[i] > 1 && strides[i] != 1 && (strides[i] * 2) % 16 != 0) return false;
  return true;
}

struct SdpaPlan {
  AttentionShape a;
  bool pack_k = false;     // K's head axis is not contiguous (or misaligned): copy K to [B, H, Sk, D]
  bool pack_mask = false;   // copy the mask into the workspace (padded rows, or dense)
  bool dense_mask = false;  // the copy is expanded over the queries: [1|B, 1|H, S, Sk]
  int64_t mask_row = 0;     // row stride (elements) of the mask cuDNN reads
  int64_t mask_rows = 0;    // rows per (batch, head) of the mask cuDNN reads: 1 or S
  size_t k_bytes = 0, mask_bytes = 0;
};

// params: comma-separated flags "dense-mask" (see above) and "no-fallback" (tests only: fail at
// create instead of falling back to cuda.attention); false on anything else.
bool parse_params(const std::string& params, bool* dense, bool* no_fallback) {
  size_t start = 0;
  while (start < params.size()) {
    size_t end = params.find(',', start);
    if (end == std::string::npos) end = params.size();
    const std::string flag = params.substr(start, end - start);
    if (flag == "dense-mask") *dense = true;
    else if (flag == "no-fallback") *no_fallback = true;
    else return false;
    start = end + 1;
  }
  return true;
}

bool plan_of(const ir::Node& n, const std::string& params, SdpaPlan& p) {
  AttentionShape& a = p.a;
  if (!read_attention(n, a)) return false;
  bool dense = false, no_fallback = false;
  if (!parse_params(params, &dense, &no_fallback)) return false;
  (void)no_fallback;
  if (a.dt != DataType::kFloat16 && a.dt != DataType::kBFloat16) return false;
  if (a.batch < 1 || a.heads < 1 || a.s < 1 || a.sk < 1) return false;
  if (a.d < 8 || a.dv < 8 || a.d % 8 != 0 || a.dv % 8 != 0 || a.d > 128 || a.dv > 128) return false;
  // Keep to what cuda.attention also runs, so the load-time fallback always exists.
  if (a.sk > 8192 || a.s >= 65536 || a.batch_heads >= 65536) return false;
  const int64_t qd[4] = {a.batch, a.heads, a.s, a.d}, vd[4] = {a.batch, a.heads, a.sk, a.dv},
                yd[4] = {a.batch, a.heads, a.s, a.dv}, kd[4] = {a.batch, a.heads, a.sk, a.d};
  if (a.q_stride[3] != 1 || a.v_stride[3] != 1 || a.y_stride[3] != 1) return false;
  if (!aligned(qd, a.q_stride) || !aligned(vd, a.v_stride) || !aligned(yd, a.y_stride)) return false;
  const int64_t ks[4] = {a.kt_stride[0], a.kt_stride[1], a.kt_stride[3], a.kt_stride[2]};
  p.pack_k = ks[3] != 1 || !aligned(kd, ks);
  p.k_bytes = p.pack_k ? static_cast<size_t>(a.batch_heads * a.sk * a.d) * 2 : 0;
  if (a.mask) {
    if (a.mask_dims[3] != a.sk) return false;  // cuDNN reads the bias rows contiguously
    p.dense_mask = dense && a.mask_dims[2] != a.s;
    p.pack_mask = p.dense_mask || a.sk % 8 != 0;
    p.mask_row = p.pack_mask ? (a.sk + 7) / 8 * 8 : a.sk;
    p.mask_rows = p.dense_mask ? a.s : a.mask_dims[2];
    p.mask_bytes = p.pack_mask ? static_cast<size_t>(a.mask_dims[0] * a.mask_dims[1] * p.mask_rows * p.mask_row) * 2 : 0;
  }
  return true;
}

size_t plan_workspace(const SdpaPlan& p) {
  return align_up(kMaxCudnnWorkspace) + align_up(p.k_bytes) + align_up(p.mask_bytes);
}

fe::DataType_t fe_type(DataType dt) {
  return dt == DataType::kBFloat16 ? fe::DataType_t::BFLOAT16 : fe::DataType_t::HALF;
}

// The cuDNN graph for a plan: Q, K, V, the optional bias and the output O, described by their
// strides. Frontend calls may throw (no SDPA implementation fits). sm_version > 0 fixes the
// target architecture instead of asking the current device (lets the graph be validated
// without a GPU).
struct SdpaGraph {
  std::shared_ptr<fe::graph::Graph> graph;
  std::shared_ptr<fe::graph::Tensor_attributes> q, k, v, bias, o;
};

SdpaGraph describe_sdpa(const SdpaPlan& p, int32_t sm_version = 0) {
  const AttentionShape& a = p.a;
  SdpaGraph g;
  g.graph = std::make_shared<fe::graph::Graph>();
  if (sm_version > 0) g.graph->set_sm_version(sm_version);
  g.graph->set_io_data_type(fe_type(a.dt))
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);
  g.q = g.graph->tensor(fe::graph::Tensor_attributes()
                            .set_name("Q")
                            .set_dim({a.batch, a.heads, a.s, a.d})
                            .set_stride({a.q_stride[0], a.q_stride[1], a.q_stride[2], 1}));
  // K [B, H, Sk, D] is KT [B, H, D, Sk] read with its last two strides swapped.
  std::vector<int64_t> k_stride = {a.kt_stride[0], a.kt_stride[1], a.kt_stride[3], a.kt_stride[2]};
  if (p.pack_k) k_stride = {a.heads * a.sk * a.d, a.sk * a.d, a.d, 1};
  g.k = g.graph->tensor(
      fe::graph::Tensor_attributes().set_name("K").set_dim({a.batch, a.heads, a.sk, a.d}).set_stride(k_stride));
  g.v = g.graph->tensor(fe::graph::Tensor_attributes()
                            .set_name("V")
                            .set_dim({a.batch, a.heads, a.sk, a.dv})
                            .set_stride({a.v_stride[0], a.v_stride[1], a.v_stride[2], 1}));
  auto options = fe::graph::SDPA_attributes()
                     .set_name("attention")
                     .set_generate_stats(false)
                     .set_attn_scale(a.scale)
                     .set_implementation(fe::AttentionImplementation_t::COMPOSITE);
  if (a.mask) {
    const auto& md = a.mask_dims;
    const int64_t row = p.mask_row, head_stride = p.mask_rows * row, batch_stride = md[1] * head_stride;
    std::vector<int64_t> dim, stride;
    if (p.dense_mask) {  // [1|B, 1|H, S, Sk], packed
      dim = {md[0], md[1], a.s, a.sk};
      stride = {batch_stride, head_stride, row, 1};
    } else {  // as PyTorch expands a mask: [B, 1|H, S, Sk], stride 0 where it broadcasts
      dim = {a.batch, md[1], a.s, a.sk};
      stride = {md[0] == 1 ? 0 : batch_stride, head_stride, p.mask_rows == 1 ? 0 : row, 1};
    }
    g.bias = g.graph->tensor(
        fe::graph::Tensor_attributes().set_name("bias").set_data_type(fe_type(a.dt)).set_dim(dim).set_stride(stride));
    options.set_bias(g.bias);
  }
  auto outputs = g.graph->sdpa(g.q, g.k, g.v, options);
  g.o = outputs[0];
  g.o->set_output(true)
      .set_dim({a.batch, a.heads, a.s, a.dv})
      .set_stride({a.y_stride[0], a.y_stride[1], a.y_stride[2], 1})
      .set_data_type(fe_type(a.dt));
  return g;
}

// A built cuDNN graph (execution plan chosen) and its workspace need. Identical attention layers
// (BERT has 12) share one: building a flash-attention plan can take a while at engine load.
struct SdpaState {
  SdpaGraph g;
  size_t cudnn_workspace = 0;
};

std::string plan_key(const SdpaPlan& p, int device) {
  const AttentionShape& a = p.a;
  std::string k = std::to_string(device) + "|" + std::to_string(static_cast<int>(a.dt));
  auto add = [&](int64_t v) { k += "," + std::to_string(v); };
  for (int64_t v : {a.batch, a.heads, a.s, a.sk, a.d, a.dv}) add(v);
  uint32_t bits = 0;
  std::memcpy(&bits, &a.scale, sizeof bits);
  add(bits);
  for (int i = 0; i < 4; ++i) {
    add(a.q_stride[i]);
    add(a.kt_stride[i]);
    add(a.v_stride[i]);
    add(a.y_stride[i]);
    add(a.mask_dims[i]);
  }
  for (int64_t v : {int64_t{a.mask}, int64_t{p.pack_k}, int64_t{p.pack_mask}, int64_t{p.dense_mask}, p.mask_row, p.mask_rows})
    add(v);
  return k;
}

Result<std::shared_ptr<const SdpaState>> build_state(const SdpaPlan& p) {
  auto state = std::make_shared<SdpaState>();
  state->g = describe_sdpa(p);
  auto& graph = state->g.graph;
  auto handles = handles_for({});
  if (!handles.is_ok()) return handles.status();
  cudnnHandle_t handle = (*handles)->cudnn;
  std::lock_guard<std::mutex> guard(*(*handles)->lock);
  auto check = [](fe::error_t e, const char* step) -> Status {
    if (e.is_good()) return Status::ok();
    return unsupported(std::string("cuDNN SDPA ") + step + ": " + e.get_message());
  };
  KILN_RETURN_IF_ERROR(check(graph->validate(), "validate"));
  KILN_RETURN_IF_ERROR(check(graph->build_operation_graph(handle), "build_operation_graph"));
  KILN_RETURN_IF_ERROR(check(graph->create_execution_plans({fe::HeurMode_t::A}), "create_execution_plans"));
  graph->deselect_workspace_greater_than(static_cast<int64_t>(kMaxCudnnWorkspace));
  KILN_RETURN_IF_ERROR(check(graph->check_support(handle), "check_support"));
  KILN_RETURN_IF_ERROR(check(graph->build_plans(handle), "build_plans"));
  int64_t ws = 0;
  KILN_RETURN_IF_ERROR(check(graph->get_workspace_size(ws), "get_workspace_size"));
  if (ws < 0 || static_cast<size_t>(ws) > kMaxCudnnWorkspace)
    return unsupported("cuDNN SDPA plan needs more than " + std::to_string(kMaxCudnnWorkspace >> 20) + " MiB of workspace");
  state->cudnn_workspace = static_cast<size_t>(ws);
  return std::shared_ptr<const SdpaState>(std::move(state));
}

// The shared state for a plan: from the cache while a kernel still holds it, else built.
Result<std::shared_ptr<const SdpaState>> state_for(const SdpaPlan& p) {
  int device = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&device));
  const std::string key = plan_key(p, device);
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<const SdpaState>> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key); it != cache.end())
    if (auto hit = it->second.lock()) return hit;
  KILN_ASSIGN_OR_RETURN(std::shared_ptr<const SdpaState> built, build_state(p));
  cache[key] = built;
  return built;
}

class SdpaKernel : public runtime::Kernel {
 public:
  Status init(const SdpaPlan& p) {
    try {
      return build(p);
    } catch (const std::exception& e) {  // the frontend throws when no SDPA implementation fits
      return unsupported(std::string("cuDNN SDPA: ") + e.what());
    }
  }

  // The CUDA-core kernel for calls cuDNN cannot take: operands not 16-byte aligned (caller-bound
  // graph inputs/outputs), or an execute that fails.
  void set_fallback(std::unique_ptr<runtime::Kernel> k) { fallback_ = std::move(k); }

  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    auto misaligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 != 0; };
    const AttentionShape& a = p_.a;
    if (fallback_ && (misaligned(at(in[0], a.q_offset)) || misaligned(at(in[2], a.v_offset)) ||
                      misaligned(out[0].data) || (!p_.pack_k && misaligned(at(in[1], a.kt_offset))) ||
                      (a.mask && !p_.pack_mask && misaligned(in[3].data))))
      return fallback_->enqueue(in, out, launch);
    Status st = run_cudnn(in, out, launch);
    if (st.is_ok() || !fallback_) return st;
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true))
      std::fprintf(stderr, "kiln: cuda.cudnn.sdpa: %s; using cuda.attention for this call (reported once)\n",
                   st.message().c_str());
    return fallback_->enqueue(in, out, launch);
  }

 private:
  // The first element of an operand's view (2-byte elements: cuDNN runs FP16/BF16 only).
  static void* at(const runtime::TensorRef& t, int64_t offset) { return static_cast<char*>(t.data) + offset * 2; }

  Status run_cudnn(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                   const runtime::LaunchContext& launch) const {
    if (launch.workspace_bytes < total_workspace_) return internal_error("cuda.cudnn.sdpa: workspace too small");
    auto stream = static_cast<cudaStream_t>(launch.stream);
    char* ws = static_cast<char*>(launch.workspace);
    const AttentionShape& a = p_.a;
    void* k = at(in[1], a.kt_offset);
    if (p_.pack_k) {
      StridedCopy c{{a.batch, a.heads, a.sk, a.d},
                    {a.kt_stride[0], a.kt_stride[1], a.kt_stride[3], a.kt_stride[2]},
                    {a.heads * a.sk * a.d, a.sk * a.d, a.d, 1}};
      k = ws + k_offset_;
      KILN_RETURN_IF_ERROR(launch_strided_copy(at(in[1], a.kt_offset), k, c, 2, stream));
    }
    void* mask = a.mask ? in[3].data : nullptr;
    if (a.mask && p_.pack_mask) {
      const auto& md = a.mask_dims;
      const int64_t rows = p_.mask_rows, row = p_.mask_row;
      StridedCopy c{{md[0], md[1], rows, md[3]},
                    {md[1] * md[2] * md[3], md[2] * md[3], md[2] == 1 ? 0 : md[3], 1},
                    {md[1] * rows * row, rows * row, row, 1}};
      mask = ws + mask_offset_;
      KILN_RETURN_IF_ERROR(launch_strided_copy(in[3].data, mask, c, 2, stream));
    }
    KILN_ASSIGN_OR_RETURN(CudaHandles* handles, handles_for(launch));
    std::unique_lock<std::mutex> guard;
    if (handles->lock) guard = std::unique_lock<std::mutex>(*handles->lock);
    KILN_CUDNN_CHECK(cudnnSetStream(handles->cudnn, stream));
    const SdpaGraph& g = state_->g;
    std::unordered_map<int64_t, void*> pack = {
        {g.q->get_uid(), at(in[0], a.q_offset)},
        {g.k->get_uid(), k},
        {g.v->get_uid(), at(in[2], a.v_offset)},
        {g.o->get_uid(), out[0].data}};
    if (g.bias) pack[g.bias->get_uid()] = mask;
    fe::error_t e = g.graph->execute(handles->cudnn, pack, ws);
    if (!e.is_good()) return internal_error(std::string("cuDNN SDPA execute: ") + e.get_message());
    return Status::ok();
  }

  Status build(const SdpaPlan& p) {
    p_ = p;
    KILN_ASSIGN_OR_RETURN(state_, state_for(p));
    k_offset_ = align_up(state_->cudnn_workspace);
    mask_offset_ = k_offset_ + align_up(p.k_bytes);
    total_workspace_ = mask_offset_ + p.mask_bytes;
    return Status::ok();
  }

  SdpaPlan p_;
  std::shared_ptr<const SdpaState> state_;
  std::unique_ptr<runtime::Kernel> fallback_;
  size_t k_offset_ = 0, mask_offset_ = 0, total_workspace_ = 0;
};

class SdpaTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.cudnn.sdpa"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    SdpaPlan p;
    return plan_of(n, "", p);
  }
  // "dense-mask" only where it differs: a mask broadcast over the queries.
  std::vector<std::string> candidate_params(const ir::Node& n) const override {
    SdpaPlan p;
    if (plan_of(n, "dense-mask", p) && p.dense_mask) return {"", "dense-mask"};
    return {""};
  }
  size_t workspace_bytes(const runtime::KernelSpec& spec) const override {
    SdpaPlan p;
    return plan_of(*spec.node, spec.params, p) ? plan_workspace(p) : 0;
  }
  // params "no-fallback" (tests only; also "dense-mask,no-fallback"): fail instead of falling
  // back to cuda.attention.
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    SdpaPlan p;
    if (!plan_of(*spec.node, spec.params, p))
      return unsupported(spec.node->describe() + ": not supported by cuda.cudnn.sdpa (params '" + spec.params + "')");
    bool dense = false, no_fallback = false;
    parse_params(spec.params, &dense, &no_fallback);
    (void)dense;
    const runtime::Tactic* core = runtime::TacticRegistry::global().find("cuda.attention");
    if (core && !core->supports(*spec.node)) core = nullptr;
    auto kernel = std::make_unique<SdpaKernel>();
    Status st = kernel->init(p);
    if (st.is_ok()) {
      if (core && !no_fallback) {
        auto fb = core->create(runtime::KernelSpec{spec.node, ""});
        if (fb.is_ok()) kernel->set_fallback(std::move(fb.value()));
      }
      return std::unique_ptr<runtime::Kernel>(std::move(kernel));
    }
    if (no_fallback || !core) return st.with_context(spec.node->describe());
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true))
      std::fprintf(stderr, "kiln: cuda.cudnn.sdpa: %s; using cuda.attention for %s (reported once)\n",
                   st.message().c_str(), spec.node->describe().c_str());
    return core->create(runtime::KernelSpec{spec.node, ""});
  }
};

}  // namespace

std::unique_ptr<runtime::Tactic> make_cudnn_sdpa_tactic() { return std::make_unique<SdpaTactic>(); }

}  // namespace kiln::cuda
