// Element types. The numeric codes equal ONNX's TensorProto.DataType so that the engine file
// and the importer share one stable numbering; nothing here depends on ONNX itself.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln {

enum class DataType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBFloat16 = 16,
  kFloat8E4M3FN = 17,
  kFloat8E4M3FNUZ = 18,
  kFloat8E5M2 = 19,
  kFloat8E5M2FNUZ = 20,
  kUInt4 = 21,
  kInt4 = 22,
  kFloat4E2M1 = 23,
  kFloat8E8M0 = 24,
  kUInt2 = 25,
  kInt2 = 26,
};

// Bytes one element takes in memory. Sub-byte types (int4, uint4, float4, int2, uint2) are
// kept unpacked, one byte per element: only the importer and the engine file pack them.
size_t dtype_size(DataType dt);
std::string_view dtype_name(DataType dt);  // "float32", "float16", ...
std::optional<DataType> dtype_from_code(int32_t code);  // nullopt for unknown codes
std::optional<DataType> dtype_from_name(std::string_view name);
bool is_float(DataType dt);    // any floating type, fp8/fp4 included
bool is_integer(DataType dt);  // signed or unsigned, sub-byte included
bool is_signed_integer(DataType dt);
bool is_sub_byte(DataType dt);  // 4- and 2-bit types
int sub_byte_bits(DataType dt);  // 4 or 2 for sub-byte types, else 0

}  // namespace kiln
