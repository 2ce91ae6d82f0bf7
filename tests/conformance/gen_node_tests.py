"""Writes the ONNX backend node tests of the pinned onnx package into a folder, one folder per
test in the usual layout (model.onnx, test_data_set_N/{input,output}_K.pb), serialized the way
onnx's own backend-test-tools does, plus tolerance.json with the test's rtol/atol.
Usage: gen_node_tests.py OUT_DIR"""
import json
import os
import sys
import warnings

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper
from onnx.backend.test.case import node as node_cases


def serialize(value, value_info):
    kind = value_info.type.WhichOneof("value")
    if kind == "sequence_type":
        return numpy_helper.from_list(value, value_info.name)
    if kind == "optional_type":
        return numpy_helper.from_optional(value, value_info.name)
    if kind == "map_type":
        return numpy_helper.from_dict(value, value_info.name)
    if isinstance(value, TensorProto):
        return value
    return numpy_helper.from_array(value, value_info.name)


def write_case(case, out_dir):
    case_dir = os.path.join(out_dir, case.name)
    os.makedirs(case_dir, exist_ok=True)
    with open(os.path.join(case_dir, "model.onnx"), "wb") as f:
        f.write(case.model.SerializeToString())
    graph = case.model.graph
    for i, (inputs, outputs) in enumerate(case.data_sets):
        set_dir = os.path.join(case_dir, f"test_data_set_{i}")
        os.makedirs(set_dir, exist_ok=True)
        for prefix, values, infos in (("input", inputs, graph.input), ("output", outputs, graph.output)):
            for k, value in enumerate(values):
                with open(os.path.join(set_dir, f"{prefix}_{k}.pb"), "wb") as f:
                    f.write(serialize(value, infos[k]).SerializeToString())
    with open(os.path.join(case_dir, "tolerance.json"), "w") as f:
        json.dump({"rtol": float(case.rtol), "atol": float(case.atol)}, f)


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    warnings.simplefilter("ignore")
    np.seterr(all="ignore")
    written, failed = 0, 0
    for case in node_cases.collect_testcases():
        try:
            write_case(case, out_dir)
            written += 1
        except Exception as e:  # noqa: BLE001 - the runner then reports the test's missing data
            print(f"gen_node_tests: {case.name}: {e}", file=sys.stderr)
            failed += 1
    print(f"gen_node_tests: wrote {written} node tests of onnx {onnx.__version__} to {out_dir}"
          f" ({failed} could not be written)")


if __name__ == "__main__":
    main()
