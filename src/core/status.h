// Status and Result<T>: errors are values at module boundaries (DESIGN.md).
#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace kiln {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad user input: model, file, shape, dtype
  kInvalidModel,     // model structurally wrong (cycle, dangling value, ...)
  kUnsupported,      // valid, but Kiln cannot do it (op, opset, dtype)
  kNotFound,
  kOutOfMemory,
  kIoError,
  kInternal,  // a bug in Kiln
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;
  // Prefixes context ("while importing node 'conv1': ...") to an error.
  Status with_context(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status invalid_model(std::string m) { return {StatusCode::kInvalidModel, std::move(m)}; }
inline Status unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status io_error(std::string m) { return {StatusCode::kIoError, std::move(m)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}           // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  bool is_ok() const { return status_.is_ok(); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

// Inside modules, deep helpers (kernels, parsers) may throw Error; the module boundary
// catches it and turns it into a Status. Error never crosses the public API.
class Error : public std::runtime_error {
 public:
  Error(StatusCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  StatusCode code() const { return code_; }
  Status to_status() const { return Status(code_, what()); }

 private:
  StatusCode code_;
};

[[noreturn]] void throw_error(StatusCode code, const std::string& message);

}  // namespace kiln

#define KILN_CONCAT_INNER(a, b) a##b
#define KILN_CONCAT(a, b) KILN_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when it is an error.
#define KILN_RETURN_IF_ERROR(expr)                   \
  do {                                               \
    ::kiln::Status kiln_status_ = (expr);            \
    if (!kiln_status_.is_ok()) return kiln_status_;  \
  } while (0)

// auto x = KILN_TRY(result_expr) is not portable; use KILN_ASSIGN_OR_RETURN(lhs, expr).
#define KILN_ASSIGN_OR_RETURN(lhs, expr)                               \
  auto KILN_CONCAT(kiln_result_, __LINE__) = (expr);                   \
  if (!KILN_CONCAT(kiln_result_, __LINE__).is_ok())                    \
    return KILN_CONCAT(kiln_result_, __LINE__).status();               \
  lhs = std::move(KILN_CONCAT(kiln_result_, __LINE__)).value()

// Throws kiln::Error(kInvalidArgument) when cond is false. For kernels and parsers.
#define KILN_CHECK(cond, msg)                                                  \
  do {                                                                         \
    if (!(cond)) ::kiln::throw_error(::kiln::StatusCode::kInvalidArgument, (msg)); \
  } while (0)
