// Engine I/O formats (kiln build --io-dtype / --input-layout; trtexec calls them I/O formats):
// how an engine's bindings differ from the model's own inputs and outputs, and the conversions
// between the two forms. Callers pass what BindingInfo says (dtype, dims); tools that also run
// the model itself (kiln compare's CPU reference, the builder's fp16 overflow check) convert.
#pragma once
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "runtime/engine.h"

namespace kiln::runtime {

// The binding of graph input v in an engine built with `input_layout`. A channels-last input
// comes in two forms: a kNHWC value (the channels-last step absorbed the input's Transpose:
// logical [N,C,H,W], stored [N,H,W,C]) or a row-major rank-4 input that already is [N,H,W,C] in
// the graph (a Transpose follows it). Either way dims are [N,H,W,C]; layout is kNHWC when
// input_layout is (the model's own input is [N,C,H,W]), row-major for a model whose own input
// is [N,H,W,C] (a TensorFlow export's Transpose absorbed the same way).
BindingInfo input_binding(const ir::Value& v, ir::Layout input_layout);

// "float16[2,16,16,3] (channels-last)": what the binding takes, for messages and inspect.
std::string binding_type(const BindingInfo& b);

// [N,C,H,W] <-> [N,H,W,C] for rank-4 tensors of any fixed-size dtype (an Error otherwise).
std::vector<int64_t> nhwc_dims(const std::vector<int64_t>& nchw);
Tensor nchw_to_nhwc(const Tensor& t);
Tensor nhwc_to_nchw(const Tensor& t);

// A binding's tensor in the model's form: a channels-last input transposed back to [N,C,H,W],
// float16/bfloat16 widened to float32 where the model's value is float32.
Result<Tensor> to_model_form(const Tensor& t, const BindingInfo& b, DataType model_dtype);
// The model's tensor in the binding's form (the inverse: float32 rounded to the binding's type).
Result<Tensor> to_binding_form(const Tensor& t, const BindingInfo& b);

}  // namespace kiln::runtime
