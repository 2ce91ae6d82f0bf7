# Elementwise ops for every dtype their schema allows (broadcasting, attribute variants), expected
# outputs from onnx.reference. Usage:
#   .venv/bin/python tests/conformance/gen_elementwise_cases.py build/elementwise-cases
#   ./build/kiln conformance --data-dir build/elementwise-cases
import os, sys, numpy as np, onnx, ml_dtypes, warnings
from onnx import helper, numpy_helper, TensorProto as TP, defs
from onnx.reference import ReferenceEvaluator
warnings.simplefilter("ignore")
out = sys.argv[1]; rng = np.random.default_rng(1)
UN = "Abs Neg Sqrt Exp Log Reciprocal Ceil Floor Round Sign Sin Cos Tan Asin Acos Atan Sinh Cosh Asinh Acosh Atanh Erf IsNaN IsInf Not BitwiseNot Relu LeakyRelu Elu Selu Celu Sigmoid HardSigmoid HardSwish Softplus Softsign Tanh ThresholdedRelu Gelu Mish Swish Shrink Clip".split()
BIN = "Add Sub Mul Div Pow Mod BitShift Max Min Sum Mean Equal Less Greater LessOrEqual GreaterOrEqual And Or Xor BitwiseAnd BitwiseOr BitwiseXor PRelu".split()
ATTRS = {"Mod": [{"fmod": 0}, {"fmod": 1}], "BitShift": [{"direction": "LEFT"}, {"direction": "RIGHT"}],
         "Gelu": [{"approximate": "none"}, {"approximate": "tanh"}], "IsInf": [{}, {"detect_positive": 0}],
         "LeakyRelu": [{"alpha": 0.3}], "Shrink": [{"lambd": 1.5, "bias": 0.5}], "Swish": [{"alpha": 0.7}]}
OPSET = 28
def tname(s): return s[len("tensor("):-1]
M = {"float": TP.FLOAT, "double": TP.DOUBLE, "float16": TP.FLOAT16, "bfloat16": TP.BFLOAT16, "int8": TP.INT8, "int16": TP.INT16,
     "int32": TP.INT32, "int64": TP.INT64, "uint8": TP.UINT8, "uint16": TP.UINT16, "uint32": TP.UINT32, "uint64": TP.UINT64,
     "bool": TP.BOOL, "string": TP.STRING}
def data(tp, shape, op, which):
    npd = helper.tensor_dtype_to_np_dtype(tp)
    if tp == TP.BOOL: return rng.integers(0, 2, shape).astype(bool)
    if tp == TP.STRING: return rng.choice(np.array(["a", "b", "cc"], dtype=object), shape)
    if np.issubdtype(npd, np.integer):
        info = np.iinfo(npd)
        if op == "BitShift" and which == 1: return rng.integers(0, info.bits + 2 if OPSET >= 28 else info.bits, shape).astype(npd)
        if op == "Pow" and which == 1: return rng.integers(0, 4, shape).astype(npd)
        lo, hi = max(info.min, -50), min(info.max, 50)
        v = rng.integers(lo, hi, shape).astype(npd)
        if op in ("Mod", "Div") and which == 1: v[v == 0] = 3
        return v
    v = rng.normal(0, 2, shape)
    if op in ("Acos", "Asin", "Atanh"): v = rng.uniform(-0.99, 0.99, shape)
    if op == "Acosh": v = rng.uniform(1, 5, shape)
    if op in ("Sqrt", "Log") or (op == "Pow" and which == 0): v = np.abs(v) + 0.1
    if op in ("IsNaN", "IsInf"): v.ravel()[:3] = [np.nan, np.inf, -np.inf]
    if op == "Mod" and which == 1: v = np.where(np.abs(v) < 0.3, 1.0, v)
    return v.astype(npd)
count = 0
def write(name, node, ins, out_tp, opset):
    global count
    m = helper.make_model(helper.make_graph([node], "g",
        [helper.make_tensor_value_info(f"x{i}", tp, s) for i, (tp, s, _) in enumerate(ins)],
        [helper.make_tensor_value_info("y", out_tp, None)]), opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 11
    try:
        feeds = {f"x{i}": v for i, (_, _, v) in enumerate(ins)}
        res = ReferenceEvaluator(m).run(None, feeds)[0]
    except Exception as e:
        print("skip", name, str(e)[:80]); return
    d = os.path.join(out, name); os.makedirs(d + "/test_data_set_0", exist_ok=True)
    onnx.save(m, d + "/model.onnx")
    for i, (tp, s, v) in enumerate(ins):
        t = numpy_helper.from_array(v) if tp != TP.STRING else helper.make_tensor("x", TP.STRING, v.shape, [x.encode() for x in v.ravel()])
        open(f"{d}/test_data_set_0/input_{i}.pb", "wb").write(t.SerializeToString())
    res = np.asarray(res)
    open(f"{d}/test_data_set_0/output_0.pb", "wb").write(numpy_helper.from_array(res).SerializeToString())
    if out_tp in (TP.FLOAT16, TP.BFLOAT16): open(f"{d}/tolerance.json", "w").write('{"rtol": 0.02, "atol": 0.01}')
    count += 1
for op in UN + BIN + ["Where"]:
    sch = defs.get_schema(op, OPSET)
    tc = {t.type_param_str: [tname(x) for x in t.allowed_type_strs] for t in sch.type_constraints}
    T = tc.get("T", tc.get("T1"))
    for a_i, attrs in enumerate(ATTRS.get(op, [{}])):
        for ty in T:
            if ty not in M: continue
            tp = M[ty]
            if op == "Where":
                ins = [(TP.BOOL, [3, 1, 4], data(TP.BOOL, [3, 1, 4], op, 0)), (tp, [2, 1], data(tp, [2, 1], op, 1)), (tp, [4], data(tp, [4], op, 2))]
                out_tp = tp
            elif op in BIN:
                t2 = tp
                if op == "Pow":  # mixed exponent dtypes
                    for ety in ["int64", "float", "int32"] if ty != "float" else ["float", "int64", "double"]:
                        e = M[ety]
                        ins = [(tp, [3, 4], data(tp, [3, 4], op, 0)), (e, [4], data(e, [4], op, 1))]
                        node = helper.make_node(op, ["x0", "x1"], ["y"])
                        write(f"test_{op}_{ty}_{ety}", node, ins, tp, OPSET)
                    continue
                ins = [(tp, [3, 4], data(tp, [3, 4], op, 0)), (t2, [4] if op != "PRelu" else [4], data(t2, [4], op, 1))]
                if op in ("Max", "Min", "Sum", "Mean"): ins.append((tp, [3, 1], data(tp, [3, 1], op, 2)))
                out_tp = TP.BOOL if op in ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor") else tp
            else:
                ins = [(tp, [3, 4], data(tp, [3, 4], op, 0))]
                if op == "Clip":
                    lo = data(tp, [], op, 1); hi = (lo + np.array(3).astype(lo.dtype)).astype(lo.dtype)
                    ins += [(tp, [], lo), (tp, [], hi)]
                out_tp = TP.BOOL if op in ("IsNaN", "IsInf", "Not") else tp
            node = helper.make_node(op, [f"x{i}" for i in range(len(ins))], ["y"], **attrs)
            write(f"test_{op}_{a_i}_{ty}", node, ins, out_tp, OPSET)
print(count)
