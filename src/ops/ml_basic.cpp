// ai.onnx.ml element-wise ops: LabelEncoder (versions 2 and 4), Binarizer,
// ArrayFeatureExtractor.
#include <cmath>
#include <cstring>
#include <map>

#include "ops/common/infer.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

// --- LabelEncoder: keys and inputs are compared through a typed key string, so ints, floats
// (NaN equals NaN, as the spec asks) and strings share one map.
std::string key_of_double(double v) {
  if (std::isnan(v)) return "fnan";
  if (v == 0) v = 0;  // -0.0 equals 0.0
  char buf[sizeof(double)];
  std::memcpy(buf, &v, sizeof v);
  return "f" + std::string(buf, sizeof buf);
}

std::vector<std::string> keys_of(const Tensor& t) {
  std::vector<std::string> keys;
  keys.reserve(static_cast<size_t>(t.numel()));
  if (t.dtype() == DataType::kString) {
    for (const auto& s : t.strings()) keys.push_back("s" + s);
  } else if (is_float(t.dtype())) {
    for (double v : t.to_f64()) keys.push_back(key_of_double(v));
  } else {
    for (int64_t v : t.to_i64()) keys.push_back("i" + std::to_string(v));
  }
  return keys;
}

Tensor vector_tensor(const std::vector<int64_t>& v) { return Tensor::from_i64(v); }
Tensor vector_tensor(const std::vector<float>& v) {
  Tensor t(DataType::kFloat32, {static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}
Tensor vector_tensor(const std::vector<std::string>& v) {
  Tensor t(DataType::kString, {static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.strings().begin());
  return t;
}

struct Encoder {
  Tensor keys, values, fallback;  // fallback: one element of the values' dtype
};

Encoder encoder_of(const ir::Attributes& a) {
  Encoder e;
  if (a.has("keys_tensor")) e.keys = a.tensor("keys_tensor");
  else if (a.has("keys_strings")) e.keys = vector_tensor(a.get_strings("keys_strings"));
  else if (a.has("keys_int64s")) e.keys = vector_tensor(a.get_ints("keys_int64s"));
  else if (a.has("keys_floats")) e.keys = vector_tensor(a.get_floats("keys_floats"));
  else throw_error(StatusCode::kInvalidModel, "LabelEncoder needs keys");
  if (a.has("values_tensor")) e.values = a.tensor("values_tensor");
  else if (a.has("values_strings")) e.values = vector_tensor(a.get_strings("values_strings"));
  else if (a.has("values_int64s")) e.values = vector_tensor(a.get_ints("values_int64s"));
  else if (a.has("values_floats")) e.values = vector_tensor(a.get_floats("values_floats"));
  else throw_error(StatusCode::kInvalidModel, "LabelEncoder needs values");
  if (e.keys.numel() != e.values.numel())
    throw_error(StatusCode::kInvalidModel, "LabelEncoder has " + std::to_string(e.keys.numel()) + " keys but " +
                                               std::to_string(e.values.numel()) + " values");
  DataType vt = e.values.dtype();
  if (a.has("default_tensor")) {
    e.fallback = a.tensor("default_tensor");
    if (e.fallback.dtype() != vt || e.fallback.numel() != 1)
      throw_error(StatusCode::kInvalidModel, "default_tensor must be one value of the values' dtype");
    return e;
  }
  e.fallback = Tensor(vt, {1});
  if (vt == DataType::kString) e.fallback.strings()[0] = a.get_string("default_string", "_Unused");
  else if (vt == DataType::kFloat32) e.fallback.data<float>()[0] = a.get_float("default_float", -0.0f);
  else if (vt == DataType::kFloat64) e.fallback.data<double>()[0] = a.get_float("default_float", -0.0f);
  else if (vt == DataType::kInt64) e.fallback.data<int64_t>()[0] = a.get_int("default_int64", -1);
  else if (vt == DataType::kInt32) e.fallback.data<int32_t>()[0] = static_cast<int32_t>(a.get_int("default_int64", -1));
  else if (vt == DataType::kInt16) e.fallback.data<int16_t>()[0] = static_cast<int16_t>(a.get_int("default_int64", -1));
  else throw_error(StatusCode::kUnsupported, "LabelEncoder values of dtype " + std::string(dtype_name(vt)));
  return e;
}

void copy_element(Tensor& dst, int64_t di, const Tensor& src, int64_t si) {
  if (src.dtype() == DataType::kString) {
    dst.strings()[di] = src.strings()[si];
    return;
  }
  size_t es = dtype_size(src.dtype());
  std::memcpy(static_cast<uint8_t*>(dst.raw()) + di * es, static_cast<const uint8_t*>(src.raw()) + si * es, es);
}

void label_encoder_cpu(KernelContext& ctx) {
  if (ctx.version() < 2) ctx.fail("LabelEncoder version 1 is not supported");
  Encoder e = encoder_of(ctx.attrs());
  std::map<std::string, int64_t> index;
  std::vector<std::string> keys = keys_of(e.keys);
  for (size_t i = 0; i < keys.size(); ++i) index.emplace(keys[i], static_cast<int64_t>(i));
  const Tensor& x = ctx.input(0);
  Tensor& out = ctx.allocate_output(0, e.values.dtype(), x.dims());
  std::vector<std::string> xs = keys_of(x);
  for (size_t i = 0; i < xs.size(); ++i) {
    auto it = index.find(xs[i]);
    if (it != index.end()) copy_element(out, static_cast<int64_t>(i), e.values, it->second);
    else copy_element(out, static_cast<int64_t>(i), e.fallback, 0);
  }
}

void infer_label_encoder(InferenceContext& ctx) {
  if (ctx.version() < 2) ctx.fail("LabelEncoder version 1 is not supported");
  Encoder e = encoder_of(ctx.attrs());
  DataType in = ctx.input_dtype(0), kt = e.keys.dtype();
  bool in_float = is_float(in), k_float = is_float(kt);
  if (in != DataType::kUndefined && ((in == DataType::kString) != (kt == DataType::kString) || in_float != k_float))
    ctx.fail("input of dtype " + std::string(dtype_name(in)) + " cannot be looked up in keys of dtype " + std::string(dtype_name(kt)));
  const Shape* s = ctx.input_shape(0);
  ctx.set_output(0, e.values.dtype(), s ? std::optional<Shape>(*s) : std::nullopt);
}

// --- Binarizer
void binarizer_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  double threshold = ctx.attrs().get_float("threshold", 0.0f);
  Tensor& out = ctx.allocate_output(0, x.dtype(), x.dims());
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = x.data<T>();
    T* o = out.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) o[i] = static_cast<double>(in[i]) > threshold ? T(1.0f) : T(0.0f);
  });
}

// --- ArrayFeatureExtractor: picks indices along the last axis; a 1-D input gives [1, k].
void array_feature_extractor_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& idx = ctx.input(1);
  if (idx.dtype() != DataType::kInt64) ctx.fail("indices must be int64, is " + idx.describe());
  if (x.rank() == 0) ctx.fail("input must have at least one dim");
  std::vector<int64_t> ids = idx.to_i64();
  int64_t c = x.dims().back();
  for (int64_t v : ids)
    if (v < 0 || v >= c) ctx.fail("index " + std::to_string(v) + " is out of range for " + std::to_string(c) + " features");
  std::vector<int64_t> dims = x.dims();
  dims.back() = static_cast<int64_t>(ids.size());
  if (x.rank() == 1) dims.insert(dims.begin(), 1);
  Tensor& out = ctx.allocate_output(0, x.dtype(), dims);
  if (is_sub_byte(x.dtype())) ctx.fail("sub-byte dtypes are not supported");
  int64_t rows = c == 0 ? 0 : x.numel() / c;
  for (int64_t r = 0; r < rows; ++r)
    for (size_t k = 0; k < ids.size(); ++k)
      copy_element(out, r * static_cast<int64_t>(ids.size()) + static_cast<int64_t>(k), x, r * c + ids[k]);
}

void infer_array_feature_extractor(InferenceContext& ctx) {
  DataType it = ctx.input_dtype(1);
  if (it != DataType::kInt64 && it != DataType::kUndefined) ctx.fail("indices must be int64");
  const Shape* s = ctx.input_shape(0);
  const Shape* is = ctx.input_shape(1);
  std::optional<Shape> out;
  if (s) {
    if (s->rank() == 0) ctx.fail("input must have at least one dim");
    std::vector<Dim> d = s->dims();
    Dim k = Dim::unknown();
    if (is && is->is_static()) {
      auto n = checked_element_count(is->static_dims());
      if (n) k = Dim(*n);
    }
    d.back() = k;
    if (s->rank() == 1) d.insert(d.begin(), Dim(1));
    out = Shape(d);
  }
  ctx.set_output(0, ctx.input_dtype(0), out);
}

}  // namespace

KILN_REGISTER_OP(LabelEncoder, {"ai.onnx.ml", "LabelEncoder", {2, 4}, infer_label_encoder, label_encoder_cpu});
KILN_REGISTER_OP(Binarizer, {"ai.onnx.ml", "Binarizer", {1}, infer_same_as_input0, binarizer_cpu});
KILN_REGISTER_OP(ArrayFeatureExtractor, {"ai.onnx.ml", "ArrayFeatureExtractor", {1}, infer_array_feature_extractor, array_feature_extractor_cpu});

}  // namespace kiln::ops
