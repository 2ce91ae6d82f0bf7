// Random ops: RandomUniform, RandomNormal, RandomUniformLike, RandomNormalLike, Bernoulli,
// Multinomial. With the `seed` attribute the output is deterministic (a 64-bit Mersenne twister
// seeded from it); the values cannot match numpy's generator, which the ONNX reference uses.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

std::mt19937_64 engine(const KernelContext& ctx) {
  if (!ctx.attrs().has("seed")) return std::mt19937_64(std::random_device{}());
  float seed = ctx.attrs().get_float("seed", 0.0f);
  uint32_t bits;
  std::memcpy(&bits, &seed, sizeof bits);
  return std::mt19937_64(bits);
}

DataType dtype_attr(const ir::Attributes& a, DataType def) {
  return a.has("dtype") ? static_cast<DataType>(a.get_int("dtype", 0)) : def;
}

void check_float_dtype(DataType dt, const char* what) {
  if (dt != DataType::kFloat32 && dt != DataType::kFloat64 && dt != DataType::kFloat16 && dt != DataType::kBFloat16)
    throw_error(StatusCode::kInvalidModel, std::string(what) + " must be a float dtype, is " + std::string(dtype_name(dt)));
}

// Fills `out` (a float dtype) with draws from `dist`.
template <typename Dist> void fill(Tensor& out, std::mt19937_64& gen, Dist dist) {
  if (out.dtype() == DataType::kFloat64) {  // full double precision
    double* o = out.data<double>();
    for (int64_t i = 0; i < out.numel(); ++i) o[i] = dist(gen);
    return;
  }
  dispatch_float(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) o[i] = T(static_cast<float>(dist(gen)));
  });
}

bool is_like(const ir::Node& node) { return node.op_type().size() > 4 && node.op_type().compare(node.op_type().size() - 4, 4, "Like") == 0; }

void random_cpu(KernelContext& ctx) {
  const auto& a = ctx.attrs();
  std::vector<int64_t> dims;
  DataType dt;
  if (is_like(ctx.node())) {
    dims = ctx.input(0).dims();
    dt = dtype_attr(a, ctx.input(0).dtype());
  } else {
    dims = a.get_ints("shape");
    if (!a.has("shape")) ctx.fail("needs the 'shape' attribute");
    dt = dtype_attr(a, DataType::kFloat32);
  }
  check_float_dtype(dt, "dtype");
  Tensor& out = ctx.allocate_output(0, dt, dims);
  auto gen = engine(ctx);
  bool normal = ctx.node().op_type().rfind("RandomNormal", 0) == 0;
  if (normal) {
    fill(out, gen, std::normal_distribution<double>(a.get_float("mean", 0.0f), a.get_float("scale", 1.0f)));
  } else {
    double lo = a.get_float("low", 0.0f), hi = a.get_float("high", 1.0f);
    if (!(lo <= hi)) ctx.fail("low must not exceed high");
    fill(out, gen, std::uniform_real_distribution<double>(lo, hi));
  }
}

void infer_random(InferenceContext& ctx) {
  const auto& a = ctx.attrs();
  if (is_like(ctx.node())) {
    DataType dt = dtype_attr(a, ctx.input_dtype(0));
    if (dt != DataType::kUndefined) check_float_dtype(dt, "dtype");
    const Shape* s = ctx.input_shape(0);
    ctx.set_output(0, dt, s ? std::optional<Shape>(*s) : std::nullopt);
    return;
  }
  if (!a.has("shape")) ctx.fail("needs the 'shape' attribute");
  DataType dt = dtype_attr(a, DataType::kFloat32);
  check_float_dtype(dt, "dtype");
  auto dims = a.get_ints("shape");
  if (!checked_element_count(dims)) ctx.fail("invalid shape " + dims_to_string(dims));
  ctx.set_output(0, dt, Shape::from_dims(dims));
}

// --- Bernoulli: output 1 with the input's probability.
void bernoulli_cpu(KernelContext& ctx) {
  const Tensor& p = ctx.input(0);
  check_float_dtype(p.dtype(), "input");
  DataType dt = dtype_attr(ctx.attrs(), p.dtype());
  Tensor& out = ctx.allocate_output(0, dt, p.dims());
  auto gen = engine(ctx);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> probs = p.to_f64();
  Tensor bits(DataType::kFloat64, p.dims());
  for (int64_t i = 0; i < p.numel(); ++i) {
    if (!(probs[i] >= 0 && probs[i] <= 1)) ctx.fail("probabilities must lie in [0, 1]");
    bits.data<double>()[i] = u(gen) < probs[i] ? 1.0 : 0.0;
  }
  if (dt == DataType::kBool) {
    for (int64_t i = 0; i < p.numel(); ++i) out.data<bool>()[i] = bits.data<double>()[i] != 0;
    return;
  }
  dispatch_numeric(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < p.numel(); ++i) out.data<T>()[i] = T(static_cast<float>(bits.data<double>()[i]));
  });
}

void infer_bernoulli(InferenceContext& ctx) {
  DataType in = ctx.input_dtype(0);
  if (in != DataType::kUndefined) check_float_dtype(in, "input");
  const Shape* s = ctx.input_shape(0);
  ctx.set_output(0, dtype_attr(ctx.attrs(), in), s ? std::optional<Shape>(*s) : std::nullopt);
}

// --- Multinomial: input [batch, classes] of unnormalized log-probabilities.
void multinomial_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  check_float_dtype(x.dtype(), "input");
  if (x.rank() != 2) ctx.fail("input must be [batch, classes], is " + x.describe());
  int64_t samples = ctx.attrs().get_int("sample_size", 1);
  if (samples < 0) ctx.fail("sample_size must not be negative");
  DataType dt = dtype_attr(ctx.attrs(), DataType::kInt32);
  if (dt != DataType::kInt32 && dt != DataType::kInt64) ctx.fail("dtype must be int32 or int64");
  int64_t batch = x.dim(0), classes = x.dim(1);
  if (classes == 0) ctx.fail("needs at least one class");
  Tensor& out = ctx.allocate_output(0, dt, {batch, samples});
  std::vector<double> logits = x.to_f64();
  auto gen = engine(ctx);
  for (int64_t b = 0; b < batch; ++b) {
    const double* l = logits.data() + b * classes;
    double mx = *std::max_element(l, l + classes);
    if (!std::isfinite(mx)) ctx.fail("row " + std::to_string(b) + " has no finite log-probability");
    std::vector<double> w(static_cast<size_t>(classes));
    for (int64_t c = 0; c < classes; ++c) {
      w[static_cast<size_t>(c)] = std::exp(l[c] - mx);
      if (std::isnan(w[static_cast<size_t>(c)])) ctx.fail("log-probabilities must not be NaN");
    }
    std::discrete_distribution<int64_t> dist(w.begin(), w.end());
    for (int64_t s = 0; s < samples; ++s) {
      int64_t v = dist(gen);
      if (dt == DataType::kInt32) out.data<int32_t>()[b * samples + s] = static_cast<int32_t>(v);
      else out.data<int64_t>()[b * samples + s] = v;
    }
  }
}

void infer_multinomial(InferenceContext& ctx) {
  DataType dt = dtype_attr(ctx.attrs(), DataType::kInt32);
  if (dt != DataType::kInt32 && dt != DataType::kInt64) ctx.fail("dtype must be int32 or int64");
  int64_t samples = ctx.attrs().get_int("sample_size", 1);
  std::optional<Shape> out;
  if (const Shape* s = ctx.input_shape(0)) {
    if (s->rank() != 2) ctx.fail("input must be [batch, classes], is " + s->to_string());
    out = Shape({(*s)[0], Dim(samples)});
  }
  ctx.set_output(0, dt, out);
}

}  // namespace

KILN_REGISTER_OP(RandomUniform, {"", "RandomUniform", {1, 22}, infer_random, random_cpu});
KILN_REGISTER_OP(RandomNormal, {"", "RandomNormal", {1, 22}, infer_random, random_cpu});
KILN_REGISTER_OP(RandomUniformLike, {"", "RandomUniformLike", {1, 22}, infer_random, random_cpu});
KILN_REGISTER_OP(RandomNormalLike, {"", "RandomNormalLike", {1, 22}, infer_random, random_cpu});
KILN_REGISTER_OP(Bernoulli, {"", "Bernoulli", {15, 22}, infer_bernoulli, bernoulli_cpu});
KILN_REGISTER_OP(Multinomial, {"", "Multinomial", {7, 22}, infer_multinomial, multinomial_cpu});

}  // namespace kiln::ops
