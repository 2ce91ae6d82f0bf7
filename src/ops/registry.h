// The op registry: one OpSchema per (domain, op type) with the ONNX spec versions it
// implements, its shape inference and its reference CPU kernel. Ops register themselves from
// their own file (KILN_REGISTER_OP), so adding an op touches nothing else.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "ops/infer_context.h"
#include "ops/kernel_context.h"

namespace kiln::ops {

using InferFn = void (*)(InferenceContext&);
using CpuKernelFn = void (*)(KernelContext&);

struct OpSchema {
  std::string domain;         // "" for ai.onnx
  std::string op_type;
  std::vector<int> versions;  // the spec versions (since_version) this implementation follows
  InferFn infer = nullptr;
  CpuKernelFn cpu = nullptr;
};

class OpRegistry {
 public:
  static OpRegistry& global();
  void add(OpSchema schema);
  const OpSchema* find(const std::string& domain, const std::string& op_type) const;
  // The spec version in force for a model that imports `opset` of the op's domain: the largest
  // implemented version <= opset. An error naming op, opset and node when there is none.
  Result<int> resolve(const ir::Node& node, int64_t opset) const;
  const std::map<std::pair<std::string, std::string>, OpSchema>& all() const { return schemas_; }

 private:
  std::map<std::pair<std::string, std::string>, OpSchema> schemas_;
};

struct OpRegistrar {
  explicit OpRegistrar(OpSchema schema) { OpRegistry::global().add(std::move(schema)); }
};

// The highest opset of each domain Kiln knows; a model importing a newer one is refused.
int64_t max_supported_opset(const std::string& domain);

}  // namespace kiln::ops

// KILN_REGISTER_OP(Relu, {"", "Relu", {6, 13, 14}, infer_relu, relu_cpu});
#define KILN_REGISTER_OP(id, ...) \
  static const ::kiln::ops::OpRegistrar kiln_op_registrar_##id(::kiln::ops::OpSchema __VA_ARGS__)
