#include "core/shape.h"

namespace kiln {

std::string Dim::to_string() const {
  if (value_) return std::to_string(*value_);
  if (!symbol_.empty()) return symbol_;
  return "?";
}

Shape::Shape(std::initializer_list<int64_t> dims) {
  for (int64_t d : dims) dims_.emplace_back(d);
}

Shape Shape::from_dims(const std::vector<int64_t>& dims) {
  std::vector<Dim> out(dims.begin(), dims.end());
  return Shape(std::move(out));
}

bool Shape::is_static() const {
  for (const auto& d : dims_)
    if (!d.is_constant()) return false;
  return true;
}

std::vector<int64_t> Shape::static_dims() const {
  std::vector<int64_t> out;
  out.reserve(dims_.size());
  for (const auto& d : dims_) out.push_back(d.is_constant() ? d.value() : -1);
  return out;
}

std::string Shape::to_string() const {
  std::string s = "[";
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i) s += ",";
    s += dims_[i].to_string();
  }
  return s + "]";
}

std::optional<int64_t> checked_element_count(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) return std::nullopt;
    if (d != 0 && n > INT64_MAX / d) return std::nullopt;
    n *= d;
  }
  return n;
}

std::string dims_to_string(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

}  // namespace kiln
