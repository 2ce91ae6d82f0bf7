// Shapes whose dims are constants or named symbols ("batch", "seq"), from day one, so that
// dynamic shapes with optimization profiles need no IR rewrite (DESIGN.md).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

class Dim {
 public:
  Dim() = default;                                       // unknown: no value, no name
  Dim(int64_t value) : value_(value) {}                  // NOLINT: a constant dim
  static Dim symbol(std::string name) { Dim d; d.symbol_ = std::move(name); return d; }
  static Dim unknown() { return Dim(); }

  bool is_constant() const { return value_.has_value(); }
  bool is_symbolic() const { return !value_ && !symbol_.empty(); }
  bool is_unknown() const { return !value_ && symbol_.empty(); }
  int64_t value() const { return *value_; }
  const std::string& symbol_name() const { return symbol_; }
  std::string to_string() const;  // "3", "batch", "?"
  bool operator==(const Dim& o) const { return value_ == o.value_ && symbol_ == o.symbol_; }
  bool operator!=(const Dim& o) const { return !(*this == o); }

 private:
  std::optional<int64_t> value_;
  std::string symbol_;
};

// A shape of known rank; "rank unknown" is expressed by std::optional<Shape> where needed.
class Shape {
 public:
  Shape() = default;
  Shape(std::vector<Dim> dims) : dims_(std::move(dims)) {}  // NOLINT
  Shape(std::initializer_list<int64_t> dims);
  static Shape from_dims(const std::vector<int64_t>& dims);

  size_t rank() const { return dims_.size(); }
  const Dim& operator[](size_t i) const { return dims_[i]; }
  Dim& operator[](size_t i) { return dims_[i]; }
  const std::vector<Dim>& dims() const { return dims_; }
  bool is_static() const;
  // Constant dims, valid only when is_static().
  std::vector<int64_t> static_dims() const;
  std::string to_string() const;  // "[1,3,batch,?]"
  bool operator==(const Shape& o) const { return dims_ == o.dims_; }
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  std::vector<Dim> dims_;
};

// Element count of static dims; nullopt on a negative dim or int64 overflow.
std::optional<int64_t> checked_element_count(const std::vector<int64_t>& dims);

std::string dims_to_string(const std::vector<int64_t>& dims);

}  // namespace kiln
