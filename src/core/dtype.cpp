#include "core/dtype.h"

#include <array>

namespace kiln {
namespace {

struct DTypeInfo {
  DataType dt;
  const char* name;
  size_t size;
};

constexpr std::array<DTypeInfo, 27> kInfo = {{
    {DataType::kUndefined, "undefined", 0},
    {DataType::kFloat32, "float32", 4},
    {DataType::kUInt8, "uint8", 1},
    {DataType::kInt8, "int8", 1},
    {DataType::kUInt16, "uint16", 2},
    {DataType::kInt16, "int16", 2},
    {DataType::kInt32, "int32", 4},
    {DataType::kInt64, "int64", 8},
    {DataType::kString, "string", 0},
    {DataType::kBool, "bool", 1},
    {DataType::kFloat16, "float16", 2},
    {DataType::kFloat64, "float64", 8},
    {DataType::kUInt32, "uint32", 4},
    {DataType::kUInt64, "uint64", 8},
    {DataType::kComplex64, "complex64", 8},
    {DataType::kComplex128, "complex128", 16},
    {DataType::kBFloat16, "bfloat16", 2},
    {DataType::kFloat8E4M3FN, "float8e4m3fn", 1},
    {DataType::kFloat8E4M3FNUZ, "float8e4m3fnuz", 1},
    {DataType::kFloat8E5M2, "float8e5m2", 1},
    {DataType::kFloat8E5M2FNUZ, "float8e5m2fnuz", 1},
    {DataType::kUInt4, "uint4", 1},
    {DataType::kInt4, "int4", 1},
    {DataType::kFloat4E2M1, "float4e2m1", 1},
    {DataType::kFloat8E8M0, "float8e8m0", 1},
    {DataType::kUInt2, "uint2", 1},
    {DataType::kInt2, "int2", 1},
}};

}  // namespace

size_t dtype_size(DataType dt) {
  auto i = static_cast<size_t>(dt);
  return i < kInfo.size() ? kInfo[i].size : 0;
}

std::string_view dtype_name(DataType dt) {
  auto i = static_cast<size_t>(dt);
  return i < kInfo.size() ? kInfo[i].name : "invalid";
}

std::optional<DataType> dtype_from_code(int32_t code) {
  if (code <= 0 || code >= static_cast<int32_t>(kInfo.size())) return std::nullopt;
  return static_cast<DataType>(code);
}

std::optional<DataType> dtype_from_name(std::string_view name) {
  for (const auto& info : kInfo)
    if (name == info.name && info.dt != DataType::kUndefined) return info.dt;
  return std::nullopt;
}

bool is_float(DataType dt) {
  switch (dt) {
    case DataType::kFloat32: case DataType::kFloat16: case DataType::kFloat64:
    case DataType::kBFloat16: case DataType::kFloat8E4M3FN: case DataType::kFloat8E4M3FNUZ:
    case DataType::kFloat8E5M2: case DataType::kFloat8E5M2FNUZ: case DataType::kFloat4E2M1:
    case DataType::kFloat8E8M0:
      return true;
    default:
      return false;
  }
}

bool is_signed_integer(DataType dt) {
  switch (dt) {
    case DataType::kInt8: case DataType::kInt16: case DataType::kInt32: case DataType::kInt64:
    case DataType::kInt4: case DataType::kInt2:
      return true;
    default:
      return false;
  }
}

bool is_integer(DataType dt) {
  switch (dt) {
    case DataType::kUInt8: case DataType::kUInt16: case DataType::kUInt32: case DataType::kUInt64:
    case DataType::kUInt4: case DataType::kUInt2:
      return true;
    default:
      return is_signed_integer(dt);
  }
}

int sub_byte_bits(DataType dt) {
  switch (dt) {
    case DataType::kUInt4: case DataType::kInt4: case DataType::kFloat4E2M1: return 4;
    case DataType::kUInt2: case DataType::kInt2: return 2;
    default: return 0;
  }
}

bool is_sub_byte(DataType dt) { return sub_byte_bits(dt) != 0; }

}  // namespace kiln
