#include "ir/attribute.h"

namespace kiln::ir {

const char* attribute_kind_name(const Attribute& a) {
  static const char* kNames[] = {"int", "float", "string", "tensor", "graph", "ints",
                                 "floats", "strings", "tensors", "graphs", "type"};
  return kNames[a.index()];
}

const Attribute* Attributes::find(const std::string& name) const {
  auto it = map_.find(name);
  return it == map_.end() ? nullptr : &it->second;
}

template <typename T>
const T* Attributes::get_if(const std::string& name) const {
  const Attribute* a = find(name);
  if (!a) return nullptr;
  const T* v = std::get_if<T>(a);
  if (!v) throw_error(StatusCode::kInvalidModel, std::string("attribute '") + name + "' has kind " + attribute_kind_name(*a));
  return v;
}

int64_t Attributes::get_int(const std::string& name, int64_t def) const {
  auto* v = get_if<int64_t>(name);
  return v ? *v : def;
}

float Attributes::get_float(const std::string& name, float def) const {
  const Attribute* a = find(name);
  if (a && std::holds_alternative<int64_t>(*a)) return static_cast<float>(std::get<int64_t>(*a));
  auto* v = get_if<float>(name);
  return v ? *v : def;
}

std::string Attributes::get_string(const std::string& name, const std::string& def) const {
  auto* v = get_if<std::string>(name);
  return v ? *v : def;
}

std::vector<int64_t> Attributes::get_ints(const std::string& name, std::vector<int64_t> def) const {
  const Attribute* a = find(name);
  if (a && std::holds_alternative<int64_t>(*a)) return {std::get<int64_t>(*a)};
  auto* v = get_if<std::vector<int64_t>>(name);
  return v ? *v : def;
}

std::vector<float> Attributes::get_floats(const std::string& name, std::vector<float> def) const {
  const Attribute* a = find(name);
  if (a && std::holds_alternative<float>(*a)) return {std::get<float>(*a)};
  auto* v = get_if<std::vector<float>>(name);
  return v ? *v : def;
}

std::vector<std::string> Attributes::get_strings(const std::string& name, std::vector<std::string> def) const {
  const Attribute* a = find(name);
  if (a && std::holds_alternative<std::string>(*a)) return {std::get<std::string>(*a)};
  auto* v = get_if<std::vector<std::string>>(name);
  return v ? *v : def;
}

int64_t Attributes::int_(const std::string& name) const {
  auto* v = get_if<int64_t>(name);
  if (!v) throw_error(StatusCode::kInvalidModel, "required attribute '" + name + "' is missing");
  return *v;
}

const Tensor& Attributes::tensor(const std::string& name) const {
  auto* v = get_if<Tensor>(name);
  if (!v) throw_error(StatusCode::kInvalidModel, "required attribute '" + name + "' is missing");
  return *v;
}

std::shared_ptr<Graph> Attributes::graph(const std::string& name) const {
  auto* v = get_if<std::shared_ptr<Graph>>(name);
  if (!v) throw_error(StatusCode::kInvalidModel, "required graph attribute '" + name + "' is missing");
  return *v;
}

}  // namespace kiln::ir
