#include "io/random_inputs.h"

#include <random>

namespace kiln::io {

Tensor random_tensor(DataType dt, const std::vector<int64_t>& dims, uint64_t seed) {
  Tensor t(dt, dims);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> real(-1.0, 1.0);
  std::uniform_int_distribution<int> small(0, 9);
  const int64_t n = t.numel();
  if (dt == DataType::kBool) {
    for (int64_t i = 0; i < n; ++i) t.data<bool>()[i] = small(rng) >= 5;
    return t;
  }
  if (dt == DataType::kString) {
    for (int64_t i = 0; i < n; ++i) t.strings()[i] = "s" + std::to_string(small(rng));
    return t;
  }
  if (is_float(dt) && dtype_size(dt) >= 2) {
    dispatch_float(dt, [&](auto tag) {
      using T = typename decltype(tag)::type;
      for (int64_t i = 0; i < n; ++i) t.data<T>()[i] = T(static_cast<float>(real(rng)));
    });
    return t;
  }
  dispatch_int(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < n; ++i) t.data<T>()[i] = static_cast<T>(small(rng) + 1);
  });
  return t;
}

Result<std::map<std::string, RuntimeValue>> random_inputs(const ir::Graph& graph, uint64_t seed,
                                                          const std::map<std::string, int64_t>& dims,
                                                          int64_t default_dim) {
  std::map<std::string, RuntimeValue> out;
  uint64_t k = 0;
  for (const ir::Value* v : graph.inputs()) {
    const ir::ValueType& type = v->type();
    if (type.kind != ir::ValueKind::kTensor)
      return unsupported("input '" + v->name() + "' is not a tensor; give it with --input");
    if (!type.shape) return invalid_argument("input '" + v->name() + "' has unknown rank; give it with --input");
    std::vector<int64_t> shape;
    for (const Dim& d : type.shape->dims()) {
      if (d.is_constant()) shape.push_back(d.value());
      else if (d.is_symbolic() && dims.count(d.symbol_name())) shape.push_back(dims.at(d.symbol_name()));
      else shape.push_back(default_dim);
    }
    try {
      out[v->name()] = RuntimeValue(random_tensor(type.dtype, shape, seed + 7919 * ++k));
    } catch (const Error& e) {
      return e.to_status().with_context("input '" + v->name() + "'");
    }
  }
  return out;
}

}  // namespace kiln::io
