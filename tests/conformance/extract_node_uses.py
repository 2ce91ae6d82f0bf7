"""Writes every use of the given ops inside the multi-node node tests (the _expanded variants,
mostly) as a single-node test, with inputs and expected outputs taken from onnx's reference
evaluator run with intermediate results. This checks an op in the configurations the expanded
tests use before the other ops of those graphs exist.
Usage: extract_node_uses.py NODE_TEST_DIR OUT_DIR OpType [OpType ...]
  then: kiln conformance --data-dir OUT_DIR"""
import os, sys, json, shutil, warnings
import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator
warnings.simplefilter("ignore"); np.seterr(all="ignore")
MINE = set(sys.argv[3:])
SRC, OUT = sys.argv[1], sys.argv[2]
shutil.rmtree(OUT, ignore_errors=True); os.makedirs(OUT)
n_written = 0; errs = 0
for t in sorted(os.listdir(SRC)):
    d = os.path.join(SRC, t)
    if not os.path.isfile(os.path.join(d, "model.onnx")): continue
    m = onnx.load(os.path.join(d, "model.onnx"))
    nodes = [n for n in m.graph.node if n.op_type in MINE and n.domain in ("", "ai.onnx")]
    if not nodes or len(m.graph.node) == 1: continue
    try:
        ds = os.path.join(d, "test_data_set_0")
        feeds = {}
        for i, inp in enumerate([x for x in m.graph.input if x.name not in {init.name for init in m.graph.initializer}]):
            tp = onnx.TensorProto(); tp.ParseFromString(open(os.path.join(ds, f"input_{i}.pb"), "rb").read())
            feeds[inp.name] = numpy_helper.to_array(tp)
        ref = ReferenceEvaluator(m)
        inter = ref.run(None, feeds, intermediate=True)
    except Exception as e:
        errs += 1; print("skip", t, str(e)[:80]); continue
    vals = dict(inter); vals.update(feeds)
    for init in m.graph.initializer: vals[init.name] = numpy_helper.to_array(init)
    for k, n in enumerate(nodes):
        if any(i and i not in vals for i in n.input) or any(o not in vals for o in n.output if o):
            print("missing", t, n.op_type); continue
        ins = [(i, np.asarray(vals[i])) for i in n.input if i]
        name = f"{t}__{k}_{n.op_type}"
        g_in = [helper.make_tensor_value_info(i, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for i, a in ins]
        outs = [o for o in n.output if o]
        g_out = [helper.make_tensor_value_info(o, helper.np_dtype_to_tensor_dtype(np.asarray(vals[o]).dtype), np.asarray(vals[o]).shape) for o in outs]
        nn = onnx.NodeProto(); nn.CopyFrom(n)
        # drop ins that are empty names but keep positions
        model = helper.make_model(helper.make_graph([nn], name, g_in, g_out), opset_imports=m.opset_import)
        model.ir_version = m.ir_version
        od = os.path.join(OUT, name); os.makedirs(os.path.join(od, "test_data_set_0"))
        open(os.path.join(od, "model.onnx"), "wb").write(model.SerializeToString())
        for j, (i, a) in enumerate(ins):
            open(os.path.join(od, "test_data_set_0", f"input_{j}.pb"), "wb").write(numpy_helper.from_array(a, i).SerializeToString())
        for j, o in enumerate(outs):
            open(os.path.join(od, "test_data_set_0", f"output_{j}.pb"), "wb").write(numpy_helper.from_array(np.asarray(vals[o]), o).SerializeToString())
        tol = os.path.join(d, "tolerance.json")
        if os.path.exists(tol): shutil.copy(tol, os.path.join(od, "tolerance.json"))
        n_written += 1
print("written", n_written, "errors", errs)
