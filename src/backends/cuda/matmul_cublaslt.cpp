// cuda.cublaslt.matmul: MatMul, Gemm, kiln::FusedMatMul and kiln::FusedGemm through cuBLASLt
// (float32 with optional TF32, float16, bfloat16; FP32 accumulation). Bias, ReLU and tanh-GELU
// run as cuBLASLt epilogues, the residual Z as cuBLASLt's C operand (beta = 1); other
// activations finish in our epilogue kernel. The chosen algorithm is stored in the engine file
// (cublaslt_state.h), so loading skips the heuristic.
// Row-major trick: a row-major [M,K]x[K,N] product is the column-major [N,K]x[K,M] product, so
// ONNX's A and B are passed swapped and no data is transposed.
#include <mutex>

#include "backends/cuda/cublaslt_state.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_handles.h"
#include "backends/cuda/epilogue.h"
#include "backends/cuda/subsample.h"
#include "backends/cuda/tactic_util.h"
#include "plan/checksum.h"
#include "runtime/tactic.h"

namespace kiln::cuda {
namespace {

constexpr size_t kWorkspaceBytes = size_t{32} << 20;

cudaDataType_t cuda_type(DataType dt) {
  switch (dt) {
    case DataType::kFloat16: return CUDA_R_16F;
    case DataType::kBFloat16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
  }
}

// The product as cuBLASLt sees it (column-major, A/B already swapped).
struct GemmShape {
  int64_t m = 0, n = 0, k = 0;  // column-major D[m, n] = op(A)[m, k] * op(B)[k, n]
  bool trans_a = false, trans_b = false;
  int64_t batch = 1, stride_a = 0, stride_b = 0, stride_d = 0;
  float alpha = 1.f;
  bool bias = false;
  bool residual = false;     // Z as C with beta = 1
  Epilogue epilogue;         // the node's activation
  bool act_in_lt = false;    // done by the cuBLASLt epilogue
  int64_t out_elems = 0;
};

class MatmulKernel : public runtime::Kernel {
 public:
  MatmulKernel(GemmShape s, DataType dt, bool tf32) : s_(s), dt_(dt), tf32_(tf32) {}
  ~MatmulKernel() override {
    if (layout_a_) cublasLtMatrixLayoutDestroy(layout_a_);
    if (layout_b_) cublasLtMatrixLayoutDestroy(layout_b_);
    if (layout_d_) cublasLtMatrixLayoutDestroy(layout_d_);
    if (desc_) cublasLtMatmulDescDestroy(desc_);
  }

  // Descriptors, then the algorithm: the one `state` stored when it still fits (the engine file
  // keeps the build's choice), otherwise the heuristic's first choice.
  Status init(const std::vector<uint8_t>* state) {
    KILN_RETURN_IF_ERROR(make_descriptors());
    KILN_ASSIGN_OR_RETURN(cublasLtHandle_t handle, shared_cublaslt_handle());
    if (state && !state->empty() && restore(handle, *state)) {
      restored_ = true;
      return Status::ok();
    }
    return run_heuristic(handle);
  }

  std::vector<uint8_t> serialize() const override {
    AlgoState state;
    state.library_version = cublasLtGetVersion();
    state.problem_hash = problem_hash();
    state.algo = algo_;
    return encode_algo_state(state);
  }

  bool restored_from_state() const override { return restored_; }

  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    KILN_ASSIGN_OR_RETURN(cublasLtHandle_t handle, shared_cublaslt_handle());
    if (s_.bias) {
      // The descriptor is shared by every context of the engine; the bias (a weight) has one
      // address for all of them, so it is written once, not by each call while others read it.
      std::lock_guard<std::mutex> guard(bias_lock_);
      const void* bias = in[2].data;
      if (bias != bias_set_) {
        KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
        bias_set_ = bias;
      }
    }
    float beta = s_.residual ? 1.f : 0.f;
    const void* c = s_.residual ? in[3].data : out[0].data;
    // Swapped: cuBLASLt's A is ONNX's B.
    KILN_CUBLAS_CHECK(cublasLtMatmul(handle, desc_, &s_.alpha, in[1].data, layout_a_, in[0].data, layout_b_, &beta,
                                     c, layout_d_, out[0].data, layout_d_, &algo_, launch.workspace,
                                     launch.workspace_bytes, static_cast<cudaStream_t>(launch.stream)));
    if (!s_.act_in_lt && s_.epilogue.act != PointwiseOp::kIdentity)
      return launch_epilogue(out[0].data, nullptr, s_.out_elems, dt_, s_.epilogue, static_cast<cudaStream_t>(launch.stream));
    return Status::ok();
  }

 private:
  Status make_descriptors() {
    compute_ = CUBLAS_COMPUTE_32F;
    if (dt_ == DataType::kFloat32 && tf32_) compute_ = CUBLAS_COMPUTE_32F_FAST_TF32;
    KILN_CUBLAS_CHECK(cublasLtMatmulDescCreate(&desc_, compute_, CUDA_R_32F));
    cublasOperation_t ta = s_.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = s_.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
    KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
    epilogue_ = CUBLASLT_EPILOGUE_DEFAULT;
    s_.act_in_lt = false;
    if (s_.epilogue.act == PointwiseOp::kRelu) {
      epilogue_ = s_.bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
      s_.act_in_lt = true;
    } else if (s_.epilogue.act == PointwiseOp::kGeluTanh) {  // cuBLASLt's GELU is the tanh form
      epilogue_ = s_.bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
      s_.act_in_lt = true;
    } else if (s_.bias) {
      epilogue_ = CUBLASLT_EPILOGUE_BIAS;
    }
    if (epilogue_ != CUBLASLT_EPILOGUE_DEFAULT)
      KILN_CUBLAS_CHECK(
          cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue_, sizeof(epilogue_)));
    if (s_.bias) {
      cudaDataType_t bias_type = cuda_type(dt_);
      KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type)));
    }
    cudaDataType_t t = cuda_type(dt_);
    auto make_layout = [&](cublasLtMatrixLayout_t& l, int64_t rows, int64_t cols, int64_t stride) -> Status {
      KILN_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&l, t, rows, cols, rows));
      if (s_.batch > 1) {
        int32_t count = static_cast<int32_t>(s_.batch);
        KILN_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)));
        KILN_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)));
      }
      return Status::ok();
    };
    KILN_RETURN_IF_ERROR(make_layout(layout_a_, s_.trans_a ? s_.k : s_.m, s_.trans_a ? s_.m : s_.k, s_.stride_a));
    KILN_RETURN_IF_ERROR(make_layout(layout_b_, s_.trans_b ? s_.n : s_.k, s_.trans_b ? s_.k : s_.n, s_.stride_b));
    KILN_RETURN_IF_ERROR(make_layout(layout_d_, s_.m, s_.n, s_.stride_d));
    return Status::ok();
  }

  Status run_heuristic(cublasLtHandle_t handle) {
    cublasLtMatmulPreference_t pref;
    KILN_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    size_t ws = kWorkspaceBytes;
    cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
    int found = 0;
    cublasLtMatmulHeuristicResult_t result{};
    if (st == CUBLAS_STATUS_SUCCESS)
      st = cublasLtMatmulAlgoGetHeuristic(handle, desc_, layout_a_, layout_b_, layout_d_, layout_d_, pref, 1, &result,
                                          &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (st != CUBLAS_STATUS_SUCCESS) return cublas_status(st, "cublasLtMatmulAlgoGetHeuristic");
    if (found == 0) return unsupported("cuBLASLt has no algorithm for this matrix product");
    algo_ = result.algo;
    return Status::ok();
  }

  // The stored algorithm, when it was chosen by this cuBLASLt for this very problem and cuBLASLt
  // still accepts it within our workspace; false (the caller runs the heuristic) otherwise.
  bool restore(cublasLtHandle_t handle, const std::vector<uint8_t>& bytes) {
    std::optional<AlgoState> state = decode_algo_state(bytes);
    if (!state || state->library_version != cublasLtGetVersion() || state->problem_hash != problem_hash()) return false;
    cublasLtMatmulHeuristicResult_t check{};
    cublasStatus_t st =
        cublasLtMatmulAlgoCheck(handle, desc_, layout_a_, layout_b_, layout_d_, layout_d_, &state->algo, &check);
    if (st != CUBLAS_STATUS_SUCCESS || check.state != CUBLAS_STATUS_SUCCESS || check.workspaceSize > kWorkspaceBytes)
      return false;
    algo_ = state->algo;
    return true;
  }

  // Everything the algorithm choice depends on (make_descriptors has run): a stored algorithm
  // is used only for the problem it was chosen for.
  uint64_t problem_hash() const {
    const int64_t fields[] = {1,  // this list's version
                              static_cast<int64_t>(cuda_type(dt_)), static_cast<int64_t>(compute_),
                              s_.m, s_.n, s_.k, s_.trans_a, s_.trans_b, s_.batch, s_.stride_a, s_.stride_b, s_.stride_d,
                              static_cast<int64_t>(epilogue_), s_.bias, s_.residual,
                              static_cast<int64_t>(kWorkspaceBytes)};
    return plan::xxh64(fields, sizeof(fields), 0);
  }

  GemmShape s_;
  DataType dt_;
  bool tf32_;
  bool restored_ = false;
  mutable std::mutex bias_lock_;
  mutable const void* bias_set_ = nullptr;
  cublasComputeType_t compute_ = CUBLAS_COMPUTE_32F;
  cublasLtEpilogue_t epilogue_ = CUBLASLT_EPILOGUE_DEFAULT;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t layout_a_ = nullptr, layout_b_ = nullptr, layout_d_ = nullptr;
  cublasLtMatmulAlgo_t algo_{};
};

// Fills the column-major problem for a node; false when the node's form is not supported.
bool describe_plain(const ir::Node& n, GemmShape& s);

bool describe(const ir::Node& n, GemmShape& s) {
  if (n.domain().empty()) return describe_plain(n, s);
  if (n.domain() != "kiln" || (n.op_type() != "FusedMatMul" && n.op_type() != "FusedGemm")) return false;
  // The main product as the plain op sees it, then bias / Z / activation on top.
  bool gemm = n.op_type() == "FusedGemm";
  if (!all_static(n) || !n.input(0) || !n.input(1) || !n.output(0)) return false;
  DataType dt = dtype_of(n.output(0));
  auto y = dims_of(n.output(0));
  ir::Graph scratch("scratch");
  ir::Value* a = scratch.add_value("a", n.input(0)->type());
  ir::Value* b = scratch.add_value("b", n.input(1)->type());
  ir::Value* out = scratch.add_value("y", n.output(0)->type());
  ir::Node* plain = scratch.add_node(gemm ? "Gemm" : "MatMul", {a, b}, {out}, n.name());
  if (gemm)
    for (const char* attr : {"transA", "transB", "alpha"})
      if (const ir::Attribute* v = n.attrs().find(attr)) plain->attrs().set(attr, *v);
  if (!describe_plain(*plain, s)) return false;
  int64_t N = y.back();
  if (const ir::Value* bias = n.input(2)) {
    auto bd = dims_of(bias);
    bool vector = (bd.size() == 1 && bd[0] == N) || (bd.size() == 2 && bd[0] == 1 && bd[1] == N);
    if (!vector || dtype_of(bias) != dt) return false;
    if (gemm && n.attrs().get_float("beta", 1.f) != 1.f) return false;
    s.bias = true;
  }
  if (const ir::Value* z = n.input(3)) {
    if (dims_of(z) != y || dtype_of(z) != dt || s.batch > 1) return false;
    s.residual = true;
  }
  return epilogue_from_node(n, s.epilogue);
}

bool describe_plain(const ir::Node& n, GemmShape& s) {
  if (!all_static(n) || !n.input(0) || !n.input(1) || n.num_outputs() < 1 || !n.output(0)) return false;
  DataType dt = dtype_of(n.output(0));
  if (!is_kernel_float(dt) || dtype_of(n.input(0)) != dt || dtype_of(n.input(1)) != dt) return false;
  auto a = dims_of(n.input(0)), b = dims_of(n.input(1));
  if (n.op_type() == "Gemm") {
    if (a.size() != 2 || b.size() != 2) return false;
    bool ta = n.attrs().get_int("transA", 0) != 0, tb = n.attrs().get_int("transB", 0) != 0;
    int64_t M = ta ? a[1] : a[0], K = ta ? a[0] : a[1], N = tb ? b[0] : b[1];
    s = GemmShape{N, M, K, tb, ta, 1, 0, 0, 0, n.attrs().get_float("alpha", 1.f)};
    if (const ir::Value* c = n.input(2)) {
      auto cd = dims_of(c);
      bool vector = (cd.size() == 1 && cd[0] == N) || (cd.size() == 2 && cd[0] == 1 && cd[1] == N);
      if (!vector || n.attrs().get_float("beta", 1.f) != 1.f || dtype_of(c) != dt) return false;
      s.bias = true;
    }
    return true;
  }
  if (n.op_type() != "MatMul" || a.size() < 2 || b.size() < 2) return false;
  int64_t K = a.back(), N = b.back();
  if (b[b.size() - 2] != K) return false;
  if (b.size() == 2) {  // weights: fold every leading dim of A into M
    int64_t M = 1;
    for (size_t i = 0; i + 1 < a.size(); ++i) M *= a[i];
    s = GemmShape{N, M, K, false, false, 1, 0, 0, 0, 1.f};
    return true;
  }
  // Batched: identical leading dims only (broadcast batches are not supported yet).
  if (a.size() != b.size()) return false;
  int64_t batch = 1;
  for (size_t i = 0; i + 2 < a.size(); ++i) {
    if (a[i] != b[i]) return false;
    batch *= a[i];
  }
  int64_t M = a[a.size() - 2];
  s = GemmShape{N, M, K, false, false, batch, K * N, M * K, M * N, 1.f};
  return true;
}

// Parameter sets a tuner may try: float32 products also with TF32 math.
std::vector<std::string> float32_candidates(const ir::Node& n) {
  if (dtype_of(n.output(0)) == DataType::kFloat32) return {"", "tf32"};
  return {""};
}

class MatmulTactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.cublaslt.matmul"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool supports(const ir::Node& n) const override {
    GemmShape s;
    return describe(n, s);
  }
  size_t workspace_bytes(const runtime::KernelSpec&) const override { return kWorkspaceBytes; }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    GemmShape s;
    if (!describe(*spec.node, s)) return unsupported(spec.node->describe() + ": not a supported matrix product");
    int64_t elems = 1;
    for (int64_t d : dims_of(spec.node->output(0))) elems *= d;
    s.out_elems = elems;
    auto kernel = std::make_unique<MatmulKernel>(s, dtype_of(spec.node->output(0)), spec.params == "tf32");
    KILN_RETURN_IF_ERROR(kernel->init(spec.state).with_context(spec.node->describe()));
    return std::unique_ptr<runtime::Kernel>(std::move(kernel));
  }
  std::vector<std::string> candidate_params(const ir::Node& n) const override { return float32_candidates(n); }
};

// A 1x1, stride-1, unpadded, ungrouped convolution on channels-last tensors is the row-major
// product Y[N*H*W, K] = X[N*H*W, C] * W[K, C]^T: cuBLASLt with the conv's bias, residual (as C)
// and ReLU in its epilogue. cuDNN's fused conv + bias + residual + ReLU ran these layers at about
// half the memory bandwidth (ResNet-50's expansion convolutions, bench/NOTES.md).
// strided: the form with strides > 1 (cuda.cublaslt.conv1x1_strided), whose input is first
// subsampled into the workspace; `sub` then describes that step.
bool describe_conv1x1(const ir::Node& n, GemmShape& s, bool strided = false, SubsampleShape* sub = nullptr) {
  bool fused = n.domain() == "kiln" && n.op_type() == "FusedConv";
  if (!fused && (n.op_type() != "Conv" || !n.domain().empty())) return false;
  if (!all_static(n) || !n.input(0) || !n.input(1)) return false;
  auto x = dims_of(n.input(0)), w = dims_of(n.input(1)), y = dims_of(n.output(0));
  if (x.size() != 4 || w.size() != 4 || y.size() != 4 || w[2] != 1 || w[3] != 1) return false;
  DataType dt = dtype_of(n.output(0));
  if (!is_kernel_float(dt) || dtype_of(n.input(0)) != dt || dtype_of(n.input(1)) != dt) return false;
  if (n.attrs().get_int("group", 1) != 1 || w[1] != x[1] || y[1] != w[0]) return false;
  auto strides = n.attrs().get_ints("strides", {1, 1});
  if (strides.size() != 2 || strides[0] < 1 || strides[1] < 1) return false;
  if (strided != (strides[0] > 1 || strides[1] > 1)) return false;
  if (y[2] != (x[2] - 1) / strides[0] + 1 || y[3] != (x[3] - 1) / strides[1] + 1) return false;
  for (int64_t v : n.attrs().get_ints("pads", {0, 0, 0, 0}))
    if (v != 0) return false;
  if (n.attrs().get_string("auto_pad", "NOTSET") != "NOTSET") return false;
  if (sub) *sub = SubsampleShape{x[0], x[2], x[3], x[1], y[2], y[3], strides[0], strides[1]};
  // Rows are pixels only when activations are channels-last (or layout-neutral).
  for (const ir::Value* v : {n.input(0), n.output(0), n.input(3)})
    if (v && !is_nhwc(v) && !layout_neutral(dims_of(v))) return false;
  if (!is_nhwc(n.input(0)) && !is_nhwc(n.output(0))) return false;  // row-major convs stay cuDNN's
  const int64_t pixels = y[0] * y[2] * y[3], C = x[1], K = w[0];
  s = GemmShape{K, pixels, C, /*trans_a=*/true, /*trans_b=*/false, 1, 0, 0, 0, 1.f};
  if (const ir::Value* b = n.input(2)) {
    if (dims_of(b) != std::vector<int64_t>{K} || dtype_of(b) != dt) return false;
    s.bias = true;
  }
  if (fused) {
    if (const ir::Value* z = n.input(3)) {
      if (dims_of(z) != y || dtype_of(z) != dt) return false;
      s.residual = true;
    }
    if (!epilogue_from_node(n, s.epilogue)) return false;
    // Activations cuBLASLt cannot apply would cost an extra pass: cuDNN fuses them instead.
    if (s.epilogue.act != PointwiseOp::kIdentity && s.epilogue.act != PointwiseOp::kRelu) return false;
  }
  return true;
}

// The product of a 1x1 convolution described by `s`, its algorithm restored from spec.state.
Result<std::unique_ptr<MatmulKernel>> conv1x1_product(const runtime::KernelSpec& spec, GemmShape s) {
  int64_t elems = 1;
  for (int64_t d : dims_of(spec.node->output(0))) elems *= d;
  s.out_elems = elems;
  auto kernel = std::make_unique<MatmulKernel>(s, dtype_of(spec.node->output(0)), spec.params == "tf32");
  KILN_RETURN_IF_ERROR(kernel->init(spec.state).with_context(spec.node->describe()));
  return kernel;
}

class Conv1x1Tactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.cublaslt.conv1x1"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool handles_channels_last() const override { return true; }
  int preference() const override { return 1; }  // over cuda.cudnn.conv
  bool supports(const ir::Node& n) const override {
    GemmShape s;
    return describe_conv1x1(n, s);
  }
  size_t workspace_bytes(const runtime::KernelSpec&) const override { return kWorkspaceBytes; }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    GemmShape s;
    if (!describe_conv1x1(*spec.node, s)) return unsupported(spec.node->describe() + ": not a 1x1 channels-last convolution");
    KILN_ASSIGN_OR_RETURN(auto kernel, conv1x1_product(spec, s));
    return std::unique_ptr<runtime::Kernel>(std::move(kernel));
  }
  std::vector<std::string> candidate_params(const ir::Node& n) const override { return float32_candidates(n); }
};

// The strided form: the input's sampled pixels are copied into the workspace (16-byte units of
// channels), then the same product runs on them. cuDNN ran ResNet-50's stride-2 downsample 1x1
// convolutions at about twice their memory floor.
class StridedConv1x1Kernel : public runtime::Kernel {
 public:
  StridedConv1x1Kernel(std::unique_ptr<MatmulKernel> gemm, SubsampleShape sub, size_t elem)
      : gemm_(std::move(gemm)), sub_(sub), elem_(elem) {}
  static size_t sampled_bytes(const SubsampleShape& s, size_t elem) {
    return static_cast<size_t>(s.n * s.ho * s.wo * s.c) * elem;
  }
  std::vector<uint8_t> serialize() const override { return gemm_->serialize(); }
  bool restored_from_state() const override { return gemm_->restored_from_state(); }
  Status enqueue(const std::vector<runtime::TensorRef>& in, const std::vector<runtime::TensorRef>& out,
                 const runtime::LaunchContext& launch) const override {
    if (launch.workspace_bytes < kWorkspaceBytes + sampled_bytes(sub_, elem_))
      return internal_error("cuda.cublaslt.conv1x1_strided: workspace too small");
    void* sampled = static_cast<uint8_t*>(launch.workspace) + kWorkspaceBytes;
    KILN_RETURN_IF_ERROR(
        launch_subsample_nhwc(in[0].data, sampled, sub_, elem_, static_cast<cudaStream_t>(launch.stream)));
    std::vector<runtime::TensorRef> gemm_in = in;
    gemm_in[0].data = sampled;
    gemm_in[0].dims = {sub_.n, sub_.c, sub_.ho, sub_.wo};
    runtime::LaunchContext gemm_launch = launch;
    gemm_launch.workspace_bytes = kWorkspaceBytes;
    return gemm_->enqueue(gemm_in, out, gemm_launch);
  }

 private:
  std::unique_ptr<MatmulKernel> gemm_;
  SubsampleShape sub_;
  size_t elem_;
};

class StridedConv1x1Tactic : public runtime::Tactic {
 public:
  std::string_view id() const override { return "cuda.cublaslt.conv1x1_strided"; }
  runtime::Backend backend() const override { return runtime::Backend::kCuda; }
  bool handles_channels_last() const override { return true; }
  int preference() const override { return 1; }  // over cuda.cudnn.conv
  bool supports(const ir::Node& n) const override {
    GemmShape s;
    return describe_conv1x1(n, s, /*strided=*/true);
  }
  size_t workspace_bytes(const runtime::KernelSpec& spec) const override {
    GemmShape s;
    SubsampleShape sub;
    if (!describe_conv1x1(*spec.node, s, true, &sub)) return kWorkspaceBytes;
    size_t elem = dtype_size(dtype_of(spec.node->output(0)));
    return kWorkspaceBytes + StridedConv1x1Kernel::sampled_bytes(sub, elem);
  }
  Result<std::unique_ptr<runtime::Kernel>> create(const runtime::KernelSpec& spec) const override {
    GemmShape s;
    SubsampleShape sub;
    if (!describe_conv1x1(*spec.node, s, true, &sub))
      return unsupported(spec.node->describe() + ": not a strided 1x1 channels-last convolution");
    KILN_ASSIGN_OR_RETURN(auto gemm, conv1x1_product(spec, s));
    size_t elem = dtype_size(dtype_of(spec.node->output(0)));
    return std::unique_ptr<runtime::Kernel>(new StridedConv1x1Kernel(std::move(gemm), sub, elem));
  }
  std::vector<std::string> candidate_params(const ir::Node& n) const override { return float32_candidates(n); }
};

}  // namespace

KILN_REGISTER_TACTIC(CublasLtMatmul, std::make_unique<MatmulTactic>());
KILN_REGISTER_TACTIC(CublasLtConv1x1Strided, std::make_unique<StridedConv1x1Tactic>());
KILN_REGISTER_TACTIC(CublasLtConv1x1, std::make_unique<Conv1x1Tactic>());

}  // namespace kiln::cuda
