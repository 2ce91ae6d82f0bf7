// Typed node attributes, mirroring ONNX's attribute kinds (graphs for If/Loop/Scan bodies).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/tensor.h"
#include "ir/value_type.h"

namespace kiln::ir {

class Graph;

using Attribute = std::variant<int64_t, float, std::string, Tensor, std::shared_ptr<Graph>,
                               std::vector<int64_t>, std::vector<float>, std::vector<std::string>,
                               std::vector<Tensor>, std::vector<std::shared_ptr<Graph>>, ValueType>;

const char* attribute_kind_name(const Attribute& a);

class Attributes {
 public:
  bool has(const std::string& name) const { return map_.count(name) != 0; }
  void set(const std::string& name, Attribute value) { map_[name] = std::move(value); }
  void erase(const std::string& name) { map_.erase(name); }
  const std::map<std::string, Attribute>& all() const { return map_; }
  bool empty() const { return map_.empty(); }

  // Typed getters: the default when absent; throw Error naming the attribute when it holds
  // another kind.
  int64_t get_int(const std::string& name, int64_t def) const;
  float get_float(const std::string& name, float def) const;
  std::string get_string(const std::string& name, const std::string& def) const;
  std::vector<int64_t> get_ints(const std::string& name, std::vector<int64_t> def = {}) const;
  std::vector<float> get_floats(const std::string& name, std::vector<float> def = {}) const;
  std::vector<std::string> get_strings(const std::string& name, std::vector<std::string> def = {}) const;
  // Required attributes: throw Error when absent.
  int64_t int_(const std::string& name) const;
  const Tensor& tensor(const std::string& name) const;
  std::shared_ptr<Graph> graph(const std::string& name) const;
  const Attribute* find(const std::string& name) const;

 private:
  template <typename T> const T* get_if(const std::string& name) const;
  std::map<std::string, Attribute> map_;
};

}  // namespace kiln::ir
