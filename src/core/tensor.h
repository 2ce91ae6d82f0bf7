// Tensor: a dtype, static dims and a shared, 64-byte aligned buffer (strings in their own
// vector). Copies share the buffer; clone() makes a deep copy.
#pragma once
#include <complex>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "core/dtype.h"
#include "core/float_types.h"
#include "core/shape.h"
#include "core/status.h"

namespace kiln {

// Upper bound on one tensor's bytes; a request above it is refused with a clear error rather
// than attempted (untrusted models can ask for anything). Adjustable for large models.
int64_t max_tensor_bytes();
void set_max_tensor_bytes(int64_t bytes);

class Tensor {
 public:
  Tensor() = default;
  // Allocates dims' elements, zero-filled. Throws Error on a negative dim, overflow, or a
  // size above max_tensor_bytes().
  Tensor(DataType dtype, std::vector<int64_t> dims);
  static Tensor scalar_f32(float v);
  static Tensor scalar_i64(int64_t v);
  static Tensor from_i64(const std::vector<int64_t>& values);  // 1-D int64
  // A non-owning view of `data` (the caller keeps it alive and large enough); for runtimes
  // that hand arena memory to the reference kernels. Not for strings.
  static Tensor view(DataType dtype, std::vector<int64_t> dims, void* data);

  bool defined() const { return dtype_ != DataType::kUndefined; }
  DataType dtype() const { return dtype_; }
  const std::vector<int64_t>& dims() const { return dims_; }
  int64_t dim(size_t i) const { return dims_[i]; }
  size_t rank() const { return dims_.size(); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }

  void* raw() { return storage_ ? storage_.get() : nullptr; }
  const void* raw() const { return storage_ ? storage_.get() : nullptr; }
  template <typename T> T* data() { return static_cast<T*>(raw()); }
  template <typename T> const T* data() const { return static_cast<const T*>(raw()); }
  std::vector<std::string>& strings() { return *strings_; }
  const std::vector<std::string>& strings() const { return *strings_; }

  // Same buffer, new dims with the same element count.
  Tensor reshaped(std::vector<int64_t> dims) const;
  Tensor clone() const;
  // Values as int64 / double whatever the integer or float dtype (for shape inputs, tests).
  std::vector<int64_t> to_i64() const;
  std::vector<double> to_f64() const;
  std::string describe() const;  // "float32[1,3,224,224]"

 private:
  DataType dtype_ = DataType::kUndefined;
  std::vector<int64_t> dims_;
  int64_t numel_ = 0;
  std::shared_ptr<uint8_t> storage_;
  std::shared_ptr<std::vector<std::string>> strings_;
};

// A sequence of tensors (ONNX seq(tensor)) and an optional (absent or one value).
struct TensorSequence {
  DataType elem_type = DataType::kUndefined;
  std::vector<Tensor> items;
};

// What flows along a graph edge at run time.
class RuntimeValue {
 public:
  enum class Kind { kNone, kTensor, kSequence };
  RuntimeValue() = default;  // an absent optional
  RuntimeValue(Tensor t) : kind_(Kind::kTensor), tensor_(std::move(t)) {}  // NOLINT
  RuntimeValue(TensorSequence s) : kind_(Kind::kSequence), seq_(std::move(s)) {}  // NOLINT
  Kind kind() const { return kind_; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_tensor() const { return kind_ == Kind::kTensor; }
  bool is_sequence() const { return kind_ == Kind::kSequence; }
  const Tensor& tensor() const;  // throws Error unless is_tensor()
  Tensor& tensor();
  const TensorSequence& sequence() const;
  TensorSequence& sequence();

 private:
  Kind kind_ = Kind::kNone;
  Tensor tensor_;
  TensorSequence seq_;
};

// C++ element type of each DataType, for dispatch.
template <DataType D> struct DTypeTraits;
#define KILN_DTYPE_TRAIT(D, T) \
  template <> struct DTypeTraits<DataType::D> { using type = T; };
KILN_DTYPE_TRAIT(kFloat32, float)
KILN_DTYPE_TRAIT(kFloat64, double)
KILN_DTYPE_TRAIT(kFloat16, Float16)
KILN_DTYPE_TRAIT(kBFloat16, BFloat16)
KILN_DTYPE_TRAIT(kInt8, int8_t)
KILN_DTYPE_TRAIT(kInt16, int16_t)
KILN_DTYPE_TRAIT(kInt32, int32_t)
KILN_DTYPE_TRAIT(kInt64, int64_t)
KILN_DTYPE_TRAIT(kUInt8, uint8_t)
KILN_DTYPE_TRAIT(kUInt16, uint16_t)
KILN_DTYPE_TRAIT(kUInt32, uint32_t)
KILN_DTYPE_TRAIT(kUInt64, uint64_t)
KILN_DTYPE_TRAIT(kBool, bool)
KILN_DTYPE_TRAIT(kString, std::string)
KILN_DTYPE_TRAIT(kComplex64, std::complex<float>)
KILN_DTYPE_TRAIT(kComplex128, std::complex<double>)
KILN_DTYPE_TRAIT(kFloat8E4M3FN, Float8E4M3FN)
KILN_DTYPE_TRAIT(kFloat8E4M3FNUZ, Float8E4M3FNUZ)
KILN_DTYPE_TRAIT(kFloat8E5M2, Float8E5M2)
KILN_DTYPE_TRAIT(kFloat8E5M2FNUZ, Float8E5M2FNUZ)
KILN_DTYPE_TRAIT(kFloat4E2M1, Float4E2M1)
KILN_DTYPE_TRAIT(kFloat8E8M0, Float8E8M0)
KILN_DTYPE_TRAIT(kInt4, Int4)
KILN_DTYPE_TRAIT(kUInt4, UInt4)
KILN_DTYPE_TRAIT(kInt2, Int2)
KILN_DTYPE_TRAIT(kUInt2, UInt2)
#undef KILN_DTYPE_TRAIT

template <typename T> struct TypeTag { using type = T; };

// Calls fn(TypeTag<T>{}) with T the C++ type of dt. Throws Error(kUnsupported) for dtypes
// outside the list the caller allows.
#define KILN_DTYPE_CASE(D) \
  case DataType::D: return fn(TypeTag<typename DTypeTraits<DataType::D>::type>{});

// float32, float64, float16, bfloat16.
template <typename Fn> decltype(auto) dispatch_float(DataType dt, Fn&& fn) {
  switch (dt) {
    KILN_DTYPE_CASE(kFloat32) KILN_DTYPE_CASE(kFloat64) KILN_DTYPE_CASE(kFloat16)
    KILN_DTYPE_CASE(kBFloat16)
    default: throw_error(StatusCode::kUnsupported, "dtype " + std::string(dtype_name(dt)) + " is not a supported float type here");
  }
}

// All full-byte integers.
template <typename Fn> decltype(auto) dispatch_int(DataType dt, Fn&& fn) {
  switch (dt) {
    KILN_DTYPE_CASE(kInt8) KILN_DTYPE_CASE(kInt16) KILN_DTYPE_CASE(kInt32) KILN_DTYPE_CASE(kInt64)
    KILN_DTYPE_CASE(kUInt8) KILN_DTYPE_CASE(kUInt16) KILN_DTYPE_CASE(kUInt32) KILN_DTYPE_CASE(kUInt64)
    default: throw_error(StatusCode::kUnsupported, "dtype " + std::string(dtype_name(dt)) + " is not a supported integer type here");
  }
}

// Floats and full-byte integers: what arithmetic ops take.
template <typename Fn> decltype(auto) dispatch_numeric(DataType dt, Fn&& fn) {
  switch (dt) {
    KILN_DTYPE_CASE(kFloat32) KILN_DTYPE_CASE(kFloat64) KILN_DTYPE_CASE(kFloat16)
    KILN_DTYPE_CASE(kBFloat16)
    KILN_DTYPE_CASE(kInt8) KILN_DTYPE_CASE(kInt16) KILN_DTYPE_CASE(kInt32) KILN_DTYPE_CASE(kInt64)
    KILN_DTYPE_CASE(kUInt8) KILN_DTYPE_CASE(kUInt16) KILN_DTYPE_CASE(kUInt32) KILN_DTYPE_CASE(kUInt64)
    default: throw_error(StatusCode::kUnsupported, "dtype " + std::string(dtype_name(dt)) + " is not a supported numeric type here");
  }
}

// Every fixed-size dtype (not string): for data movement ops (Transpose, Gather, Concat...).
// Movement ops should rather copy bytes by dtype_size(); this exists for the rest.
template <typename Fn> decltype(auto) dispatch_all(DataType dt, Fn&& fn) {
  switch (dt) {
    KILN_DTYPE_CASE(kFloat32) KILN_DTYPE_CASE(kFloat64) KILN_DTYPE_CASE(kFloat16)
    KILN_DTYPE_CASE(kBFloat16)
    KILN_DTYPE_CASE(kInt8) KILN_DTYPE_CASE(kInt16) KILN_DTYPE_CASE(kInt32) KILN_DTYPE_CASE(kInt64)
    KILN_DTYPE_CASE(kUInt8) KILN_DTYPE_CASE(kUInt16) KILN_DTYPE_CASE(kUInt32) KILN_DTYPE_CASE(kUInt64)
    KILN_DTYPE_CASE(kBool) KILN_DTYPE_CASE(kComplex64) KILN_DTYPE_CASE(kComplex128)
    KILN_DTYPE_CASE(kFloat8E4M3FN) KILN_DTYPE_CASE(kFloat8E4M3FNUZ) KILN_DTYPE_CASE(kFloat8E5M2)
    KILN_DTYPE_CASE(kFloat8E5M2FNUZ) KILN_DTYPE_CASE(kFloat4E2M1) KILN_DTYPE_CASE(kFloat8E8M0)
    KILN_DTYPE_CASE(kInt4) KILN_DTYPE_CASE(kUInt4) KILN_DTYPE_CASE(kInt2) KILN_DTYPE_CASE(kUInt2)
    KILN_DTYPE_CASE(kString)
    default: throw_error(StatusCode::kUnsupported, "dtype " + std::string(dtype_name(dt)) + " is not supported");
  }
}
#undef KILN_DTYPE_CASE

}  // namespace kiln
