// Storage types for the narrow floats, and exact conversions to and from float.
// Conversions round to nearest even, as the ONNX Cast spec requires.
#pragma once
#include <cstdint>

namespace kiln {

float half_to_float(uint16_t bits);
uint16_t float_to_half(float value);
float bfloat16_to_float(uint16_t bits);
uint16_t float_to_bfloat16(float value);

// The 8-, 6- and 4-bit float formats of ONNX. kind selects the format; saturate follows the
// Cast operator's attribute (out-of-range values become +-max instead of inf/NaN).
enum class MiniFloat { kE4M3FN, kE4M3FNUZ, kE5M2, kE5M2FNUZ, kE2M1, kE8M0 };
float minifloat_to_float(uint8_t bits, MiniFloat kind);
uint8_t float_to_minifloat(float value, MiniFloat kind, bool saturate = true);
// E8M0 has its own rounding choices (Cast's round_mode: "up", "down", "nearest").
enum class E8M0Rounding { kUp, kDown, kNearest };
uint8_t float_to_e8m0(float value, E8M0Rounding rounding, bool saturate = true);

struct Float16 {
  uint16_t bits = 0;
  Float16() = default;
  explicit Float16(float f) : bits(float_to_half(f)) {}
  static Float16 from_bits(uint16_t b) { Float16 h; h.bits = b; return h; }
  operator float() const { return half_to_float(bits); }  // NOLINT: numeric type
};

struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  explicit BFloat16(float f) : bits(float_to_bfloat16(f)) {}
  static BFloat16 from_bits(uint16_t b) { BFloat16 h; h.bits = b; return h; }
  operator float() const { return bfloat16_to_float(bits); }  // NOLINT: numeric type
};

template <MiniFloat K>
struct MiniFloatT {
  static constexpr MiniFloat kKind = K;
  uint8_t bits = 0;
  MiniFloatT() = default;
  explicit MiniFloatT(float f) : bits(float_to_minifloat(f, K, true)) {}
  static MiniFloatT from_bits(uint8_t b) { MiniFloatT h; h.bits = b; return h; }
  operator float() const { return minifloat_to_float(bits, K); }  // NOLINT: numeric type
};

using Float8E4M3FN = MiniFloatT<MiniFloat::kE4M3FN>;
using Float8E4M3FNUZ = MiniFloatT<MiniFloat::kE4M3FNUZ>;
using Float8E5M2 = MiniFloatT<MiniFloat::kE5M2>;
using Float8E5M2FNUZ = MiniFloatT<MiniFloat::kE5M2FNUZ>;
using Float4E2M1 = MiniFloatT<MiniFloat::kE2M1>;
using Float8E8M0 = MiniFloatT<MiniFloat::kE8M0>;

// 4- and 2-bit integers, unpacked to one byte each (see dtype.h).
struct Int4 { int8_t v = 0; };
struct UInt4 { uint8_t v = 0; };
struct Int2 { int8_t v = 0; };
struct UInt2 { uint8_t v = 0; };

}  // namespace kiln
