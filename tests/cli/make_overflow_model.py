"""Writes overflow.onnx: h = x @ 1e6 leaves float16's range (its layers stay float32 in an
--fp16 build), y = softmax(h @ 1e-6) does not.  make_overflow_model.py OUT.onnx"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

w1 = numpy_helper.from_array(np.full((4, 4), 1e6, np.float32), "w1")
w2 = numpy_helper.from_array(np.full((4, 4), 1e-6, np.float32), "w2")
nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="big"),
         helper.make_node("MatMul", ["h", "w2"], ["o"], name="small"),
         helper.make_node("Softmax", ["o"], ["y"], name="softmax")]
g = helper.make_graph(nodes, "overflow", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])], [w1, w2])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), sys.argv[1])
