#!/usr/bin/env python3
"""Small ONNX models for tests/cli/test_cuda_lowering.sh: each uses ops the CUDA backend must
lower (one model per family), plus one with an op that has no CUDA kernel (GridSample)."""
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

out = sys.argv[1]
rng = np.random.default_rng(0)


def f32(name, shape):
    return nh.from_array(rng.standard_normal(shape).astype(np.float32), name)


def i64(name, values):
    return nh.from_array(np.array(values, dtype=np.int64), name)


def save(name, nodes, inputs, outputs, inits, opset=17):
    g = h.make_graph(nodes, name, [h.make_tensor_value_info(n, t, s) for n, t, s in inputs],
                     [h.make_tensor_value_info(n, t, s) for n, t, s in outputs], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    onnx.checker.check_model(m)
    onnx.save(m, f"{out}/{name}.onnx")


F = T.FLOAT
# A small CNN: conv, activation, pools, flatten, gemm, softmax.
save("cnn", [h.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             h.make_node("Relu", ["c1"], ["r1"]),
             h.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
             h.make_node("AveragePool", ["p1"], ["p2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             h.make_node("GlobalAveragePool", ["p2"], ["g"]),
             h.make_node("Flatten", ["g"], ["f"]),
             h.make_node("Gemm", ["f", "w2", "b2"], ["l"], transB=1),
             h.make_node("Softmax", ["l"], ["y"])],
     [("x", F, [2, 3, 16, 16])], [("y", F, [2, 10])],
     [f32("w1", (8, 3, 3, 3)), f32("b1", (8,)), f32("w2", (10, 8)), f32("b2", (10,))])

# A transformer block's pieces: embedding gather, matmul, layernorm, attention-ish softmax,
# reshape/transpose, concat, slice, cast, expand.
save("block", [h.make_node("Gather", ["emb", "ids"], ["e"]),
               h.make_node("LayerNormalization", ["e", "g", "b"], ["n"], axis=-1),
               h.make_node("MatMul", ["n", "wq"], ["q"]),
               h.make_node("Reshape", ["q", "s4"], ["q4"]),
               h.make_node("Transpose", ["q4"], ["qt"], perm=[0, 2, 1, 3]),
               h.make_node("Transpose", ["q4"], ["kt"], perm=[0, 2, 3, 1]),
               h.make_node("MatMul", ["qt", "kt"], ["s"]),
               h.make_node("Softmax", ["s"], ["p"], axis=-1),
               h.make_node("MatMul", ["p", "qt"], ["o"]),
               h.make_node("Transpose", ["o"], ["ot"], perm=[0, 2, 1, 3]),
               h.make_node("Reshape", ["ot", "s3"], ["o3"]),
               h.make_node("Add", ["o3", "n"], ["res"]),
               h.make_node("Gelu", ["res"], ["act"]),
               h.make_node("Concat", ["act", "res"], ["cat"], axis=-1),
               h.make_node("Slice", ["cat", "st", "en", "ax"], ["y"]),
               h.make_node("Cast", ["ids"], ["idsf"], to=T.FLOAT),
               h.make_node("Expand", ["idsf", "eshape"], ["z"])],
     [("ids", T.INT64, [2, 8])], [("y", F, [2, 8, 16]), ("z", F, [3, 2, 8])],
     [f32("emb", (50, 16)), f32("g", (16,)), f32("b", (16,)), f32("wq", (16, 16)), i64("s4", [2, 8, 2, 8]),
      i64("s3", [2, 8, 16]), i64("st", [8]), i64("en", [24]), i64("ax", [2]), i64("eshape", [3, 2, 8])], opset=20)

# The families added for coverage: reductions, arg max, pad, resize, split, where.
save("coverage", [h.make_node("Pad", ["x", "pads"], ["p"], mode="reflect"),
                  h.make_node("Resize", ["p", "", "scales"], ["r"], mode="linear"),
                  h.make_node("Resize", ["p", "", "", "sizes"], ["rn"], mode="nearest",
                              coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
                  h.make_node("ReduceMax", ["rn", "axes1"], ["mx"], keepdims=0),
                  h.make_node("ReduceLogSumExp", ["r", "axes1"], ["lse"], keepdims=1),
                  h.make_node("ArgMax", ["r"], ["am"], axis=1, keepdims=0),
                  h.make_node("Split", ["r", "split"], ["s0", "s1"], axis=1),
                  h.make_node("Greater", ["s0", "s1"], ["gt"]),
                  h.make_node("Where", ["gt", "s0", "s1"], ["w"]),
                  h.make_node("ReduceMean", ["s0", "axes23"], ["m"], keepdims=1),
                  h.make_node("Add", ["w", "m"], ["y"])],
     [("x", F, [2, 4, 8, 8])], [("y", F, [2, 2, 20, 20]), ("mx", F, [2, 5, 7]), ("lse", F, [2, 1, 20, 20]), ("am", T.INT64, [2, 20, 20])],
     [i64("pads", [0, 0, 1, 1, 0, 0, 1, 1]), nh.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales"),
      i64("sizes", [2, 4, 5, 7]), i64("axes23", [2, 3]), i64("axes1", [1]), i64("split", [2, 2])], opset=18)

# ViT-style attention on a packed qkv product (the Gathers go into the attention's select_*)
# and an MLP with the erf GELU (the fused product of cuda.cutlass.matmul_gelu on sm_90).
save("vit_block", [h.make_node("MatMul", ["x", "wqkv"], ["qkv"]),
                   h.make_node("Reshape", ["qkv", "s5"], ["qkv5"]),
                   h.make_node("Gather", ["qkv5", "i0"], ["q"], axis=2),
                   h.make_node("Gather", ["qkv5", "i1"], ["k"], axis=2),
                   h.make_node("Gather", ["qkv5", "i2"], ["v"], axis=2),
                   h.make_node("Transpose", ["q"], ["qh"], perm=[0, 2, 1, 3]),
                   h.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 3, 1]),
                   h.make_node("Transpose", ["v"], ["vh"], perm=[0, 2, 1, 3]),
                   h.make_node("MatMul", ["qh", "kt"], ["s"]),
                   h.make_node("Mul", ["s", "scale"], ["ss"]),
                   h.make_node("Softmax", ["ss"], ["p"], axis=-1),
                   h.make_node("MatMul", ["p", "vh"], ["o"]),
                   h.make_node("Transpose", ["o"], ["ot"], perm=[0, 2, 1, 3]),
                   h.make_node("Reshape", ["ot", "s3"], ["a"]),
                   h.make_node("MatMul", ["a", "w1"], ["m1"]),
                   h.make_node("Add", ["m1", "b1"], ["m1b"]),
                   h.make_node("Gelu", ["m1b"], ["g"]),
                   h.make_node("MatMul", ["g", "w2"], ["y"])],
     [("x", F, [2, 8, 64])], [("y", F, [2, 8, 64])],
     [f32("wqkv", (64, 192)), i64("s5", [2, 8, 3, 4, 16]), i64("i0", 0), i64("i1", 1), i64("i2", 2),
      nh.from_array(np.array(0.25, dtype=np.float32), "scale"), i64("s3", [2, 8, 64]),
      f32("w1", (64, 128)), f32("b1", (128,)), f32("w2", (128, 64))], opset=20)

# An RGB stem: a 7x7/2 convolution over 3 input channels (cuda.cudnn.conv_padded in FP16).
save("rgb_stem", [h.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[7, 7], strides=[2, 2], pads=[3, 3, 3, 3]),
                  h.make_node("Relu", ["c"], ["y"])],
     [("x", F, [2, 3, 32, 32])], [("y", F, [2, 16, 16, 16])], [f32("w", (16, 3, 7, 7)), f32("b", (16,))])

# An op with no CUDA kernel: the build must fail naming it.
save("unsupported_gridsample", [h.make_node("Relu", ["x"], ["r"]),
                                h.make_node("GridSample", ["r", "grid"], ["y"], name="the_gridsample")],
     [("x", F, [1, 1, 4, 4]), ("grid", F, [1, 3, 3, 2])], [("y", F, [1, 1, 3, 3])], [])
