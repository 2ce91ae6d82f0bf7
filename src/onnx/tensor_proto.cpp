#include "onnx/tensor_proto.h"

#include <bit>
#include <cstring>
#include <new>

#include "onnx/external_data.h"
#include "onnx/onnx-ml.pb.h"

static_assert(std::endian::native == std::endian::little, "Kiln reads ONNX's little-endian data directly");

namespace kiln::importer {
namespace {

// Bytes of the on-disk (packed) form of n elements.
int64_t packed_bytes(DataType dt, int64_t n) {
  int bits = sub_byte_bits(dt);
  if (bits) return (n * bits + 7) / 8;
  return n * static_cast<int64_t>(dtype_size(dt));
}

// Unpacks 4- or 2-bit elements (first element in the low bits), sign-extending signed types.
void unpack_sub_byte(DataType dt, const uint8_t* packed, int64_t n, uint8_t* out) {
  int bits = sub_byte_bits(dt);
  int per_byte = 8 / bits;
  uint8_t mask = static_cast<uint8_t>((1 << bits) - 1);
  bool sign = dt == DataType::kInt4 || dt == DataType::kInt2;
  for (int64_t i = 0; i < n; ++i) {
    uint8_t v = (packed[i / per_byte] >> ((i % per_byte) * bits)) & mask;
    if (sign && (v & (1 << (bits - 1)))) v = static_cast<uint8_t>(v | ~mask);
    out[i] = v;
  }
}

void pack_sub_byte(DataType dt, const uint8_t* in, int64_t n, uint8_t* packed) {
  int bits = sub_byte_bits(dt);
  int per_byte = 8 / bits;
  uint8_t mask = static_cast<uint8_t>((1 << bits) - 1);
  std::memset(packed, 0, static_cast<size_t>(packed_bytes(dt, n)));
  for (int64_t i = 0; i < n; ++i) packed[i / per_byte] |= static_cast<uint8_t>((in[i] & mask) << ((i % per_byte) * bits));
}

// Copies the packed bytes `src` (packed_bytes(dt, n) long) into t.
void fill_from_bytes(Tensor& t, const uint8_t* src) {
  if (is_sub_byte(t.dtype())) unpack_sub_byte(t.dtype(), src, t.numel(), t.data<uint8_t>());
  else if (t.nbytes()) std::memcpy(t.raw(), src, t.nbytes());
}

template <typename Field>
Status check_count(const Field& field, int64_t want, const std::string& who, const char* field_name) {
  if (static_cast<int64_t>(field.size()) != want)
    return invalid_model(who + ": " + field_name + " holds " + std::to_string(field.size()) + " values, " +
                         std::to_string(want) + " expected");
  return Status::ok();
}

// Checks that the typed field holding dt's values has the entries n elements need, before the
// tensor is allocated: a model may claim a huge tensor and ship no data.
Status check_typed_count(const onnx::TensorProto& p, DataType dt, int64_t n, const std::string& who) {
  switch (dt) {
    case DataType::kFloat32: return check_count(p.float_data(), n, who, "float_data");
    case DataType::kComplex64: return check_count(p.float_data(), 2 * n, who, "float_data");
    case DataType::kFloat64: return check_count(p.double_data(), n, who, "double_data");
    case DataType::kComplex128: return check_count(p.double_data(), 2 * n, who, "double_data");
    case DataType::kInt64: return check_count(p.int64_data(), n, who, "int64_data");
    case DataType::kUInt32:
    case DataType::kUInt64: return check_count(p.uint64_data(), n, who, "uint64_data");
    case DataType::kString: return check_count(p.string_data(), n, who, "string_data");
    default: return check_count(p.int32_data(), is_sub_byte(dt) ? packed_bytes(dt, n) : n, who, "int32_data");
  }
}

Status fill_from_typed_fields(Tensor& t, const onnx::TensorProto& p, const std::string& who) {
  const int64_t n = t.numel();
  DataType dt = t.dtype();
  switch (dt) {
    case DataType::kFloat32:
      KILN_RETURN_IF_ERROR(check_count(p.float_data(), n, who, "float_data"));
      if (n) std::memcpy(t.raw(), p.float_data().data(), static_cast<size_t>(n) * 4);
      return Status::ok();
    case DataType::kComplex64:
      KILN_RETURN_IF_ERROR(check_count(p.float_data(), 2 * n, who, "float_data"));
      if (n) std::memcpy(t.raw(), p.float_data().data(), static_cast<size_t>(n) * 8);
      return Status::ok();
    case DataType::kFloat64:
      KILN_RETURN_IF_ERROR(check_count(p.double_data(), n, who, "double_data"));
      if (n) std::memcpy(t.raw(), p.double_data().data(), static_cast<size_t>(n) * 8);
      return Status::ok();
    case DataType::kComplex128:
      KILN_RETURN_IF_ERROR(check_count(p.double_data(), 2 * n, who, "double_data"));
      if (n) std::memcpy(t.raw(), p.double_data().data(), static_cast<size_t>(n) * 16);
      return Status::ok();
    case DataType::kInt64:
      KILN_RETURN_IF_ERROR(check_count(p.int64_data(), n, who, "int64_data"));
      if (n) std::memcpy(t.raw(), p.int64_data().data(), static_cast<size_t>(n) * 8);
      return Status::ok();
    case DataType::kUInt32:
    case DataType::kUInt64:
      KILN_RETURN_IF_ERROR(check_count(p.uint64_data(), n, who, "uint64_data"));
      for (int64_t i = 0; i < n; ++i) {
        if (dt == DataType::kUInt32) t.data<uint32_t>()[i] = static_cast<uint32_t>(p.uint64_data(static_cast<int>(i)));
        else t.data<uint64_t>()[i] = p.uint64_data(static_cast<int>(i));
      }
      return Status::ok();
    case DataType::kString:
      KILN_RETURN_IF_ERROR(check_count(p.string_data(), n, who, "string_data"));
      for (int64_t i = 0; i < n; ++i) t.strings()[i] = p.string_data(static_cast<int>(i));
      return Status::ok();
    default:
      break;
  }
  // Everything else travels in int32_data: one element per entry, or packed sub-byte bytes.
  if (is_sub_byte(dt)) {
    int64_t bytes = packed_bytes(dt, n);
    KILN_RETURN_IF_ERROR(check_count(p.int32_data(), bytes, who, "int32_data"));
    std::vector<uint8_t> packed(static_cast<size_t>(bytes));
    for (int64_t i = 0; i < bytes; ++i) packed[i] = static_cast<uint8_t>(p.int32_data(static_cast<int>(i)));
    unpack_sub_byte(dt, packed.data(), n, t.data<uint8_t>());
    return Status::ok();
  }
  KILN_RETURN_IF_ERROR(check_count(p.int32_data(), n, who, "int32_data"));
  size_t es = dtype_size(dt);
  for (int64_t i = 0; i < n; ++i) {
    int32_t v = p.int32_data(static_cast<int>(i));
    uint8_t* dst = static_cast<uint8_t*>(t.raw()) + i * es;
    if (dt == DataType::kBool) *dst = v != 0;
    else if (es == 1) *dst = static_cast<uint8_t>(v);
    else if (es == 2) { uint16_t u = static_cast<uint16_t>(v); std::memcpy(dst, &u, 2); }
    else std::memcpy(dst, &v, 4);
  }
  return Status::ok();
}

}  // namespace

Result<Tensor> tensor_from_proto(const onnx::TensorProto& p, const ExternalDataRoot& root) {
  const std::string who = "tensor '" + p.name() + "'";
  auto dt = dtype_from_code(p.data_type());
  if (!dt) return unsupported(who + " has data type " + std::to_string(p.data_type()) + ", which Kiln does not support");
  if (p.has_segment()) return unsupported(who + " is segmented, which Kiln does not support");
  std::vector<int64_t> dims(p.dims().begin(), p.dims().end());
  for (int64_t d : dims)
    if (d < 0) return invalid_model(who + " has a negative dim in " + dims_to_string(dims));
  auto count = checked_element_count(dims);
  if (!count) return invalid_model(who + " has dims " + dims_to_string(dims) + " whose size overflows");
  const int64_t n = *count;
  if (*dt != DataType::kString && n > max_tensor_bytes() / static_cast<int64_t>(std::max<size_t>(dtype_size(*dt), 1)))
    return Status(StatusCode::kOutOfMemory, who + " " + dims_to_string(dims) + " exceeds the tensor size limit");
  try {
    if (p.data_location() == onnx::TensorProto::EXTERNAL) {
      if (*dt == DataType::kString) return invalid_model(who + ": string tensors cannot use external data");
      std::string location;
      int64_t offset = 0, length = -1;
      for (const auto& kv : p.external_data()) {
        auto parse = [&](int64_t& out) -> Status {
          const std::string& s = kv.value();
          if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
            return invalid_model(who + ": external data " + kv.key() + " '" + s + "' is not a valid number");
          out = std::stoll(s);
          return Status::ok();
        };
        if (kv.key() == "location") location = kv.value();
        else if (kv.key() == "offset") KILN_RETURN_IF_ERROR(parse(offset));
        else if (kv.key() == "length") KILN_RETURN_IF_ERROR(parse(length));
      }
      int64_t want = packed_bytes(*dt, n);
      KILN_ASSIGN_OR_RETURN(auto bytes, read_external_data(root.dir, location, offset, length, want));
      Tensor t(*dt, dims);
      fill_from_bytes(t, bytes.data());
      return t;
    }
    if (p.has_raw_data()) {
      if (*dt == DataType::kString) return invalid_model(who + ": string tensors cannot use raw_data");
      int64_t want = packed_bytes(*dt, n);
      if (static_cast<int64_t>(p.raw_data().size()) != want)
        return invalid_model(who + " " + dims_to_string(dims) + " has " + std::to_string(p.raw_data().size()) +
                             " bytes of raw_data, " + std::to_string(want) + " expected");
      Tensor t(*dt, dims);
      fill_from_bytes(t, reinterpret_cast<const uint8_t*>(p.raw_data().data()));
      return t;
    }
    KILN_RETURN_IF_ERROR(check_typed_count(p, *dt, n, who));
    Tensor t(*dt, dims);
    KILN_RETURN_IF_ERROR(fill_from_typed_fields(t, p, who));
    return t;
  } catch (const Error& e) {
    return e.to_status().with_context(who);
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, who + ": out of host memory");
  }
}

Result<Tensor> tensor_from_sparse_proto(const onnx::SparseTensorProto& p, const ExternalDataRoot& root) {
  const std::string who = "sparse tensor '" + p.values().name() + "'";
  KILN_ASSIGN_OR_RETURN(Tensor values, tensor_from_proto(p.values(), root));
  KILN_ASSIGN_OR_RETURN(Tensor indices, tensor_from_proto(p.indices(), root));
  std::vector<int64_t> dims(p.dims().begin(), p.dims().end());
  for (int64_t d : dims)
    if (d < 0) return invalid_model(who + " has a negative dim");
  auto count = checked_element_count(dims);
  if (!count) return invalid_model(who + " has dims whose size overflows");
  if (values.rank() != 1) return invalid_model(who + ": values must be 1-D");
  if (indices.dtype() != DataType::kInt64) return invalid_model(who + ": indices must be int64");
  const int64_t nnz = values.numel();
  const size_t rank = dims.size();
  bool linear = indices.rank() == 1;
  if (linear ? indices.numel() != nnz
             : (indices.rank() != 2 || indices.dim(0) != nnz || indices.dim(1) != static_cast<int64_t>(rank)))
    return invalid_model(who + ": indices shape " + dims_to_string(indices.dims()) + " does not fit " +
                         std::to_string(nnz) + " values of rank " + std::to_string(rank));
  try {
    Tensor dense(values.dtype(), dims);
    size_t es = dtype_size(values.dtype());
    const int64_t* idx = indices.data<int64_t>();
    for (int64_t k = 0; k < nnz; ++k) {
      int64_t flat = 0;
      if (linear) {
        flat = idx[k];
      } else {
        for (size_t r = 0; r < rank; ++r) {
          int64_t i = idx[k * static_cast<int64_t>(rank) + static_cast<int64_t>(r)];
          if (i < 0 || i >= dims[r]) return invalid_model(who + ": index out of range");
          flat = flat * dims[r] + i;
        }
      }
      if (flat < 0 || flat >= *count) return invalid_model(who + ": index " + std::to_string(flat) + " out of range");
      if (values.dtype() == DataType::kString) dense.strings()[flat] = values.strings()[k];
      else std::memcpy(static_cast<uint8_t*>(dense.raw()) + flat * es, static_cast<const uint8_t*>(values.raw()) + k * es, es);
    }
    return dense;
  } catch (const Error& e) {
    return e.to_status().with_context(who);
  }
}

void tensor_to_proto(const Tensor& t, onnx::TensorProto& proto) {
  proto.set_data_type(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.dims()) proto.add_dims(d);
  if (t.dtype() == DataType::kString) {
    for (const auto& s : t.strings()) proto.add_string_data(s);
    return;
  }
  if (is_sub_byte(t.dtype())) {
    std::string packed(static_cast<size_t>(packed_bytes(t.dtype(), t.numel())), '\0');
    pack_sub_byte(t.dtype(), t.data<uint8_t>(), t.numel(), reinterpret_cast<uint8_t*>(packed.data()));
    proto.set_raw_data(packed);
    return;
  }
  proto.set_raw_data(std::string(static_cast<const char*>(t.raw()), t.nbytes()));
}

}  // namespace kiln::importer
