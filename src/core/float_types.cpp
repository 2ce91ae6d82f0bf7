#include "core/float_types.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace kiln {
namespace {

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

struct Format {
  int exp_bits, mant_bits, bias;
  bool has_inf;       // IEEE-style inf/NaN in the top exponent (E5M2)
  bool nan_all_ones;  // only S.1111.111 is NaN (E4M3FN)
  bool unsigned_zero; // FNUZ: 0x80 is the only NaN, no -0
  bool has_sign;
};

Format format_of(MiniFloat kind) {
  switch (kind) {
    case MiniFloat::kE4M3FN: return {4, 3, 7, false, true, false, true};
    case MiniFloat::kE4M3FNUZ: return {4, 3, 8, false, false, true, true};
    case MiniFloat::kE5M2: return {5, 2, 15, true, false, false, true};
    case MiniFloat::kE5M2FNUZ: return {5, 2, 16, false, false, true, true};
    case MiniFloat::kE2M1: return {2, 1, 1, false, false, false, true};
    case MiniFloat::kE8M0: return {8, 0, 127, false, false, false, false};
  }
  return {};
}

// Largest finite magnitude's bit pattern (without sign).
uint8_t max_finite_bits(const Format& f) {
  int top_exp = (1 << f.exp_bits) - 1;
  int mant_all = (1 << f.mant_bits) - 1;
  if (f.has_inf) return static_cast<uint8_t>(((top_exp - 1) << f.mant_bits) | mant_all);
  if (f.nan_all_ones) return static_cast<uint8_t>((top_exp << f.mant_bits) | (mant_all - 1));
  return static_cast<uint8_t>((top_exp << f.mant_bits) | mant_all);
}

uint8_t nan_bits(const Format& f) {
  if (f.unsigned_zero) return 0x80;
  if (!f.has_sign) return 0xFF;
  return static_cast<uint8_t>((1 << (f.exp_bits + f.mant_bits)) - 1);  // S=0, all ones
}

double decode_magnitude(uint8_t mag, const Format& f) {
  int exp = mag >> f.mant_bits;
  int mant = mag & ((1 << f.mant_bits) - 1);
  if (exp == 0) return std::ldexp(static_cast<double>(mant), 1 - f.bias - f.mant_bits);
  return std::ldexp(1.0 + std::ldexp(static_cast<double>(mant), -f.mant_bits), exp - f.bias);
}

}  // namespace

float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  if (exp == 0x1F) return bits_float(sign | 0x7F800000 | (mant << 13));  // inf / NaN
  if (exp == 0) {
    float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  return bits_float(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t float_to_half(float value) {
  uint32_t u = float_bits(value);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  uint32_t abs = u & 0x7FFFFFFF;
  if (abs > 0x7F800000) return static_cast<uint16_t>(sign | 0x7E00);  // NaN
  if (abs >= 0x477FF000) return static_cast<uint16_t>(sign | 0x7C00);  // rounds to inf
  if (abs < 0x38800000) {  // subnormal half (or zero): quantum 2^-24
    float a = bits_float(abs);
    float q = std::nearbyint(a * 16777216.0f);  // default rounding mode: nearest even
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(q));
  }
  uint32_t mant = abs & 0x7FFFFF;
  uint32_t exp = (abs >> 23) - 112;
  uint32_t half = (exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) ++half;
  return static_cast<uint16_t>(sign | half);
}

float bfloat16_to_float(uint16_t bits) { return bits_float(static_cast<uint32_t>(bits) << 16); }

uint16_t float_to_bfloat16(float value) {
  uint32_t u = float_bits(value);
  if ((u & 0x7FFFFFFF) > 0x7F800000) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  uint32_t lsb = (u >> 16) & 1;
  u += 0x7FFF + lsb;
  return static_cast<uint16_t>(u >> 16);
}

float minifloat_to_float(uint8_t bits, MiniFloat kind) {
  Format f = format_of(kind);
  if (kind == MiniFloat::kE8M0) {
    if (bits == 0xFF) return std::numeric_limits<float>::quiet_NaN();
    return static_cast<float>(std::ldexp(1.0, static_cast<int>(bits) - 127));
  }
  int width = 1 + f.exp_bits + f.mant_bits;
  bits &= static_cast<uint8_t>((1 << width) - 1);
  uint8_t sign_mask = static_cast<uint8_t>(1 << (width - 1));
  bool negative = bits & sign_mask;
  uint8_t mag = bits & static_cast<uint8_t>(sign_mask - 1);
  if (f.unsigned_zero && bits == 0x80) return std::numeric_limits<float>::quiet_NaN();
  int top_exp = (1 << f.exp_bits) - 1;
  int exp = mag >> f.mant_bits;
  int mant = mag & ((1 << f.mant_bits) - 1);
  if (f.has_inf && exp == top_exp) {
    if (mant == 0) return negative ? -INFINITY : INFINITY;
    return std::numeric_limits<float>::quiet_NaN();
  }
  if (f.nan_all_ones && exp == top_exp && mant == (1 << f.mant_bits) - 1)
    return std::numeric_limits<float>::quiet_NaN();
  double v = decode_magnitude(mag, f);
  return static_cast<float>(negative ? -v : v);
}

uint8_t float_to_minifloat(float value, MiniFloat kind, bool saturate) {
  if (kind == MiniFloat::kE8M0) return float_to_e8m0(value, E8M0Rounding::kUp, saturate);
  Format f = format_of(kind);
  int width = 1 + f.exp_bits + f.mant_bits;
  uint8_t sign = std::signbit(value) ? static_cast<uint8_t>(1 << (width - 1)) : 0;
  uint8_t max_bits = max_finite_bits(f);
  uint8_t inf_bits = static_cast<uint8_t>(((1 << f.exp_bits) - 1) << f.mant_bits);
  // FP4 has no NaN: ml_dtypes (ONNX's reference) maps NaN to 0x8, the -0 pattern.
  if (std::isnan(value)) return kind == MiniFloat::kE2M1 ? 0x8 : nan_bits(f);
  if (kind == MiniFloat::kE2M1) saturate = true;  // FP4 has neither inf nor NaN
  double a = std::fabs(static_cast<double>(value));
  double max_value = decode_magnitude(max_bits, f);
  auto overflow = [&]() -> uint8_t {
    if (saturate) return static_cast<uint8_t>(sign | max_bits);
    if (f.has_inf) return static_cast<uint8_t>(sign | inf_bits);
    return nan_bits(f);
  };
  if (std::isinf(value)) {
    if (f.has_inf) return saturate ? static_cast<uint8_t>(sign | max_bits) : static_cast<uint8_t>(sign | inf_bits);
    return overflow();
  }
  if (a == 0.0) return f.unsigned_zero ? 0 : sign;
  // Quantum of the binade that holds a (subnormals share the lowest binade's quantum).
  int e;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  int unbiased = e - 1;
  int min_exp = 1 - f.bias;
  if (unbiased < min_exp) unbiased = min_exp;
  double quantum = std::ldexp(1.0, unbiased - f.mant_bits);
  double q = std::nearbyint(a / quantum) * quantum;  // nearest even (default FP env)
  if (q > max_value) return overflow();
  if (q == 0.0) return f.unsigned_zero ? 0 : sign;
  int qe;
  std::frexp(q, &qe);
  int qexp = qe - 1;
  uint8_t mag;
  if (qexp < min_exp) {
    mag = static_cast<uint8_t>(std::ldexp(q, f.bias - 1 + f.mant_bits));  // subnormal mantissa
  } else {
    double frac = std::ldexp(q, -qexp) - 1.0;
    int mant = static_cast<int>(std::ldexp(frac, f.mant_bits));
    mag = static_cast<uint8_t>(((qexp + f.bias) << f.mant_bits) | mant);
  }
  return static_cast<uint8_t>(sign | mag);
}

// Bit for bit the algorithm of ONNX's reference (onnx.numpy_helper.to_float8e8m0): the
// float32 exponent field, rounded by the mantissa; the sign is ignored, NaN and inf give 0xFF.
uint8_t float_to_e8m0(float value, E8M0Rounding rounding, bool saturate) {
  uint32_t bits = float_bits(value);
  uint32_t exponent = (bits >> 23) & 0xFF;
  if (exponent == 0xFF) return 0xFF;
  bool round_up = false;
  if (rounding == E8M0Rounding::kNearest) {
    bool g = bits & 0x400000, r = bits & 0x200000, s = bits & 0x1FFFFF, lsb = exponent > 0;
    round_up = g && (r || s || lsb);
  } else if (rounding == E8M0Rounding::kUp) {
    round_up = (bits & 0x7FFFFF) != 0;
  }
  if (round_up && !(saturate && exponent == 0xFE)) ++exponent;
  return static_cast<uint8_t>(exponent);
}

}  // namespace kiln
