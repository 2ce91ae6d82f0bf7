// Cast, CastLike and BitCast across every dtype Kiln knows, following ONNX's reference
// (numpy / ml_dtypes semantics): floats round to nearest even, float-to-int truncates, integers
// wrap, fp8 saturates when asked, strings parse and print as numpy does.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <type_traits>

#include "core/float_types.h"
#include "ops/common/elementwise.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

// One source element, read in the widest form that keeps it exact.
struct Scalar {
  enum Kind { kFloat, kInt, kUInt, kString } kind = kFloat;
  // Which library the reference converts this float type with (float-to-int edge cases).
  enum Origin { kNumpy, kNumpyHalf, kMlDtypes } origin = kNumpy;
  double f = 0;
  int64_t i = 0;
  uint64_t u = 0;
  const std::string* s = nullptr;
};

struct CastOptions {
  bool saturate = true;
  E8M0Rounding rounding = E8M0Rounding::kUp;
};

template <typename T> constexpr bool kIsSubByteInt =
    std::is_same_v<T, Int4> || std::is_same_v<T, UInt4> || std::is_same_v<T, Int2> || std::is_same_v<T, UInt2>;

template <typename T>
Scalar read(const T& v) {
  Scalar s;
  if constexpr (std::is_same_v<T, std::string>) {
    s.kind = Scalar::kString;
    s.s = &v;
  } else if constexpr (std::is_same_v<T, bool>) {
    s.kind = Scalar::kUInt;
    s.u = v ? 1 : 0;
  } else if constexpr (kIsSubByteInt<T>) {
    if constexpr (std::is_signed_v<decltype(v.v)>) { s.kind = Scalar::kInt; s.i = v.v; }
    else { s.kind = Scalar::kUInt; s.u = v.v; }
  } else if constexpr (std::is_integral_v<T>) {
    if constexpr (std::is_signed_v<T>) { s.kind = Scalar::kInt; s.i = v; }
    else { s.kind = Scalar::kUInt; s.u = v; }
  } else if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, BFloat16>) {
    s.f = static_cast<double>(v);
  } else if constexpr (std::is_same_v<T, Float16>) {
    s.f = static_cast<float>(v);
    s.origin = Scalar::kNumpyHalf;
  } else {
    s.f = static_cast<float>(v);  // fp8, fp4, e8m0
    s.origin = Scalar::kMlDtypes;
  }
  return s;
}

[[noreturn]] void bad_string(const std::string& str, const char* what) {
  throw_error(StatusCode::kInvalidArgument, "cannot cast string '" + str + "' to " + what);
}

double parse_double(const std::string& str) {
  const char* b = str.c_str();
  char* end = nullptr;
  errno = 0;
  double d = std::strtod(b, &end);  // takes inf, +INF, nan in any case, and exponents
  if (end == b) bad_string(str, "a number");
  while (*end == ' ' || *end == '\t' || *end == '\n') ++end;
  if (*end != '\0') bad_string(str, "a number");
  return d;
}

// A string as a number: an integer literal stays exact, anything else parses as a double.
Scalar parse_number(const std::string& str) {
  Scalar s;
  const char* b = str.c_str();
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(b, &end, 10);
  if (end != b && errno == 0) {
    while (*end == ' ' || *end == '\t' || *end == '\n') ++end;
    if (*end == '\0') {
      s.kind = Scalar::kInt;
      s.i = v;
      return s;
    }
  }
  s.kind = Scalar::kFloat;
  s.f = parse_double(str);
  return s;
}

double as_double(const Scalar& s) {
  switch (s.kind) {
    case Scalar::kFloat: return s.f;
    case Scalar::kInt: return static_cast<double>(s.i);
    case Scalar::kUInt: return static_cast<double>(s.u);
    case Scalar::kString: return parse_double(*s.s);
  }
  return 0;
}

// double -> float rounding to odd: a later rounding to a narrower format (half, bf16, fp8)
// is then the correct rounding of the double, with no double-rounding error.
float round_to_odd(double d) {
  float f = static_cast<float>(d);
  if (!std::isfinite(d) || static_cast<double>(f) == d || !std::isfinite(f)) return f;
  if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits |= 1;
  std::memcpy(&f, &bits, 4);
  return f;
}

// x86-64 truncating conversions: NaN and out-of-range values give the width's minimum.
int32_t cvtt32(double d) {
  return (d >= -2147483648.0 && d < 2147483648.0) ? static_cast<int32_t>(d) : std::numeric_limits<int32_t>::min();
}
int64_t cvtt64(double d) {
  return (d >= -9223372036854775808.0 && d < 9223372036854775808.0) ? static_cast<int64_t>(d)
                                                                    : std::numeric_limits<int64_t>::min();
}

// Float to integer as ONNX's reference does it. numpy (float32/64, bfloat16, float16) compiles
// to x86-64 truncations whose out-of-range results we reproduce; ml_dtypes (fp8, fp4, e8m0)
// maps NaN to 0 and infinities to the type's limits, then converts as numpy. Finite in-range
// values truncate; integers narrower than the conversion wrap.
template <typename T>
T float_to_int(double d, Scalar::Origin origin) {
  if (origin == Scalar::kMlDtypes) {
    if (std::isnan(d)) return T(0);
    if (std::isinf(d)) return d > 0 ? std::numeric_limits<T>::max() : std::numeric_limits<T>::min();
  }
  if constexpr (std::is_same_v<T, uint64_t>) {
    if (d >= 9223372036854775808.0) return static_cast<uint64_t>(cvtt64(d - 9223372036854775808.0)) ^ (uint64_t{1} << 63);
    return static_cast<uint64_t>(cvtt64(d));
  } else if constexpr (std::is_same_v<T, uint32_t>) {
    // NaN and inf give 0 on numpy's vectorized path (its scalar path gives 2^31: undefined).
    if (!std::isfinite(d)) return 0;
    if (origin == Scalar::kNumpyHalf) return static_cast<uint32_t>(cvtt64(d));
    if (d >= 2147483648.0) return static_cast<uint32_t>(cvtt32(d - 2147483648.0)) ^ (uint32_t{1} << 31);
    return static_cast<uint32_t>(cvtt32(d));
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return cvtt64(d);
  } else {
    return static_cast<T>(cvtt32(d));
  }
}

// The same for the sub-byte integers, before wrapping to their width.
int64_t float_to_sub_byte(double d, Scalar::Origin origin) {
  if (origin == Scalar::kMlDtypes) {
    if (std::isnan(d)) return 0;
    if (std::isinf(d)) return d > 0 ? -1 : 0;  // all ones / zero
    return cvtt64(d);
  }
  return cvtt32(d);
}

// Wraps to a b-bit integer (sign-extended for signed).
int64_t wrap_bits(int64_t v, int bits, bool is_signed) {
  uint64_t mask = (uint64_t{1} << bits) - 1;
  uint64_t u = static_cast<uint64_t>(v) & mask;
  if (is_signed && (u >> (bits - 1))) return static_cast<int64_t>(u) - static_cast<int64_t>(uint64_t{1} << bits);
  return static_cast<int64_t>(u);
}

// ---- number -> string, as numpy's astype(str) -----------------------------------------------

// Shortest digits that read back to the same value in the source type, numpy-style layout:
// positional for 1e-4 <= |x| < 10^cutoff_exp, else d.ddde+XX.
template <typename Roundtrip>
std::string format_float(double v, int cutoff_exp, Roundtrip same) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  int p = 0;
  for (; p < 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*e", p, v);
    if (same(std::strtod(buf, nullptr))) break;
  }
  // buf: [-]d[.ddd]e[+-]XX
  std::string s(buf);
  bool neg = s[0] == '-';
  if (neg) s.erase(0, 1);
  size_t epos = s.find('e');
  int exp = std::atoi(s.c_str() + epos + 1);
  std::string digits;
  for (size_t k = 0; k < epos; ++k)
    if (s[k] != '.') digits += s[k];
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  double a = std::fabs(v);
  std::string out;
  if (a >= 1e-4 && a < std::pow(10.0, cutoff_exp)) {
    if (exp >= 0) {
      std::string ip = digits.substr(0, std::min(digits.size(), static_cast<size_t>(exp + 1)));
      while (static_cast<int>(ip.size()) < exp + 1) ip += '0';
      std::string fp = static_cast<size_t>(exp + 1) < digits.size() ? digits.substr(exp + 1) : "0";
      out = ip + "." + fp;
    } else {
      out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char e[16];
    std::snprintf(e, sizeof e, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += e;
  }
  return neg ? "-" + out : out;
}

template <typename T>
std::string to_string_value(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    return v;
  } else if constexpr (std::is_same_v<T, bool>) {
    return v ? "True" : "False";
  } else if constexpr (kIsSubByteInt<T>) {
    return std::to_string(static_cast<int>(v.v));
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(v);
  } else if constexpr (std::is_same_v<T, double>) {
    return format_float(v, 16, [&](double r) { return r == v; });
  } else if constexpr (std::is_same_v<T, float>) {
    return format_float(v, 6, [&](double r) { return static_cast<float>(r) == v; });
  } else if constexpr (std::is_same_v<T, Float16>) {
    return format_float(static_cast<float>(v), 3, [&](double r) { return float_to_half(round_to_odd(r)) == v.bits; });
  } else {
    float f = static_cast<float>(v);
    return format_float(f, 6, [&](double r) { return static_cast<float>(r) == f; });
  }
}

// ---- one element to the target type ---------------------------------------------------------

template <typename T>
T convert(const Scalar& in, const CastOptions& opt) {
  Scalar s = in;
  if (s.kind == Scalar::kString) {
    if constexpr (std::is_same_v<T, std::string>) return *s.s;
    else if constexpr (std::is_same_v<T, bool>) return !s.s->empty();  // numpy: non-empty is true
    else s = parse_number(*s.s);
  }
  if constexpr (std::is_same_v<T, std::string>) {
    switch (s.kind) {
      case Scalar::kInt: return std::to_string(s.i);
      case Scalar::kUInt: return std::to_string(s.u);
      default: return to_string_value(s.f);
    }
  } else if constexpr (std::is_same_v<T, bool>) {
    switch (s.kind) {
      case Scalar::kInt: return s.i != 0;
      case Scalar::kUInt: return s.u != 0;
      default: return s.f != 0 || std::isnan(s.f);
    }
  } else if constexpr (std::is_same_v<T, float>) {
    if (s.kind == Scalar::kInt) return static_cast<float>(s.i);
    if (s.kind == Scalar::kUInt) return static_cast<float>(s.u);
    return static_cast<float>(s.f);
  } else if constexpr (std::is_same_v<T, double>) {
    return as_double(s);
  } else if constexpr (kIsSubByteInt<T>) {
    constexpr bool is_signed = std::is_signed_v<decltype(T{}.v)>;
    constexpr int bits = std::is_same_v<T, Int4> || std::is_same_v<T, UInt4> ? 4 : 2;
    int64_t v = s.kind == Scalar::kInt ? s.i
              : s.kind == Scalar::kUInt ? static_cast<int64_t>(s.u)
              : float_to_sub_byte(s.f, s.origin);
    T out;
    out.v = static_cast<decltype(out.v)>(wrap_bits(v, bits, is_signed));
    return out;
  } else if constexpr (std::is_integral_v<T>) {
    if (s.kind == Scalar::kInt) return static_cast<T>(s.i);
    if (s.kind == Scalar::kUInt) return static_cast<T>(s.u);
    return float_to_int<T>(s.f, s.origin);
  } else if constexpr (std::is_same_v<T, Float16>) {
    return Float16::from_bits(float_to_half(round_to_odd(as_double(s))));
  } else if constexpr (std::is_same_v<T, BFloat16>) {
    return BFloat16::from_bits(float_to_bfloat16(round_to_odd(as_double(s))));
  } else {  // fp8 / fp4 / e8m0
    if constexpr (T::kKind == MiniFloat::kE8M0) {  // the reference goes through float32 first
      return T::from_bits(float_to_e8m0(convert<float>(s, opt), opt.rounding, opt.saturate));
    } else {
      return T::from_bits(float_to_minifloat(round_to_odd(as_double(s)), T::kKind, opt.saturate));
    }
  }
}

bool is_castable(DataType dt) {
  return dt != DataType::kUndefined && dt != DataType::kComplex64 && dt != DataType::kComplex128 &&
         dtype_size(dt) + (dt == DataType::kString) > 0;
}

template <typename Fn>
void dispatch_castable(DataType dt, Fn&& fn) {
  if (!is_castable(dt)) throw_error(StatusCode::kUnsupported, "Cast does not support dtype " + std::string(dtype_name(dt)));
  dispatch_all(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, std::complex<float>> && !std::is_same_v<T, std::complex<double>>) fn(tag);
  });
}

void cast_tensor(KernelContext& ctx, const Tensor& x, DataType to, const CastOptions& opt) {
  Tensor& y = ctx.allocate_output(0, to, x.dims());
  dispatch_castable(x.dtype(), [&](auto src_tag) {
    using S = typename decltype(src_tag)::type;
    const S* px = std::is_same_v<S, std::string> ? nullptr : x.data<S>();
    dispatch_castable(to, [&](auto dst_tag) {
      using D = typename decltype(dst_tag)::type;
      for (int64_t i = 0; i < x.numel(); ++i) {
        const S& v = [&]() -> const S& {
          if constexpr (std::is_same_v<S, std::string>) return x.strings()[i];
          else return px[i];
        }();
        if constexpr (std::is_same_v<D, std::string>) y.strings()[i] = to_string_value(v);  // per source type
        else y.data<D>()[i] = convert<D>(read(v), opt);
      }
    });
  });
}

CastOptions cast_options(const KernelContext& ctx) {
  CastOptions opt;
  opt.saturate = ctx.attrs().get_int("saturate", 1) != 0;
  std::string mode = ctx.attrs().get_string("round_mode", "up");
  if (mode == "up") opt.rounding = E8M0Rounding::kUp;
  else if (mode == "down") opt.rounding = E8M0Rounding::kDown;
  else if (mode == "nearest") opt.rounding = E8M0Rounding::kNearest;
  else ctx.fail("round_mode must be 'up', 'down' or 'nearest', got '" + mode + "'");
  return opt;
}

DataType cast_target(const ir::Attributes& attrs, const std::function<void(const std::string&)>& fail) {
  const ir::Attribute* a = attrs.find("to");
  if (!a) fail("Cast needs the 'to' attribute");
  if (const auto* name = std::get_if<std::string>(a)) {  // Cast-1 names the type: "FLOAT"
    static const char* const kNames[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32",
                                         "INT64", "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64"};
    for (int32_t c = 1; c < 14; ++c)
      if (*name == kNames[c]) return *dtype_from_code(c);
    fail("Cast 'to' = '" + *name + "' is not a supported dtype");
  }
  int64_t code = attrs.int_("to");
  auto dt = dtype_from_code(static_cast<int32_t>(code));
  if (!dt || !is_castable(*dt)) fail("Cast 'to' = " + std::to_string(code) + " is not a supported dtype");
  return *dt;
}

void cast_cpu(KernelContext& ctx) {
  DataType to = cast_target(ctx.attrs(), [&](const std::string& m) { ctx.fail(m); });
  cast_tensor(ctx, ctx.input(0), to, cast_options(ctx));
}

void cast_infer(InferenceContext& ctx) {
  DataType to = cast_target(ctx.attrs(), [&](const std::string& m) { ctx.fail(m); });
  DataType from = ctx.input_dtype(0);
  if (from != DataType::kUndefined && !is_castable(from)) ctx.fail("Cast does not support input dtype " + std::string(dtype_name(from)));
  ctx.set_output(0, to, ctx.input_type(0).shape);
}

void cast_like_cpu(KernelContext& ctx) { cast_tensor(ctx, ctx.input(0), ctx.input(1).dtype(), cast_options(ctx)); }

void cast_like_infer(InferenceContext& ctx) {
  DataType from = ctx.input_dtype(0), to = ctx.input_dtype(1);
  if (from != DataType::kUndefined && !is_castable(from)) ctx.fail("CastLike does not support input dtype " + std::string(dtype_name(from)));
  if (to != DataType::kUndefined && !is_castable(to)) ctx.fail("CastLike does not support target dtype " + std::string(dtype_name(to)));
  ctx.set_output(0, to, ctx.input_type(0).shape);
}

// BitCast: reinterprets the bytes of each element; both dtypes must have one width.
void bitcast_check(DataType from, DataType to, const std::function<void(const std::string&)>& fail) {
  if (from == DataType::kString || to == DataType::kString) fail("BitCast does not take strings");
  if (is_sub_byte(from) || is_sub_byte(to)) fail("BitCast does not take sub-byte types");
  if (dtype_size(from) != dtype_size(to))
    fail("BitCast needs dtypes of one width, got " + std::string(dtype_name(from)) + " and " + std::string(dtype_name(to)));
}

void bitcast_cpu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  DataType to = cast_target(ctx.attrs(), [&](const std::string& m) { ctx.fail(m); });
  bitcast_check(x.dtype(), to, [&](const std::string& m) { ctx.fail(m); });
  Tensor& y = ctx.allocate_output(0, to, x.dims());
  if (x.nbytes() > 0) std::memcpy(y.raw(), x.raw(), x.nbytes());
  if (to == DataType::kBool) {  // only 0 and 1 are valid bools
    auto* p = static_cast<uint8_t*>(y.raw());
    for (int64_t i = 0; i < y.numel(); ++i) p[i] = p[i] != 0;
  }
}

void bitcast_infer(InferenceContext& ctx) {
  DataType to = cast_target(ctx.attrs(), [&](const std::string& m) { ctx.fail(m); });
  DataType from = ctx.input_dtype(0);
  if (from != DataType::kUndefined) bitcast_check(from, to, [&](const std::string& m) { ctx.fail(m); });
  ctx.set_output(0, to, ctx.input_type(0).shape);
}

}  // namespace

KILN_REGISTER_OP(Cast, {"", "Cast", {1, 6, 9, 13, 19, 21, 23, 24, 25, 28}, cast_infer, cast_cpu});
KILN_REGISTER_OP(CastLike, {"", "CastLike", {15, 19, 21, 23, 24, 25}, cast_like_infer, cast_like_cpu});
KILN_REGISTER_OP(BitCast, {"", "BitCast", {26}, bitcast_infer, bitcast_cpu});

}  // namespace kiln::ops
