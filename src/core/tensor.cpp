#include "core/tensor.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace kiln {
namespace {

std::atomic<int64_t> g_max_tensor_bytes{int64_t{16} << 30};

std::shared_ptr<uint8_t> allocate_aligned(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) throw_error(StatusCode::kOutOfMemory, "cannot allocate " + std::to_string(bytes) + " bytes");
  std::memset(p, 0, rounded);
  return std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); });
}

}  // namespace

int64_t max_tensor_bytes() { return g_max_tensor_bytes.load(); }
void set_max_tensor_bytes(int64_t bytes) { g_max_tensor_bytes.store(bytes); }

Tensor::Tensor(DataType dtype, std::vector<int64_t> dims) : dtype_(dtype), dims_(std::move(dims)) {
  auto count = checked_element_count(dims_);
  if (!count)
    throw_error(StatusCode::kInvalidArgument, "invalid tensor dims " + dims_to_string(dims_));
  numel_ = *count;
  if (dtype_ == DataType::kString) {
    if (numel_ > max_tensor_bytes() / 32)
      throw_error(StatusCode::kOutOfMemory, "string tensor " + dims_to_string(dims_) + " is too large");
    strings_ = std::make_shared<std::vector<std::string>>(static_cast<size_t>(numel_));
    return;
  }
  size_t esize = dtype_size(dtype_);
  if (esize == 0) throw_error(StatusCode::kInvalidArgument, "tensor of undefined dtype");
  if (numel_ > max_tensor_bytes() / static_cast<int64_t>(esize))
    throw_error(StatusCode::kOutOfMemory,
                "tensor " + std::string(dtype_name(dtype_)) + dims_to_string(dims_) + " needs more than the " +
                    std::to_string(max_tensor_bytes() >> 20) + " MiB allocation limit");
  storage_ = allocate_aligned(static_cast<size_t>(numel_) * esize);
}

Tensor Tensor::scalar_f32(float v) {
  Tensor t(DataType::kFloat32, {});
  *t.data<float>() = v;
  return t;
}

Tensor Tensor::scalar_i64(int64_t v) {
  Tensor t(DataType::kInt64, {});
  *t.data<int64_t>() = v;
  return t;
}

Tensor Tensor::from_i64(const std::vector<int64_t>& values) {
  Tensor t(DataType::kInt64, {static_cast<int64_t>(values.size())});
  if (!values.empty()) std::memcpy(t.raw(), values.data(), values.size() * 8);
  return t;
}

Tensor Tensor::view(DataType dtype, std::vector<int64_t> dims, void* data) {
  auto count = checked_element_count(dims);
  if (!count) throw_error(StatusCode::kInvalidArgument, "invalid tensor dims " + dims_to_string(dims));
  if (dtype == DataType::kString || dtype_size(dtype) == 0)
    throw_error(StatusCode::kInvalidArgument, "cannot view memory as a " + std::string(dtype_name(dtype)) + " tensor");
  Tensor t;
  t.dtype_ = dtype;
  t.dims_ = std::move(dims);
  t.numel_ = *count;
  t.storage_ = std::shared_ptr<uint8_t>(static_cast<uint8_t*>(data), [](uint8_t*) {});
  return t;
}

Tensor Tensor::reshaped(std::vector<int64_t> dims) const {
  auto count = checked_element_count(dims);
  if (!count || *count != numel_)
    throw_error(StatusCode::kInvalidArgument,
                "cannot reshape " + describe() + " to " + dims_to_string(dims));
  Tensor t = *this;
  t.dims_ = std::move(dims);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(dtype_, dims_);
  if (dtype_ == DataType::kString) *t.strings_ = *strings_;
  else if (nbytes()) std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

std::vector<int64_t> Tensor::to_i64() const {
  std::vector<int64_t> out(static_cast<size_t>(numel_));
  if (dtype_ == DataType::kBool) {
    for (int64_t i = 0; i < numel_; ++i) out[i] = data<bool>()[i] ? 1 : 0;
    return out;
  }
  if (is_float(dtype_)) {
    auto f = to_f64();
    for (int64_t i = 0; i < numel_; ++i) {
      // Converting NaN or a value outside int64's range is undefined behaviour: refuse it.
      if (!(f[i] >= -9.2233720368547758e18 && f[i] < 9.2233720368547758e18))
        throw_error(StatusCode::kInvalidArgument, "value " + std::to_string(f[i]) + " does not fit in int64");
      out[i] = static_cast<int64_t>(f[i]);
    }
    return out;
  }
  dispatch_int(dtype_, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = data<T>();
    for (int64_t i = 0; i < numel_; ++i) out[i] = static_cast<int64_t>(p[i]);
  });
  return out;
}

std::vector<double> Tensor::to_f64() const {
  std::vector<double> out(static_cast<size_t>(numel_));
  if (dtype_ == DataType::kBool) {
    for (int64_t i = 0; i < numel_; ++i) out[i] = data<bool>()[i] ? 1.0 : 0.0;
    return out;
  }
  dispatch_all(dtype_, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::complex<float>> ||
                  std::is_same_v<T, std::complex<double>>) {
      throw_error(StatusCode::kUnsupported, "cannot read " + describe() + " as real numbers");
    } else if constexpr (std::is_same_v<T, Int4> || std::is_same_v<T, UInt4> ||
                         std::is_same_v<T, Int2> || std::is_same_v<T, UInt2>) {
      const T* p = data<T>();
      for (int64_t i = 0; i < numel_; ++i) out[i] = static_cast<double>(p[i].v);
    } else if constexpr (std::is_arithmetic_v<T>) {
      const T* p = data<T>();
      for (int64_t i = 0; i < numel_; ++i) out[i] = static_cast<double>(p[i]);
    } else {  // narrow floats convert through float
      const T* p = data<T>();
      for (int64_t i = 0; i < numel_; ++i) out[i] = static_cast<double>(static_cast<float>(p[i]));
    }
  });
  return out;
}

std::string Tensor::describe() const { return std::string(dtype_name(dtype_)) + dims_to_string(dims_); }

const Tensor& RuntimeValue::tensor() const {
  if (!is_tensor()) throw_error(StatusCode::kInvalidArgument, "expected a tensor value");
  return tensor_;
}
Tensor& RuntimeValue::tensor() {
  if (!is_tensor()) throw_error(StatusCode::kInvalidArgument, "expected a tensor value");
  return tensor_;
}
const TensorSequence& RuntimeValue::sequence() const {
  if (!is_sequence()) throw_error(StatusCode::kInvalidArgument, "expected a sequence value");
  return seq_;
}
TensorSequence& RuntimeValue::sequence() {
  if (!is_sequence()) throw_error(StatusCode::kInvalidArgument, "expected a sequence value");
  return seq_;
}

}  // namespace kiln
