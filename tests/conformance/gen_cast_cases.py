# Cast/CastLike cases for every dtype pair (saturate, round_mode variants), expected outputs from
# onnx.reference, compared exactly (tolerance.json 0/0). Complements the node tests, which cover
# few pairs and no out-of-range, NaN or string values. Usage:
#   .venv/bin/python tests/conformance/gen_cast_cases.py build/cast-cases
#   ./build/kiln conformance --data-dir build/cast-cases
import os, sys, itertools, numpy as np, onnx, ml_dtypes
from onnx import helper, numpy_helper, TensorProto as TP
from onnx.reference import ReferenceEvaluator
out = sys.argv[1]
rng = np.random.default_rng(0)
F = [TP.FLOAT, TP.DOUBLE, TP.FLOAT16, TP.BFLOAT16]
F8 = [TP.FLOAT8E4M3FN, TP.FLOAT8E4M3FNUZ, TP.FLOAT8E5M2, TP.FLOAT8E5M2FNUZ]
SUB = [TP.FLOAT4E2M1, TP.FLOAT8E8M0]
I = [TP.INT8, TP.INT16, TP.INT32, TP.INT64, TP.UINT8, TP.UINT16, TP.UINT32, TP.UINT64]
SI = [TP.INT4, TP.UINT4, TP.INT2, TP.UINT2]
ALL = F + F8 + SUB + I + SI + [TP.BOOL, TP.STRING]
special = np.array([0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.5, -2.5, 3.0, 100.0, -100.0, 255.0, 300.0, 65504.0, 65520.0, 1e5,
                    448.0, 464.0, 480.0, 57344.0, 61440.0, 1e-3, 1e-6, 1e-8, 1.0/3, np.pi, -np.e, 6.0, 7.0, 0.25, 0.75,
                    1.0 + 2.0**-11 + 2.0**-40, 2.0**-126, 2.0**-130, 1e30, -1e30, 240.0, 248.0, 256.0, 0.0625, 0.09375])
def values(frm):
    if frm in F + F8 + SUB:
        v = np.concatenate([special, -special, rng.normal(0, 50, 60), rng.normal(0, 1, 30), [np.nan, np.inf, -np.inf]])
        if frm == TP.FLOAT8E8M0: v = np.abs(v)
        return v
    if frm in I:
        info = np.iinfo(helper.tensor_dtype_to_np_dtype(frm))
        return np.concatenate([[info.min, info.max, 0, 1, -1 if info.min < 0 else 2, 5, 127, 128, 255, 256, -129],
                               rng.integers(max(info.min, -1000), min(info.max, 1000), 30)])
    if frm in SI: return np.arange(-4, 8)
    if frm == TP.BOOL: return np.array([0, 1, 1, 0])
    return None
count = 0
def write(name, frm, to, attrs, x, y, like=False):
    global count
    d = os.path.join(out, name); os.makedirs(d + "/test_data_set_0", exist_ok=True)
    ins = [helper.make_tensor_value_info("x", frm, x.shape)]
    if like: ins.append(helper.make_tensor_value_info("like", to, [1]))
    node = helper.make_node("CastLike" if like else "Cast", ["x"] + (["like"] if like else []), ["y"], **attrs)
    g = helper.make_graph([node], "g", ins, [helper.make_tensor_value_info("y", to, x.shape)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 25)]); m.ir_version = 11
    onnx.save(m, d + "/model.onnx")
    tensors = [x]
    if like: tensors.append(np.zeros([1], dtype=helper.tensor_dtype_to_np_dtype(to)) if to != TP.STRING else np.array([""], dtype=object))
    try:
        feeds = {n: t for n, t in zip(["x", "like"], tensors)}
        res = ReferenceEvaluator(m).run(None, feeds)[0]
    except Exception as e:
        import shutil; shutil.rmtree(d); return
    for i, t in enumerate(tensors):
        p = numpy_helper.from_array(t if t.dtype != np.str_ else t.astype(object)); 
        open(f"{d}/test_data_set_0/input_{i}.pb", "wb").write(p.SerializeToString())
    if res.dtype.kind == 'U': res = res.astype(object)
    p = numpy_helper.from_array(res) if res.dtype != object else helper.make_tensor("y", TP.STRING, res.shape, [s.encode() for s in res.ravel()])
    open(f"{d}/test_data_set_0/output_0.pb", "wb").write(p.SerializeToString())
    open(f"{d}/tolerance.json", "w").write("{\"rtol\": 0, \"atol\": 0}")
    count += 1
import warnings; warnings.simplefilter("ignore")
for frm in ALL:
    base = values(frm)
    if frm == TP.STRING:
        src = np.array(["1.5", "-2", "INF", "-inf", "NaN", "1e5", "0.1", "100", "-0.0", "3.25e-3"], dtype=object)
    else:
        npd = helper.tensor_dtype_to_np_dtype(frm)
        src = base.astype(np.float64)
        if frm in I + SI: src = base.astype(np.int64)
        src = src.astype(npd) if frm not in SI else np.array(src, dtype=npd)
    for to in ALL:
        if to == frm: continue
        if frm == TP.STRING and to not in F + I + [TP.BOOL]: continue
        nm = lambda t: TP.DataType.Name(t)
        for sat in ([1, 0] if to in F8 + [TP.FLOAT8E8M0] else [1]):
            modes = ["up", "down", "nearest"] if to == TP.FLOAT8E8M0 else [None]
            for mode in modes:
                attrs = {"to": to, "saturate": sat}
                if mode: attrs["round_mode"] = mode
                tag = f"cast_{nm(frm)}_to_{nm(to)}_s{sat}" + (f"_{mode}" if mode else "")
                write("test_" + tag, frm, to, attrs, src, None)
        if to != TP.STRING and frm != TP.STRING:
            write(f"test_castlike_{nm(frm)}_to_{nm(to)}", frm, to, {}, src, None, like=True)
print(count, "cases")
