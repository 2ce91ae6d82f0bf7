"""Writes the good and bad models and .npy files that test_cli_errors.sh feeds to the CLI."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

work = sys.argv[1]
os.makedirs(os.path.join(work, "model"), exist_ok=True)


def vi(name, dims, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, dims)


def model(nodes, inputs=None, outputs=None, inits=(), opset=13):
    g = helper.make_graph(nodes, "g", inputs if inputs is not None else [vi("X", [2, 3])],
                          outputs if outputs is not None else [vi("Y", [2, 3])], initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def save(m, name, folder=work):
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    return path


good = model([helper.make_node("Identity", ["X"], ["Y"])])
save(good, "good.onnx")
data = good.SerializeToString()
with open(os.path.join(work, "truncated.onnx"), "wb") as f:
    f.write(data[:len(data) - 3])
for i, pos in enumerate([2, len(data) // 2, len(data) - 5]):
    flipped = bytearray(data)
    flipped[pos] ^= 0x5A
    with open(os.path.join(work, f"flipped{i}.onnx"), "wb") as f:
        f.write(bytes(flipped))

save(model([helper.make_node("Add", ["X", "c"], ["a"]), helper.make_node("Identity", ["a"], ["c"]),
            helper.make_node("Identity", ["a"], ["Y"])]), "cycle.onnx")
save(model([helper.make_node("Add", ["X", "ghost"], ["Y"])]), "dangling.onnx")
save(model([helper.make_node("Identity", ["X"], ["Y"])], outputs=[vi("Y", [2, 3]), vi("Z", [2, 3])]),
     "no_producer.onnx")


def raw_init(dims, nbytes):
    t = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=dims)
    t.raw_data = b"\0" * nbytes
    return t


ident = [helper.make_node("Identity", ["X"], ["Y"])]
save(model(ident, inits=[raw_init([2, -3], 0)]), "init_negative.onnx")
save(model(ident, inits=[raw_init([1 << 40, 1 << 40], 0)]), "init_overflow.onnx")
save(model(ident, inits=[raw_init([1 << 31], 16)]), "init_huge.onnx")
typed = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[1 << 31])
typed.float_data.extend([1.0, 2.0])
save(model(ident, inits=[typed]), "init_huge_typed.onnx")
save(model(ident, inputs=[vi("X", [2, -5])], outputs=[vi("Y", None)]), "input_negative.onnx")
save(model(ident, inputs=[vi("X", [1 << 40, 1 << 40])], outputs=[vi("Y", None)]), "input_overflow.onnx")
save(model(ident, opset=1000), "opset_new.onnx")

# External data: model/ holds the model and weights.bin; secret.bin sits outside.
with open(os.path.join(work, "model", "weights.bin"), "wb") as f:
    f.write(b"\1" * 24)
with open(os.path.join(work, "secret.bin"), "wb") as f:
    f.write(b"\2" * 24)
link = os.path.join(work, "model", "link.bin")
if not os.path.lexists(link):
    os.symlink(os.path.join(work, "secret.bin"), link)


def external(name, location, offset=None, length=None):
    t = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[6])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    save(model(ident, inits=[t]), name, os.path.join(work, "model"))


external("ext_ok.onnx", "weights.bin")
external("ext_absolute.onnx", os.path.join(work, "secret.bin"))
external("ext_dotdot.onnx", "../secret.bin")
external("ext_symlink.onnx", "link.bin")
external("ext_offset.onnx", "weights.bin", offset=100)
external("ext_length.onnx", "weights.bin", offset=8, length=24)

np.save(os.path.join(work, "x_ok.npy"), np.ones((2, 3), np.float32))
np.save(os.path.join(work, "x_int.npy"), np.ones((2, 3), np.int64))
np.save(os.path.join(work, "x_shape.npy"), np.ones((3, 2), np.float32))
ok = open(os.path.join(work, "x_ok.npy"), "rb").read()
with open(os.path.join(work, "x_truncated.npy"), "wb") as f:
    f.write(ok[:-5])
with open(os.path.join(work, "x_magic.npy"), "wb") as f:
    f.write(b"NOTNUMPY" + ok[8:])


def npy(name, header, payload):
    header = header + " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(os.path.join(work, name), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + payload)


npy("x_header.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", b"\0" * 24)
npy("x_huge.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 9), }", b"\0" * 24)
