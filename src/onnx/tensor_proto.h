// TensorProto <-> Tensor. Every size and offset in the proto is checked before it is used.
#pragma once
#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace onnx {
class TensorProto;
class SparseTensorProto;
}  // namespace onnx

namespace kiln::importer {

// Where external data may be read from: the model's folder. Empty: external data is refused.
struct ExternalDataRoot {
  std::string dir;
};

Result<Tensor> tensor_from_proto(const onnx::TensorProto& proto, const ExternalDataRoot& root);
Result<Tensor> tensor_from_sparse_proto(const onnx::SparseTensorProto& proto, const ExternalDataRoot& root);
void tensor_to_proto(const Tensor& t, onnx::TensorProto& proto);

}  // namespace kiln::importer
