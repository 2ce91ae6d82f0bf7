"""Small convolutional models that exercise the channels-last lowering (docs/LAYOUT.md) end to
end: reformats at region edges, repacked weights, pooling and elementwise ops inside regions,
broadcasting operands, grouped/depthwise/strided/dilated convolutions, channels-last graph
outputs. tests/gpu/run_layout_tests.sh builds CUDA engines of each and `kiln compare`s them with
the CPU reference.
    python3 tests/gpu/layout_models.py OUT_DIR"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)


class Model:
    def __init__(self, name, x_shape):
        self.name, self.nodes, self.inits, self.count = name, [], [], 0
        self.inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, x_shape)]

    def tmp(self, base):
        self.count += 1
        return f"{base}{self.count}"

    def weight(self, shape, fan_in=None, scale=None):
        name = self.tmp("w")
        s = scale if scale is not None else np.sqrt(2.0 / (fan_in or shape[1]))
        self.inits.append(numpy_helper.from_array((rng.standard_normal(shape) * s).astype(np.float32), name))
        return name

    def node(self, op, inputs, **attrs):
        out = self.tmp(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(self, x, cin, cout, k=3, stride=1, group=1, dilation=1, pads=None, bias=True):
        w = self.weight([cout, cin // group, k, k], fan_in=cin // group * k * k)
        ins = [x, w] + ([self.weight([cout], scale=0.1)] if bias else [])
        p = pads if pads is not None else [dilation * (k // 2)] * 4
        return self.node("Conv", ins, kernel_shape=[k, k], strides=[stride, stride], group=group,
                         dilations=[dilation, dilation], pads=p)

    def save(self, out_dir, outputs):
        g = helper.make_graph(self.nodes, self.name, self.inputs, [], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(m).graph.value_info}
        m.graph.output.extend(inferred[o] for o in outputs)
        onnx.checker.check_model(m)
        onnx.save(m, os.path.join(out_dir, self.name + ".onnx"))


def resnet_block(out):
    m = Model("resnet_block", [2, 3, 32, 32])
    x = m.node("Relu", [m.conv("X", 3, 32, k=7, stride=2, pads=[3, 3, 3, 3])])
    x = m.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    y = m.node("Relu", [m.conv(x, 32, 16, k=1)])
    y = m.node("Relu", [m.conv(y, 16, 16)])
    y = m.conv(y, 16, 64, k=1)
    s = m.conv(x, 32, 64, k=1)
    x = m.node("Relu", [m.node("Add", [y, s])])
    x = m.node("Flatten", [m.node("GlobalAveragePool", [x])])
    m.save(out, [m.node("Gemm", [x, m.weight([10, 64]), m.weight([10], scale=0.1)], transB=1)])


def mobilenet_block(out):
    m = Model("mobilenet_block", [2, 16, 20, 20])
    lo, hi = m.tmp("zero"), m.tmp("six")
    m.inits.append(numpy_helper.from_array(np.array(0.0, np.float32), lo))
    m.inits.append(numpy_helper.from_array(np.array(6.0, np.float32), hi))
    e = m.node("Clip", [m.conv("X", 16, 96, k=1), lo, hi])
    d = m.node("Clip", [m.conv(e, 96, 96, group=96), lo, hi])
    p = m.conv(d, 96, 16, k=1)
    r = m.node("Add", [p, "X"])
    e2 = m.node("Clip", [m.conv(r, 16, 64, k=1), lo, hi])
    d2 = m.node("Clip", [m.conv(e2, 64, 64, stride=2, group=64), lo, hi])
    m.save(out, [m.conv(d2, 64, 24, k=1)])  # a channels-last graph output


def depthwise_forms(out):
    m = Model("depthwise_forms", [2, 32, 15, 17])
    x = m.node("Relu", [m.conv("X", 32, 32, k=5, group=32)])
    x = m.node("Add", [m.conv(x, 32, 32, group=32), "X"])  # residual into a 3x3 stride-1 depthwise
    x = m.conv(x, 32, 32, stride=2, group=32)  # odd sizes, stride 2
    x = m.node("Sigmoid", [m.conv(x, 32, 32, group=32, dilation=2)])
    m.save(out, [m.conv(x, 32, 16, k=1)])


def se_block(out):
    m = Model("se_block", [2, 24, 14, 14])
    x = m.node("Sigmoid", [m.conv("X", 24, 32)])
    x = m.node("Mul", [x, m.conv("X", 24, 32, k=1)])  # HardSwish-like gating, same shape
    s = m.node("GlobalAveragePool", [x])
    s = m.node("Relu", [m.conv(s, 32, 8, k=1)])
    s = m.node("Sigmoid", [m.conv(s, 8, 32, k=1)])
    x = m.node("Mul", [x, s])  # [N,C,H,W] * [N,C,1,1]
    bias = m.weight([32, 1, 1], scale=0.5)
    x = m.node("Add", [x, bias])  # a [C,1,1] constant operand
    m.save(out, [m.conv(x, 32, 16, k=1)])


def pools_and_dilation(out):
    m = Model("pools_dilation", [2, 8, 23, 19])
    x = m.conv("X", 8, 24, k=3, stride=2, dilation=2, pads=[2, 1, 3, 2])
    x = m.node("AveragePool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], count_include_pad=1)
    x = m.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 1], dilations=[2, 2], ceil_mode=1)
    x = m.conv(x, 24, 32, k=3, group=4)
    m.save(out, [m.node("GlobalMaxPool", [x]), x])


def mixed_regions(out):
    m = Model("mixed_regions", [2, 16, 12, 12])
    a = m.conv("X", 16, 16, group=2)
    b = m.conv("X", 16, 16, k=1)
    c = m.node("Concat", [a, b], axis=1)  # no channels-last Concat: back to NCHW and again
    c = m.node("LeakyRelu", [m.conv(c, 32, 32)], alpha=0.1)
    t = m.node("Transpose", [c], perm=[0, 2, 3, 1])
    m.save(out, [t, m.node("Softmax", [c], axis=1)])


def strided_1x1(out):
    # 1x1 convolutions with strides (ResNet's downsample shortcut) on odd sizes: the strided
    # cuBLASLt product, with a bias, without, with a residual and a ReLU fused.
    m = Model("strided_1x1", [2, 24, 15, 13])
    s1 = m.conv("X", 24, 40, k=1, stride=2, pads=[0, 0, 0, 0])
    y = m.node("Relu", [m.node("Add", [m.conv("X", 24, 40, stride=2), s1])])
    s2 = m.conv(y, 40, 16, k=1, stride=3, pads=[0, 0, 0, 0], bias=False)
    s3 = m.node("Relu", [m.node("Add", [m.conv(y, 40, 40, k=1, stride=2, pads=[0, 0, 0, 0]),
                                        m.conv(y, 40, 40, stride=2)])])
    m.save(out, [s2, s3])


def stem_c3(out):
    # ResNet's stem on odd sizes: 7x7/2 over 3 channels (cuda.cudnn.conv_padded in FP16/BF16:
    # the input padded to 4 channels), ReLU, 3x3/2 MaxPool, then a 3x3 over the 64 channels.
    m = Model("stem_c3", [2, 3, 45, 39])
    x = m.node("Relu", [m.conv("X", 3, 64, k=7, stride=2, pads=[3, 3, 3, 3])])
    x = m.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    m.save(out, [m.node("Relu", [m.conv(x, 64, 16)])])


def vit_patch(out):
    m = Model("vit_patch", [2, 3, 64, 64])
    x = m.conv("X", 3, 48, k=16, stride=16, pads=[0, 0, 0, 0])
    shape = m.tmp("shape")
    m.inits.append(numpy_helper.from_array(np.array([2, 48, 16], np.int64), shape))
    x = m.node("Transpose", [m.node("Reshape", [x, shape])], perm=[0, 2, 1])
    m.save(out, [m.node("MatMul", [x, m.weight([48, 32])])])


if __name__ == "__main__":
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for make in (resnet_block, mobilenet_block, depthwise_forms, se_block, pools_and_dilation, mixed_regions, strided_1x1,
                 stem_c3, vit_patch):
        make(out_dir)
        print("wrote", make.__name__)
